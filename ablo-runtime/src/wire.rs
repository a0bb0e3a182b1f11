//! The JSON wire contract between Ablo clients and the sync server (HTTP and
//! WebSocket, version 1, camelCase).
//!
//! Every type here serializes to exactly the shape `docs/protocol.md`
//! documents; the server produces and the client consumes them (and the
//! other way round for requests), so both sides share one definition.
//!
//! - commits: [`CommitRequest`], [`Operation`], [`OnStale`], [`CommitReceipt`];
//! - the sync log: [`Delta`], [`DeltasPage`];
//! - reads: [`ListResponse`], [`RetrieveResponse`];
//! - single-row writes: [`CreateRowRequest`], [`UpdateRowRequest`],
//!   [`DeleteResponse`];
//! - errors: [`ErrorEnvelope`], [`ErrorBody`], [`ErrorType`] and the [`codes`];
//! - WebSocket: [`ClientMessage`] and [`ServerMessage`].
//!
//! ```
//! use ablo_runtime::wire::{CommitRequest, Operation, OnStale};
//! use ablo_runtime::SyncId;
//! let request = CommitRequest::new(vec![
//!     Operation::update("tasks", "task_1", serde_json::json!({"status": "done"}))
//!         .read_at(SyncId(41))
//!         .on_stale(OnStale::Reject),
//! ]);
//! let json = serde_json::to_value(&request).unwrap();
//! assert_eq!(json["operations"][0]["type"], "update");
//! assert_eq!(json["operations"][0]["readAt"], 41);
//! assert_eq!(json["operations"][0]["onStale"], "reject");
//! ```

use serde::{Deserialize, Serialize};

use crate::types::{Json, SyncId, Timestamp};

/// The JSON object holding a row's fields (or a patch of some of them).
///
/// ```
/// let data: ablo_runtime::wire::JsonObject = serde_json::from_str(r#"{"title": "x"}"#).unwrap();
/// assert_eq!(data["title"], "x");
/// ```
pub type JsonObject = serde_json::Map<String, Json>;

/// The `object` value of a [`CommitReceipt`].
///
/// ```
/// assert_eq!(ablo_runtime::wire::COMMIT_RECEIPT_OBJECT, "commit_receipt");
/// ```
pub const COMMIT_RECEIPT_OBJECT: &str = "commit_receipt";

/// The HTTP header whose value, when present on a write, is used as its
/// `clientTxId`.
///
/// ```
/// assert_eq!(ablo_runtime::wire::IDEMPOTENCY_KEY_HEADER, "idempotency-key");
/// ```
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// The HTTP header carrying the id the server gave a request; the same id is
/// in every error body as `requestId`.
///
/// ```
/// assert_eq!(ablo_runtime::wire::REQUEST_ID_HEADER, "x-request-id");
/// ```
pub const REQUEST_ID_HEADER: &str = "x-request-id";

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

/// What a row change did, in a [`Delta`].
///
/// ```
/// use ablo_runtime::wire::DeltaAction;
/// assert_eq!(serde_json::to_string(&DeltaAction::Insert).unwrap(), "\"insert\"");
/// ```
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum DeltaAction {
    /// The row was created.
    Insert,
    /// Some fields changed.
    Update,
    /// The row was removed.
    Delete,
}

/// The kind of participant a request acts as, taken from its credential.
///
/// ```
/// use ablo_runtime::wire::ParticipantKind;
/// assert_eq!(serde_json::to_string(&ParticipantKind::Agent).unwrap(), "\"agent\"");
/// ```
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum ParticipantKind {
    /// A person, through a user-facing app.
    User,
    /// An AI agent acting through a capability.
    Agent,
    /// A backend service holding an API key.
    System,
}

/// Who made a change: `{kind, id}`.
///
/// ```
/// use ablo_runtime::wire::{Actor, ParticipantKind};
/// let actor = Actor { kind: ParticipantKind::System, id: "key_1".into() };
/// assert_eq!(serde_json::to_value(&actor).unwrap(), serde_json::json!({"kind": "system", "id": "key_1"}));
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Actor {
    /// `user`, `agent` or `system`.
    pub kind: ParticipantKind,
    /// The participant's id (for an API key, the key's id, never the key).
    pub id: String,
}

/// One entry of the sync log: one changed row of one commit.
///
/// Deltas are delivered in sync-id order; a commit that writes several rows
/// produces several deltas with the same `syncId`, in operation order.
///
/// ```
/// use ablo_runtime::wire::{Delta, DeltaAction};
/// let json = r#"{"syncId":9,"model":"tasks","id":"t1","action":"update",
///   "data":{"id":"t1","stamp":9,"status":"done"},"changedFields":["status"],
///   "clientTxId":"tx_1","actor":{"kind":"system","id":"key_1"},
///   "syncGroups":["default"],"flagged":false}"#;
/// let delta: Delta = serde_json::from_str(json).unwrap();
/// assert_eq!(delta.action, DeltaAction::Update);
/// assert_eq!(delta.changed_fields, vec!["status".to_string()]);
/// assert!(delta.left_sync_groups.is_empty());
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Delta {
    /// The sync id of the commit.
    pub sync_id: SyncId,
    /// The model's wire name.
    pub model: String,
    /// The row's id.
    pub id: String,
    /// `insert`, `update` or `delete`.
    pub action: DeltaAction,
    /// The row after the change (flat JSON); `null` for `delete`.
    pub data: Json,
    /// Wire names of the fields this change set (every field for `insert`,
    /// none for `delete`).
    pub changed_fields: Vec<String>,
    /// The commit's client transaction id.
    pub client_tx_id: String,
    /// Who made the change.
    pub actor: Actor,
    /// The row's sync groups after the change (before it, for `delete`).
    pub sync_groups: Vec<String>,
    /// Groups the row belonged to before this change and no longer does:
    /// their subscribers should drop the row.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_sync_groups: Vec<String>,
    /// Whether the commit was accepted stale under `onStale: flag`.
    pub flagged: bool,
}

/// `GET /v1/sync/deltas?after=N&limit=M`: one page of the sync log.
///
/// ```
/// use ablo_runtime::wire::DeltasPage;
/// use ablo_runtime::SyncId;
/// let page: DeltasPage = serde_json::from_str(
///     r#"{"data":[],"stamp":12,"nextAfter":12,"hasMore":false}"#).unwrap();
/// assert_eq!(page.next_after, SyncId(12));
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeltasPage {
    /// Deltas with `syncId > after`, in order. A page never splits a commit.
    pub data: Vec<Delta>,
    /// The newest sync id of the project when the page was read.
    pub stamp: SyncId,
    /// The `after` to ask for next: the last sync id in `data`, or `after`
    /// itself when `data` is empty.
    pub next_after: SyncId,
    /// Whether more deltas follow `nextAfter` right now.
    pub has_more: bool,
}

/// A participant as intents and presence name it: `{id, kind}`.
///
/// ```
/// use ablo_runtime::wire::{Participant, ParticipantKind};
/// let p = Participant { id: "agent_7".into(), kind: ParticipantKind::Agent };
/// assert_eq!(serde_json::to_value(&p).unwrap()["kind"], "agent");
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Participant {
    /// The participant's id.
    pub id: String,
    /// `user`, `agent` or `system`.
    pub kind: ParticipantKind,
}

/// What an intent or a presence entry points at: a row, or one of its fields.
///
/// ```
/// use ablo_runtime::wire::Target;
/// let t: Target = serde_json::from_str(r#"{"model":"tasks","id":"t1"}"#).unwrap();
/// assert!(t.field.is_none());
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    /// The model's wire name.
    pub model: String,
    /// The row's id.
    pub id: String,
    /// A field's wire name, when the target is one field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A live, visible signal that a participant works on a target.
///
/// ```
/// use ablo_runtime::wire::Intent;
/// let json = r#"{"id":"int_1","participant":{"id":"a1","kind":"agent"},
///   "target":{"model":"tasks","id":"t1","field":"status"},"action":"editing",
///   "exclusive":false,"createdAt":"2026-01-01T00:00:00.000Z",
///   "expiresAt":"2026-01-01T00:00:30.000Z"}"#;
/// let intent: Intent = serde_json::from_str(json).unwrap();
/// assert_eq!(intent.target.field.as_deref(), Some("status"));
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Intent {
    /// The intent's id.
    pub id: String,
    /// Who holds it.
    pub participant: Participant,
    /// What it covers.
    pub target: Target,
    /// A short verb chosen by the holder, for example `editing`.
    pub action: String,
    /// Whether it is a claim (one holder per target).
    #[serde(default)]
    pub exclusive: bool,
    /// When it was taken.
    pub created_at: Timestamp,
    /// When it lapses unless heartbeated.
    pub expires_at: Timestamp,
}

/// `GET /v1/models/{model}`: a page of rows.
///
/// ```
/// use ablo_runtime::wire::ListResponse;
/// let page: ListResponse = serde_json::from_str(
///     r#"{"data":[{"id":"t1","stamp":3}],"stamp":5,"nextCursor":null}"#).unwrap();
/// assert_eq!(page.data.len(), 1);
/// assert!(page.next_cursor.is_none());
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse {
    /// Rows, flat JSON objects.
    pub data: Vec<Json>,
    /// The project's newest sync id at the time of the read: every row in
    /// `data` is as of this stamp, so it is a valid `readAt` for any of them.
    pub stamp: SyncId,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /v1/models/{model}/{id}`: one row.
///
/// ```
/// use ablo_runtime::wire::RetrieveResponse;
/// let r: RetrieveResponse = serde_json::from_str(
///     r#"{"data":{"id":"t1","stamp":3},"stamp":5,"intents":[]}"#).unwrap();
/// assert_eq!(r.data["stamp"], 3);
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RetrieveResponse {
    /// The row, a flat JSON object.
    pub data: Json,
    /// The project's newest sync id at the time of the read (at least the
    /// row's own `stamp`): a valid `readAt` for a later write.
    pub stamp: SyncId,
    /// Active intents on the row.
    pub intents: Vec<Intent>,
}

/// `POST /v1/models/{model}`: create one row.
///
/// ```
/// use ablo_runtime::wire::CreateRowRequest;
/// let req: CreateRowRequest = serde_json::from_str(r#"{"data":{"title":"x"},"id":"t1"}"#).unwrap();
/// assert_eq!(req.id.as_deref(), Some("t1"));
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRowRequest {
    /// The new row's fields.
    pub data: JsonObject,
    /// The new row's id; generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// `PATCH /v1/models/{model}/{id}`: update one row.
///
/// ```
/// use ablo_runtime::wire::{OnStale, UpdateRowRequest};
/// let req: UpdateRowRequest = serde_json::from_str(
///     r#"{"data":{"status":"done"},"readAt":4,"onStale":"merge"}"#).unwrap();
/// assert_eq!(req.on_stale, Some(OnStale::Merge));
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateRowRequest {
    /// The fields to set.
    pub data: JsonObject,
    /// The stamp the row was read at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<SyncId>,
    /// The stale policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_stale: Option<OnStale>,
    /// What to do when another participant holds an intent on the row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_busy: Option<IfBusy>,
}

/// `DELETE /v1/models/{model}/{id}`: what was deleted and when.
///
/// ```
/// use ablo_runtime::wire::DeleteResponse;
/// let r: DeleteResponse = serde_json::from_str(
///     r#"{"id":"t1","model":"tasks","deleted":true,"stamp":8}"#).unwrap();
/// assert!(r.deleted);
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeleteResponse {
    /// The deleted row's id.
    pub id: String,
    /// The model's wire name.
    pub model: String,
    /// Always `true`.
    pub deleted: bool,
    /// The sync id of the deletion.
    pub stamp: SyncId,
}

/// `PUT /v1/schema`: what the push changed.
///
/// ```
/// use ablo_runtime::wire::SchemaPushResponse;
/// let r: SchemaPushResponse = serde_json::from_str(r#"{"hash":"ab12","changed":true}"#).unwrap();
/// assert!(r.changed);
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SchemaPushResponse {
    /// The content hash of the schema now in force.
    pub hash: String,
    /// Whether it differs from the schema in force before the push.
    pub changed: bool,
}

/// `GET /v1/health`: liveness, no authentication.
///
/// ```
/// use ablo_runtime::wire::HealthResponse;
/// let h: HealthResponse = serde_json::from_str(r#"{"status":"ok","version":"0.1.0"}"#).unwrap();
/// assert_eq!(h.status, "ok");
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HealthResponse {
    /// `ok` while the server accepts requests.
    pub status: String,
    /// The server's version.
    pub version: String,
}

/// The `type` of an error: which `ablo::Error` variant it becomes.
///
/// ```
/// use ablo_runtime::wire::ErrorType;
/// assert_eq!(serde_json::to_string(&ErrorType::StaleContext).unwrap(), "\"stale_context\"");
/// assert_eq!(ErrorType::RateLimit.default_status(), 429);
/// let unknown: ErrorType = serde_json::from_str("\"from_the_future\"").unwrap();
/// assert_eq!(unknown, ErrorType::Unknown);
/// ```
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    /// 401: missing or invalid credential.
    Authentication,
    /// 403: the credential may not do this.
    Permission,
    /// 404: no such route, model or row.
    NotFound,
    /// 400 (malformed request), 405, 413 or 422 (well-formed but invalid
    /// against the schema).
    Validation,
    /// 409: the row changed after `readAt`.
    StaleContext,
    /// 409: another participant holds an intent on the target.
    Busy,
    /// 409: another participant holds a claim on the target.
    EntityClaimed,
    /// 409: the `clientTxId` was used with a different body, or a row with
    /// the given id already exists.
    Idempotency,
    /// 429: too many requests; see `Retry-After`.
    RateLimit,
    /// 5xx: the server failed; the request may be retried.
    Server,
    /// A type this version does not know (sent by a newer server).
    #[serde(other)]
    Unknown,
}

impl ErrorType {
    /// The HTTP status most errors of this type carry (`validation` also uses
    /// 405, 413 and 422; see [`codes`]).
    ///
    /// ```
    /// use ablo_runtime::wire::ErrorType;
    /// assert_eq!(ErrorType::NotFound.default_status(), 404);
    /// ```
    pub fn default_status(self) -> u16 {
        match self {
            ErrorType::Authentication => 401,
            ErrorType::Permission => 403,
            ErrorType::NotFound => 404,
            ErrorType::Validation => 400,
            ErrorType::StaleContext
            | ErrorType::Busy
            | ErrorType::EntityClaimed
            | ErrorType::Idempotency => 409,
            ErrorType::RateLimit => 429,
            ErrorType::Server | ErrorType::Unknown => 500,
        }
    }
}

/// The machine-readable `code` of every error the server sends, grouped by
/// [`ErrorType`], with its HTTP status.
///
/// ```
/// use ablo_runtime::wire::codes;
/// assert_eq!(codes::STALE_CONTEXT, "stale_context");
/// assert_eq!(codes::IDEMPOTENCY_CONFLICT, "idempotency_conflict");
/// ```
pub mod codes {
    /// `authentication` 401: no `Authorization: Bearer` header (or `token`
    /// query parameter on the WebSocket).
    pub const MISSING_API_KEY: &str = "missing_api_key";
    /// `authentication` 401: the key is unknown or revoked.
    pub const INVALID_API_KEY: &str = "invalid_api_key";

    /// `not_found` 404: no such route.
    pub const ROUTE_NOT_FOUND: &str = "route_not_found";
    /// `not_found` 404: the model in the path is not in the pushed schema.
    pub const MODEL_NOT_FOUND: &str = "model_not_found";
    /// `not_found` 404: no row with that id (on update or delete: inside a
    /// commit too).
    pub const ROW_NOT_FOUND: &str = "row_not_found";
    /// `not_found` 404: no schema has been pushed yet.
    pub const SCHEMA_NOT_FOUND: &str = "schema_not_found";

    /// `validation` 400: the body is not valid JSON or not the expected shape.
    pub const MALFORMED_JSON: &str = "malformed_json";
    /// `validation` 400: a query parameter is invalid (`where`, `orderBy`,
    /// `limit`, `cursor`, `after`, `readAt`, `onStale`).
    pub const INVALID_QUERY: &str = "invalid_query";
    /// `validation` 400: a header is invalid (for example an empty
    /// `Idempotency-Key`) or the body is not `application/json`.
    pub const INVALID_REQUEST: &str = "invalid_request";
    /// `validation` 405: the route exists but not with this method.
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    /// `validation` 413: the body is larger than the server's limit.
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    /// `validation` 422: the commit has no operations, or too many.
    pub const INVALID_COMMIT: &str = "invalid_commit";
    /// `validation` 422: an operation names a model not in the schema.
    pub const UNKNOWN_MODEL: &str = "unknown_model";
    /// `validation` 422: `data` names a field the model does not have
    /// (including the reserved `id`, `stamp`, `createdAt`, `updatedAt`).
    pub const UNKNOWN_FIELD: &str = "unknown_field";
    /// `validation` 422: a value does not match its field's type.
    pub const INVALID_FIELD_VALUE: &str = "invalid_field_value";
    /// `validation` 422: a `create` lacks a required field.
    pub const MISSING_REQUIRED_FIELD: &str = "missing_required_field";
    /// `validation` 422: an `update` sets a required field to `null`.
    pub const NULL_REQUIRED_FIELD: &str = "null_required_field";
    /// `validation` 422: an id is missing where required, empty, or too long.
    pub const INVALID_ID: &str = "invalid_id";
    /// `validation` 422: the pushed schema is inconsistent or its hash does
    /// not match its content.
    pub const INVALID_SCHEMA: &str = "invalid_schema";

    /// `stale_context` 409: the row changed after `readAt`.
    pub const STALE_CONTEXT: &str = "stale_context";
    /// `not_found` 404: no active or waiting intent has that id.
    pub const INTENT_NOT_FOUND: &str = "intent_not_found";
    /// `permission` 403: the intent belongs to another participant.
    pub const NOT_INTENT_HOLDER: &str = "not_intent_holder";
    /// `validation` 422: `ttlMs` is outside the server's limits.
    pub const INVALID_TTL: &str = "invalid_ttl";
    /// `busy` 409: the wait line of the claimed row is full; try later.
    pub const CLAIM_QUEUE_FULL: &str = "claim_queue_full";
    /// `idempotency` 409: the `clientTxId` was used with a different body.
    pub const IDEMPOTENCY_CONFLICT: &str = "idempotency_conflict";
    /// `idempotency` 409: a `create` names an id that already exists.
    pub const ROW_EXISTS: &str = "row_exists";
    /// `busy` 409: another participant holds an intent on the row and the
    /// write asked `ifBusy: fail`; `details.intents` lists them.
    pub const BUSY: &str = "busy";
    /// `entity_claimed` 409: another participant holds a claim on the row
    /// (a write), or the claim is held and the request did not wait;
    /// `details.intents` lists the claims.
    pub const ENTITY_CLAIMED: &str = "entity_claimed";
    /// `rate_limit` 429 (reserved for rate limits).
    pub const RATE_LIMITED: &str = "rate_limited";

    /// `server` 500: an unexpected failure; nothing was applied.
    pub const INTERNAL: &str = "internal_error";
    /// `server` 503: the server is shutting down; retry elsewhere or later.
    pub const UNAVAILABLE: &str = "unavailable";
}

/// The body of every error response: `{"error": {...}}`.
///
/// ```
/// use ablo_runtime::wire::{ErrorEnvelope, ErrorType};
/// let json = r#"{"error":{"type":"not_found","code":"row_not_found",
///   "message":"no row tasks/t9","requestId":"req_1"}}"#;
/// let env: ErrorEnvelope = serde_json::from_str(json).unwrap();
/// assert_eq!(env.error.kind, ErrorType::NotFound);
/// assert!(env.error.details.is_none());
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorBody,
}

/// One error: its type, code, human message, the request id and optional
/// details (for `stale_context`: [`StaleDetails`]).
///
/// ```
/// use ablo_runtime::wire::{ErrorBody, ErrorType};
/// let body = ErrorBody { kind: ErrorType::Validation, code: "unknown_field".into(),
///     message: "tasks has no field `titel`".into(), request_id: "req_1".into(), details: None };
/// assert_eq!(serde_json::to_value(&body).unwrap()["type"], "validation");
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// The error type.
    #[serde(rename = "type")]
    pub kind: ErrorType,
    /// One of [`codes`].
    pub code: String,
    /// A human-readable explanation.
    pub message: String,
    /// The request's id (also in the `x-request-id` response header).
    pub request_id: String,
    /// Structured context, depending on the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Json>,
}

/// The `details` of a `stale_context` error.
///
/// ```
/// use ablo_runtime::wire::StaleDetails;
/// let d: StaleDetails = serde_json::from_str(
///   r#"{"model":"tasks","id":"t1","operationIndex":0,"readAt":3,"stamp":5,
///      "current":{"id":"t1","stamp":5},"conflictingFields":["status"]}"#).unwrap();
/// assert_eq!(d.conflicting_fields, vec!["status".to_string()]);
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StaleDetails {
    /// The model of the stale row.
    pub model: String,
    /// The stale row's id.
    pub id: String,
    /// Which operation of the commit was stale (0-based).
    pub operation_index: usize,
    /// The `readAt` the write carried.
    pub read_at: SyncId,
    /// The row's current stamp.
    pub stamp: SyncId,
    /// The current row (flat JSON).
    pub current: Json,
    /// For `merge`: the fields of the write that changed after `readAt`;
    /// empty for `reject`.
    #[serde(default)]
    pub conflicting_fields: Vec<String>,
}

/// A message a client sends on the WebSocket (`GET /v1/sync/ws`).
///
/// ```
/// use ablo_runtime::wire::ClientMessage;
/// use ablo_runtime::SyncId;
/// let msg: ClientMessage = serde_json::from_str(r#"{"type":"subscribe","cursor":12}"#).unwrap();
/// assert_eq!(msg, ClientMessage::Subscribe { cursor: SyncId(12), sync_groups: None });
/// assert_eq!(serde_json::to_string(&ClientMessage::Ping).unwrap(), r#"{"type":"ping"}"#);
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ClientMessage {
    /// Start the stream: every delta after `cursor`, then live ones. Sent
    /// once, first.
    #[serde(rename_all = "camelCase")]
    Subscribe {
        /// The last sync id the client has applied (0 for none).
        #[serde(default)]
        cursor: SyncId,
        /// Receive only these groups (of those the credential allows);
        /// absent: all of them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sync_groups: Option<Vec<String>>,
    },
    /// Asks the server for a `pong`.
    Ping,
    /// Answers a server `ping`.
    Pong,
    /// Publishes what this connection's participant does with a target
    /// (`left` withdraws it). Entries end when the connection closes.
    Presence {
        /// The row or field.
        target: Target,
        /// `viewing`, `editing` or `left`.
        state: PresenceState,
    },
}

/// A message the server sends on the WebSocket.
///
/// ```
/// use ablo_runtime::wire::ServerMessage;
/// use ablo_runtime::SyncId;
/// let msg = ServerMessage::CaughtUp { cursor: SyncId(12) };
/// assert_eq!(serde_json::to_string(&msg).unwrap(), r#"{"type":"caughtUp","cursor":12}"#);
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ServerMessage {
    /// Deltas in sync-id order; a message never splits a commit.
    Deltas {
        /// The deltas.
        deltas: Vec<Delta>,
    },
    /// Sent once after the replay of the log: everything up to `cursor` has
    /// been sent and further deltas are live.
    CaughtUp {
        /// The last sync id sent (the subscribe cursor if nothing was
        /// replayed).
        cursor: SyncId,
    },
    /// The subscriber fell too far behind. The server closes the socket
    /// after this message; catch up with `GET /v1/sync/deltas?after=cursor`
    /// and subscribe again.
    ResyncRequired {
        /// The last sync id delivered on this socket.
        cursor: SyncId,
        /// A human-readable explanation.
        message: String,
    },
    /// Asks the client for a `pong`.
    Ping,
    /// Answers a client `ping`.
    Pong,
    /// An intent was taken, heartbeated, released or expired (sent to
    /// subscribers of the target row's groups).
    #[serde(rename_all = "camelCase")]
    Intent {
        /// What happened.
        event: IntentEventKind,
        /// The intent.
        intent: Intent,
        /// For `queued`: the place in line, from 1.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        position: Option<usize>,
    },
    /// A participant's presence changed.
    Presence {
        /// The presence entry.
        presence: Presence,
    },
    /// The client sent something the server cannot act on (for example a
    /// second `subscribe`); the socket is closed after this message.
    Error {
        /// The error, as in HTTP error bodies.
        error: ErrorBody,
    },
}

/// What happened to an intent, in [`ServerMessage::Intent`].
///
/// ```
/// use ablo_runtime::wire::IntentEventKind;
/// assert_eq!(serde_json::to_string(&IntentEventKind::Released).unwrap(), "\"released\"");
/// ```
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum IntentEventKind {
    /// Taken (or granted, for a claim).
    Created,
    /// Renewed by a heartbeat.
    Renewed,
    /// Released by its holder.
    Released,
    /// Lapsed without a heartbeat.
    Expired,
    /// A waiting claim reached the front of its line and now holds the
    /// target.
    Granted,
    /// A claim joined a wait line (see `position`).
    Queued,
}

/// What a connected participant is doing with a target.
///
/// ```
/// use ablo_runtime::wire::PresenceState;
/// assert_eq!(serde_json::to_string(&PresenceState::Viewing).unwrap(), "\"viewing\"");
/// ```
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum PresenceState {
    /// Looking at it.
    Viewing,
    /// Changing it.
    Editing,
    /// No longer there.
    Left,
}

/// One presence entry.
///
/// ```
/// use ablo_runtime::wire::Presence;
/// let p: Presence = serde_json::from_str(r#"{"participant":{"id":"u1","kind":"user"},
///   "target":{"model":"tasks","id":"t1"},"state":"editing","at":"2026-01-01T00:00:00.000Z"}"#).unwrap();
/// assert_eq!(p.participant.id, "u1");
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Presence {
    /// Who.
    pub participant: Participant,
    /// What they look at.
    pub target: Target,
    /// `viewing`, `editing` or `left`.
    pub state: PresenceState,
    /// When this state was published.
    pub at: Timestamp,
}

/// `POST /v1/intents`: take an intent, or a claim with `exclusive: true`.
///
/// ```
/// use ablo_runtime::wire::CreateIntentRequest;
/// let req: CreateIntentRequest = serde_json::from_str(
///     r#"{"target":{"model":"tasks","id":"t1"},"action":"update","exclusive":true}"#).unwrap();
/// assert!(req.exclusive && req.wait);
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateIntentRequest {
    /// The row or field.
    pub target: Target,
    /// A short verb, for example `update` or `editing`.
    pub action: String,
    /// The lease in milliseconds; the server's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
    /// A claim: one holder per target, others wait in line.
    #[serde(default)]
    pub exclusive: bool,
    /// For a claim that is held: join the wait line (default) or fail at
    /// once with `entity_claimed`.
    #[serde(default = "default_true")]
    pub wait: bool,
}

fn default_true() -> bool {
    true
}

/// Whether an intent holds its target or waits in line.
///
/// ```
/// use ablo_runtime::wire::IntentStatus;
/// assert_eq!(serde_json::to_string(&IntentStatus::Queued).unwrap(), "\"queued\"");
/// ```
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum IntentStatus {
    /// Active: an advisory intent, or a claim that holds its target.
    Active,
    /// A claim waiting in line.
    Queued,
}

/// The answer to `POST /v1/intents` (201 active, 202 queued) and to a
/// heartbeat.
///
/// ```
/// use ablo_runtime::wire::{IntentResponse, IntentStatus};
/// let json = r#"{"intent":{"id":"int_1","participant":{"id":"a1","kind":"agent"},
///   "target":{"model":"tasks","id":"t1"},"action":"update","exclusive":true,
///   "createdAt":"2026-01-01T00:00:00.000Z","expiresAt":"2026-01-01T00:00:30.000Z"},
///   "status":"queued","position":2}"#;
/// let r: IntentResponse = serde_json::from_str(json).unwrap();
/// assert_eq!((r.status, r.position), (IntentStatus::Queued, Some(2)));
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IntentResponse {
    /// The intent; its id heartbeats and releases it.
    pub intent: Intent,
    /// `active` or `queued`.
    pub status: IntentStatus,
    /// For a queued claim: the place in line, from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
    /// For a granted claim: the row as it is now (absent if the row does
    /// not exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Json>,
    /// For a granted claim: the stamp the holder's writes are guarded from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<SyncId>,
}

/// `GET /v1/intents?model&id&field`: the active intents on a target.
///
/// ```
/// use ablo_runtime::wire::IntentList;
/// let list: IntentList = serde_json::from_str(r#"{"data":[]}"#).unwrap();
/// assert!(list.data.is_empty());
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IntentList {
    /// The intents, claims included (waiting claims not).
    pub data: Vec<Intent>,
}

/// `DELETE /v1/intents/{id}`: whether this call released something
/// (`false` when it was already released or expired).
///
/// ```
/// use ablo_runtime::wire::IntentReleased;
/// let r: IntentReleased = serde_json::from_str(r#"{"id":"int_1","released":false}"#).unwrap();
/// assert!(!r.released);
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IntentReleased {
    /// The intent's id.
    pub id: String,
    /// Whether it was active or waiting until this call.
    pub released: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_request_refuses_unknown_keys_and_bad_types() {
        let err =
            serde_json::from_str::<CommitRequest>(r#"{"operations":[],"extra":1}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        let err = serde_json::from_str::<CommitRequest>(
            r#"{"operations":[{"type":"upsert","model":"tasks"}]}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown variant"), "{err}");
        let err = serde_json::from_str::<CommitRequest>(
            r#"{"operations":[{"type":"update","model":"tasks","id":"t","readAt":-1}]}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("invalid value"), "{err}");
    }

    #[test]
    fn server_messages_round_trip() {
        let messages = vec![
            ServerMessage::Deltas { deltas: vec![] },
            ServerMessage::ResyncRequired {
                cursor: SyncId(4),
                message: "behind".into(),
            },
            ServerMessage::Ping,
            ServerMessage::Pong,
        ];
        for msg in messages {
            let json = serde_json::to_string(&msg).unwrap();
            let back: ServerMessage = serde_json::from_str(&json).unwrap();
            assert_eq!(back, msg);
        }
        let json = serde_json::to_value(ServerMessage::ResyncRequired {
            cursor: SyncId(4),
            message: "behind".into(),
        })
        .unwrap();
        assert_eq!(json["type"], "resyncRequired");
    }

    #[test]
    fn non_object_data_is_kept_visible() {
        let op = Operation::create("tasks", serde_json::json!(5));
        assert_eq!(op.data.unwrap()["value"], 5);
    }
}
