//! The sync log as clients see it: deltas, who made them, and pages of them.

use serde::{Deserialize, Serialize};

use crate::types::{Json, SyncId};

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

impl ParticipantKind {
    /// The wire name: `user`, `agent` or `system`.
    ///
    /// ```
    /// use ablo_runtime::wire::ParticipantKind;
    /// assert_eq!(ParticipantKind::Agent.as_str(), "agent");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ParticipantKind::User => "user",
            ParticipantKind::Agent => "agent",
            ParticipantKind::System => "system",
        }
    }
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
    /// Groups the row joined with this change: with `left_sync_groups` they
    /// give its groups before the change, so the server can tell whether a
    /// subscriber saw the row before (and must now drop it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entered_sync_groups: Vec<String>,
    /// Whether the commit was accepted stale under `onStale: flag`.
    pub flagged: bool,
}

impl Delta {
    /// This delta as seen by a subscriber whose view the row has left: no
    /// row data, no changed fields and no new groups, only the groups it
    /// left. A delta whose `data` is `null` tells the subscriber to drop
    /// the row, whatever its action.
    ///
    /// ```
    /// use ablo_runtime::wire::{Actor, Delta, DeltaAction, ParticipantKind};
    /// use ablo_runtime::SyncId;
    /// let moved = Delta { sync_id: SyncId(4), model: "projects".into(), id: "p1".into(),
    ///     action: DeltaAction::Update, data: serde_json::json!({"id": "p1", "orgId": "org_2"}),
    ///     changed_fields: vec!["orgId".into()], client_tx_id: "tx_4".into(),
    ///     actor: Actor { kind: ParticipantKind::System, id: "key_1".into() },
    ///     sync_groups: vec!["org:org_2".into()], left_sync_groups: vec!["org:org_1".into()],
    ///     entered_sync_groups: vec!["org:org_2".into()], flagged: false };
    /// let removal = moved.as_removal();
    /// assert!(removal.data.is_null() && removal.sync_groups.is_empty());
    /// assert!(removal.entered_sync_groups.is_empty());
    /// assert_eq!(removal.left_sync_groups, ["org:org_1"]);
    /// ```
    pub fn as_removal(&self) -> Delta {
        Delta {
            data: Json::Null,
            changed_fields: Vec::new(),
            sync_groups: Vec::new(),
            entered_sync_groups: Vec::new(),
            ..self.clone()
        }
    }
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
