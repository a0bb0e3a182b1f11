//! The error envelope every failure uses, its types and the documented codes.

use serde::{Deserialize, Serialize};

use crate::types::{Json, SyncId};

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
    /// `validation` 409: the pushed schema would break clients of the schema
    /// the server holds (a removed model or field, a changed type, ...) and
    /// the push did not say `allowBreaking=true`; `details.changes` lists
    /// the breaking changes.
    pub const BREAKING_SCHEMA_CHANGE: &str = "breaking_schema_change";
    /// The client's models do not match the server's schema (client side,
    /// on connect); `details.changes` lists the breaking changes.
    pub const SCHEMA_MISMATCH: &str = "schema_mismatch";

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
    /// 409: the participant holds as many intents as the server allows.
    pub const INTENT_LIMIT: &str = "intent_limit";
    /// 409: the row carries as many active intents as the server allows.
    pub const ROW_INTENT_LIMIT: &str = "row_intent_limit";
    /// 400: a JSON value is nested deeper than the server allows.
    pub const NESTING_TOO_DEEP: &str = "nesting_too_deep";
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
    /// `server` 503: this node's commit writer stopped; it accepts no
    /// writes until restarted, so retry on another node.
    pub const WRITER_STOPPED: &str = "writer_stopped";
    /// No Data Source has this name (404).
    pub const SOURCE_NOT_FOUND: &str = "source_not_found";
    /// The Data Source configuration is invalid (422).
    pub const INVALID_SOURCE: &str = "invalid_source";
    /// A commit mixes models of different backing stores (422).
    pub const MIXED_SOURCES: &str = "mixed_sources";
    /// The Data Source refused the request with a 4xx (422); its answer is
    /// in `details`.
    pub const SOURCE_REJECTED: &str = "source_rejected";
    /// The Data Source could not be reached or failed with a 5xx after
    /// retries (502).
    pub const SOURCE_UNAVAILABLE: &str = "source_unavailable";
    /// The Data Source answered with a body of the wrong shape (502).
    pub const SOURCE_INVALID_RESPONSE: &str = "source_invalid_response";
    /// A pushed request's signature is missing, wrong or expired (401).
    pub const INVALID_SIGNATURE: &str = "invalid_signature";
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
