//! Commits: the atomic batch of operations a client sends, the stale and
//! busy policies of each write, and the receipt the server answers with.

use serde::{Deserialize, Serialize};

use super::JsonObject;
use crate::types::{Json, SyncId};

/// What a write does when the row changed after the stamp it read at
/// (`readAt`). Without `readAt` a write is last-writer-wins and this is
/// ignored; with `readAt` and no policy, `reject` applies.
///
/// ```
/// use ablo_runtime::wire::OnStale;
/// assert_eq!(serde_json::to_string(&OnStale::Merge).unwrap(), "\"merge\"");
/// assert_eq!(OnStale::default(), OnStale::Reject);
/// ```
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum OnStale {
    /// Fail with `stale_context` (409) if the row changed after `readAt`.
    #[default]
    Reject,
    /// Fail only if a field this write sets changed after `readAt`.
    Merge,
    /// Accept, and mark the commit `flagged`.
    Flag,
    /// Accept.
    Force,
}

/// What a write does when another participant holds an intent on its target
/// (`ignore`, `fail`, `wait`), or what a read reports (`return`).
///
/// ```
/// use ablo_runtime::wire::IfBusy;
/// assert_eq!(serde_json::to_string(&IfBusy::Fail).unwrap(), "\"fail\"");
/// ```
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum IfBusy {
    /// Write anyway (the default).
    #[default]
    Ignore,
    /// Fail with `busy` (409) and the intents attached.
    Fail,
    /// Wait until the intents clear, then write with the usual stale check.
    Wait,
    /// For reads: include the active intents in the response.
    Return,
}

/// The kind of one operation of a commit.
///
/// ```
/// use ablo_runtime::wire::OperationType;
/// assert_eq!(serde_json::to_string(&OperationType::Create).unwrap(), "\"create\"");
/// ```
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum OperationType {
    /// Insert a new row (`id` optional: the server generates one).
    Create,
    /// Change some fields of an existing row.
    Update,
    /// Remove a row.
    Delete,
}

/// One operation of a [`CommitRequest`].
///
/// ```
/// use ablo_runtime::wire::{Operation, OperationType};
/// let op: Operation = serde_json::from_str(
///     r#"{"type": "create", "model": "tasks", "data": {"title": "Plan"}}"#).unwrap();
/// assert_eq!(op.kind, OperationType::Create);
/// assert!(op.id.is_none());
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Operation {
    /// `create`, `update` or `delete`.
    #[serde(rename = "type")]
    pub kind: OperationType,
    /// The model's wire name, for example `tasks`.
    pub model: String,
    /// The row's id: required for `update` and `delete`, optional for
    /// `create`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Fields to write: every required field for `create`, some fields for
    /// `update`, absent for `delete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<JsonObject>,
    /// The stamp the writer read the row at; enables the stale check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<SyncId>,
    /// What to do if the row changed after `read_at` (default `reject`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_stale: Option<OnStale>,
    /// What to do when another participant holds an intent on the row
    /// (default `ignore`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_busy: Option<IfBusy>,
    /// The intent or claim this write is made under: the write fails unless
    /// it is still active and held by the writer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_id: Option<String>,
}

impl Operation {
    /// A `create` of a row of `model` with `data` (an object) and a
    /// server-generated id.
    ///
    /// ```
    /// use ablo_runtime::wire::Operation;
    /// let op = Operation::create("tasks", serde_json::json!({"title": "Plan"})).with_id("t1");
    /// assert_eq!(op.id.as_deref(), Some("t1"));
    /// ```
    pub fn create(model: impl Into<String>, data: Json) -> Self {
        Operation {
            kind: OperationType::Create,
            model: model.into(),
            id: None,
            data: Some(into_object(data)),
            read_at: None,
            on_stale: None,
            if_busy: None,
            intent_id: None,
        }
    }

    /// An `update` of row `id` of `model` setting the fields of `data`.
    ///
    /// ```
    /// use ablo_runtime::wire::Operation;
    /// let op = Operation::update("tasks", "t1", serde_json::json!({"status": "done"}));
    /// assert_eq!(op.data.unwrap()["status"], "done");
    /// ```
    pub fn update(model: impl Into<String>, id: impl Into<String>, data: Json) -> Self {
        Operation {
            kind: OperationType::Update,
            model: model.into(),
            id: Some(id.into()),
            data: Some(into_object(data)),
            read_at: None,
            on_stale: None,
            if_busy: None,
            intent_id: None,
        }
    }

    /// A `delete` of row `id` of `model`.
    ///
    /// ```
    /// use ablo_runtime::wire::Operation;
    /// let op = Operation::delete("tasks", "t1");
    /// assert!(op.data.is_none());
    /// ```
    pub fn delete(model: impl Into<String>, id: impl Into<String>) -> Self {
        Operation {
            kind: OperationType::Delete,
            model: model.into(),
            id: Some(id.into()),
            data: None,
            read_at: None,
            on_stale: None,
            if_busy: None,
            intent_id: None,
        }
    }

    /// Sets the row id (for `create`).
    ///
    /// ```
    /// # use ablo_runtime::wire::Operation;
    /// let op = Operation::create("tasks", serde_json::json!({})).with_id("t9");
    /// assert_eq!(op.id.unwrap(), "t9");
    /// ```
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the stamp the row was read at.
    ///
    /// ```
    /// # use ablo_runtime::{wire::Operation, SyncId};
    /// let op = Operation::delete("tasks", "t1").read_at(SyncId(3));
    /// assert_eq!(op.read_at, Some(SyncId(3)));
    /// ```
    pub fn read_at(mut self, stamp: SyncId) -> Self {
        self.read_at = Some(stamp);
        self
    }

    /// Sets the stale policy.
    ///
    /// ```
    /// # use ablo_runtime::wire::{Operation, OnStale};
    /// let op = Operation::delete("tasks", "t1").on_stale(OnStale::Force);
    /// assert_eq!(op.on_stale, Some(OnStale::Force));
    /// ```
    pub fn on_stale(mut self, policy: OnStale) -> Self {
        self.on_stale = Some(policy);
        self
    }
}

/// Turns a JSON value into an object; a non-object becomes the object
/// `{"value": v}`, which the server then rejects as an unknown field, so a
/// mistake is reported instead of silently dropped.
fn into_object(data: Json) -> JsonObject {
    match data {
        Json::Object(map) => map,
        other => {
            let mut map = JsonObject::new();
            map.insert("value".to_owned(), other);
            map
        }
    }
}

/// `POST /v1/commits`: an atomic batch of operations. Every operation applies
/// or none does.
///
/// ```
/// use ablo_runtime::wire::{CommitRequest, Operation};
/// let req = CommitRequest::new(vec![Operation::delete("tasks", "t1")]).client_tx_id("tx_1");
/// let json = serde_json::to_string(&req).unwrap();
/// assert_eq!(json, r#"{"clientTxId":"tx_1","operations":[{"type":"delete","model":"tasks","id":"t1"}]}"#);
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommitRequest {
    /// The client's id for this commit, its idempotency key. The server
    /// generates one when absent (and then the commit is not idempotent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_tx_id: Option<String>,
    /// The operations, applied in order.
    pub operations: Vec<Operation>,
    /// The agent run (task) this commit belongs to, for the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caused_by_task_id: Option<String>,
}

impl CommitRequest {
    /// A commit of `operations` without a client transaction id.
    ///
    /// ```
    /// use ablo_runtime::wire::CommitRequest;
    /// assert!(CommitRequest::new(vec![]).client_tx_id.is_none());
    /// ```
    pub fn new(operations: Vec<Operation>) -> Self {
        CommitRequest {
            client_tx_id: None,
            operations,
            caused_by_task_id: None,
        }
    }

    /// Sets the client transaction id.
    ///
    /// ```
    /// use ablo_runtime::wire::CommitRequest;
    /// let req = CommitRequest::new(vec![]).client_tx_id("tx_9");
    /// assert_eq!(req.client_tx_id.as_deref(), Some("tx_9"));
    /// ```
    pub fn client_tx_id(mut self, id: impl Into<String>) -> Self {
        self.client_tx_id = Some(id.into());
        self
    }
}

/// The state of an accepted commit.
///
/// ```
/// use ablo_runtime::wire::CommitStatus;
/// assert_eq!(serde_json::to_string(&CommitStatus::Confirmed).unwrap(), "\"confirmed\"");
/// ```
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum CommitStatus {
    /// Durably stored, stamped and logged.
    Confirmed,
}

/// The answer to an accepted commit. A replay of the same `clientTxId` with
/// the same body returns the same receipt.
///
/// ```
/// use ablo_runtime::wire::{CommitReceipt, CommitStatus};
/// use ablo_runtime::SyncId;
/// let json = r#"{"object":"commit_receipt","clientTxId":"tx_1","syncId":7,
///                "status":"confirmed","rows":[{"id":"t1","stamp":7}],"flagged":false}"#;
/// let receipt: CommitReceipt = serde_json::from_str(json).unwrap();
/// assert_eq!(receipt.sync_id, SyncId(7));
/// assert_eq!(receipt.status, CommitStatus::Confirmed);
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CommitReceipt {
    /// Always [`COMMIT_RECEIPT_OBJECT`].
    pub object: String,
    /// The commit's client transaction id (given or generated).
    pub client_tx_id: String,
    /// The sync id the commit took; every row it wrote has this stamp.
    pub sync_id: SyncId,
    /// `confirmed`.
    pub status: CommitStatus,
    /// One entry per operation, in order: the row after the operation (for
    /// `delete`, the row as it was just before).
    pub rows: Vec<Json>,
    /// Whether a stale write was accepted under `onStale: flag`.
    pub flagged: bool,
}
