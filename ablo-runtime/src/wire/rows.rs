//! Single-row reads and writes, lists, schema push and health bodies.

use serde::{Deserialize, Serialize};

use super::{IfBusy, Intent, JsonObject, OnStale};
use crate::types::{Json, SyncId};

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
    /// What changed against the schema in force before the push (empty for
    /// a first push or an unchanged schema), breaking changes marked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<crate::schema::SchemaChange>,
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
