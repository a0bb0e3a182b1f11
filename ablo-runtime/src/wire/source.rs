//! Data Sources: the signed requests the server sends to a customer's Data
//! Source URL, their answers, the events a source reports, and the
//! configuration and status routes (`/v1/sources/{name}`). Shapes follow the
//! seed's `docs/data-sources.md`.

use serde::{Deserialize, Serialize};

use super::{JsonObject, OnStale, ParticipantKind};
use crate::types::{Json, SyncId, Timestamp};

/// One request to a Data Source URL, tagged by `type`.
///
/// ```
/// use ablo_runtime::wire::SourceRequest;
/// let load = SourceRequest::Load { model: "tasks".into(), id: "task_1".into() };
/// assert_eq!(serde_json::to_value(&load).unwrap(),
///            serde_json::json!({"type": "load", "model": "tasks", "id": "task_1"}));
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum SourceRequest {
    /// Apply a commit and answer with the canonical rows.
    Commit(SourceCommit),
    /// Read one row: answer `{row}` (`null` when there is none).
    Load {
        /// Model wire name.
        model: String,
        /// Row id.
        id: String,
    },
    /// Read rows: answer `{rows}`.
    List {
        /// Model wire name.
        model: String,
        /// `where` (field equality), `orderBy` and `limit`.
        query: Json,
    },
    /// Changes made outside Ablo after `cursor`: answer `{events, nextCursor}`.
    Events {
        /// The `nextCursor` of the previous answer, `null` at first.
        cursor: Json,
        /// At most this many events.
        limit: usize,
    },
}

/// A commit sent to a Data Source.
///
/// ```
/// use ablo_runtime::wire::SourceRequest;
/// let request: SourceRequest = serde_json::from_value(serde_json::json!({
///     "type": "commit", "clientTxId": "tx_1", "operations": [],
///     "scope": {"participantId": "system:key_1", "participantKind": "system",
///               "organizationId": null, "requiredSyncGroups": [], "mode": "live"}})).unwrap();
/// let SourceRequest::Commit(commit) = request else { panic!() };
/// assert_eq!(commit.client_tx_id, "tx_1");
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SourceCommit {
    /// The commit's transaction id: dedupe retries by it.
    pub client_tx_id: String,
    /// The operations, in order.
    pub operations: Vec<SourceOperation>,
    /// Who writes, and within which groups.
    pub scope: SourceScope,
}

/// One operation of a commit sent to a Data Source.
///
/// ```
/// let op: ablo_runtime::wire::SourceOperation = serde_json::from_value(serde_json::json!(
///     {"type": "UPDATE", "model": "tasks", "id": "t1", "input": {"status": "done"},
///      "readAt": 1042, "onStale": "reject"})).unwrap();
/// assert_eq!(op.kind, "UPDATE");
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SourceOperation {
    /// `CREATE`, `UPDATE` or `DELETE`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Model wire name.
    pub model: String,
    /// Row id.
    pub id: String,
    /// The fields to write (empty for a delete).
    pub input: JsonObject,
    /// The stamp the writer read, if it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<SyncId>,
    /// The stale policy, when `readAt` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_stale: Option<OnStale>,
}

/// Who a Data Source commit acts for.
///
/// ```
/// use ablo_runtime::wire::{ParticipantKind, SourceScope};
/// let scope = SourceScope { participant_id: "agent:triage".into(),
///     participant_kind: ParticipantKind::Agent, organization_id: None,
///     required_sync_groups: vec!["org:org_1".into()], mode: "live".into() };
/// assert_eq!(serde_json::to_value(&scope).unwrap()["participantKind"], "agent");
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SourceScope {
    /// `kind:id` of the writing participant.
    pub participant_id: String,
    /// Its kind.
    pub participant_kind: ParticipantKind,
    /// The organization, when the rows' groups name one (`org:{id}`).
    pub organization_id: Option<String>,
    /// The sync groups of the rows the commit touches.
    pub required_sync_groups: Vec<String>,
    /// Always `live`.
    pub mode: String,
}

/// The answer to `commit` and `list`: canonical rows.
///
/// ```
/// let rows: ablo_runtime::wire::SourceRows = serde_json::from_str(
///     r#"{"rows": [{"id": "t1", "title": "Fix docs"}]}"#).unwrap();
/// assert_eq!(rows.rows[0]["id"], "t1");
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SourceRows {
    /// Full rows, each with its `id`.
    pub rows: Vec<JsonObject>,
}

/// The answer to `load`.
///
/// ```
/// let row: ablo_runtime::wire::SourceRow = serde_json::from_str(r#"{"row": null}"#).unwrap();
/// assert!(row.row.is_none());
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SourceRow {
    /// The row, or `null` when there is none.
    pub row: Option<JsonObject>,
}

/// One change a Data Source reports (polled or pushed).
///
/// ```
/// let event: ablo_runtime::wire::SourceEvent = serde_json::from_value(serde_json::json!(
///     {"id": "evt_1", "model": "tasks", "entityId": "t1", "type": "update",
///      "data": {"id": "t1", "title": "x"}, "organizationId": null, "clientTxId": null,
///      "occurredAt": 1764000000000_i64})).unwrap();
/// assert_eq!(event.entity_id, "t1");
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SourceEvent {
    /// Stable event id: an event is applied once.
    pub id: String,
    /// Model wire name.
    pub model: String,
    /// Row id.
    pub entity_id: String,
    /// `insert`, `update` or `delete` (any case; `create` and `upsert` are
    /// read as `insert`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The row after the change (ignored for a delete).
    #[serde(default)]
    pub data: Json,
    /// The organization the row belongs to, if the source knows it.
    #[serde(default)]
    pub organization_id: Option<String>,
    /// Set when the change came from an Ablo commit: the server then drops
    /// the event as an echo.
    #[serde(default)]
    pub client_tx_id: Option<String>,
    /// When it happened, in milliseconds since the epoch.
    #[serde(default)]
    pub occurred_at: Option<i64>,
}

/// The answer to `events`, and the body of a push to
/// `POST /v1/sources/{name}/events` (`nextCursor` is then ignored).
///
/// ```
/// let page: ablo_runtime::wire::SourceEvents = serde_json::from_str(
///     r#"{"events": [], "nextCursor": "17"}"#).unwrap();
/// assert_eq!(page.next_cursor, serde_json::json!("17"));
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SourceEvents {
    /// The events, oldest first.
    pub events: Vec<SourceEvent>,
    /// Where the next poll continues.
    #[serde(default)]
    pub next_cursor: Json,
}

/// What happened to pushed or polled events.
///
/// ```
/// let outcome = ablo_runtime::wire::EventsOutcome::default();
/// assert_eq!(serde_json::to_value(&outcome).unwrap()["applied"], 0);
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EventsOutcome {
    /// Applied as a change (logged, fanned out, audited).
    pub applied: usize,
    /// Already applied before (same event id).
    pub duplicates: usize,
    /// Echoes of Ablo's own commits (their `clientTxId`).
    pub echoes: usize,
    /// Applied but changing nothing Ablo did not already hold.
    pub unchanged: usize,
    /// Refused (unknown model or type, a row of the wrong shape); the
    /// reason is in the source's status.
    pub invalid: usize,
}

/// `PUT /v1/sources/{name}`: where the source is and which models it backs.
///
/// ```
/// let config: ablo_runtime::wire::SourceConfig = serde_json::from_value(serde_json::json!(
///     {"url": "https://api.example.com/api/ablo/source", "models": ["tasks"]})).unwrap();
/// assert!(config.signing_secret.is_none());
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SourceConfig {
    /// The Data Source URL (`http` or `https`).
    pub url: String,
    /// Model wire names the source backs.
    pub models: Vec<String>,
    /// `whsec_...`; kept when omitted on an update, generated on creation.
    #[serde(default)]
    pub signing_secret: Option<String>,
}

/// A configured Data Source, as `PUT /v1/sources/{name}` answers it.
///
/// ```
/// let info: ablo_runtime::wire::SourceInfo = serde_json::from_value(serde_json::json!(
///     {"object": "data_source", "name": "app", "url": "http://127.0.0.1:9/s",
///      "models": ["tasks"], "signingSecret": "whsec_x",
///      "pushEventsUrl": "/v1/sources/app/events"})).unwrap();
/// assert_eq!(info.push_events_url, "/v1/sources/app/events");
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SourceInfo {
    /// Always `data_source`.
    pub object: String,
    /// The source's name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// The models it backs.
    pub models: Vec<String>,
    /// The secret both sides sign with.
    pub signing_secret: String,
    /// Where the source pushes events (path on this server).
    pub push_events_url: String,
}

/// `GET /v1/sources/{name}/status`.
///
/// ```
/// let status: ablo_runtime::wire::SourceStatus = serde_json::from_value(serde_json::json!(
///     {"name": "app", "lastSuccessAt": null, "lastError": null, "attempts": 0,
///      "failures": 0, "eventsCursor": null, "eventsSupported": true})).unwrap();
/// assert_eq!(status.attempts, 0);
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SourceStatus {
    /// The source's name.
    pub name: String,
    /// When a request last succeeded.
    pub last_success_at: Option<Timestamp>,
    /// The last failure, if any.
    pub last_error: Option<SourceFailure>,
    /// Requests sent, retries included.
    pub attempts: u64,
    /// Requests that failed, retries included.
    pub failures: u64,
    /// The cursor the next poll continues from.
    pub events_cursor: Json,
    /// `false` once the source answered `events` with a 4xx: it is then
    /// polled again only after the configuration changes.
    pub events_supported: bool,
}

/// One failed request to a Data Source.
///
/// ```
/// let f = ablo_runtime::wire::SourceFailure { at: ablo_runtime::Timestamp::now(),
///     request: "commit".into(), message: "HTTP 503".into() };
/// assert_eq!(f.request, "commit");
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SourceFailure {
    /// When.
    pub at: Timestamp,
    /// `commit`, `load`, `list` or `events`.
    pub request: String,
    /// What went wrong.
    pub message: String,
}
