//! [`Error`]: every failure a client call can report, parsed from the
//! server's error envelope `{"error": {type, code, message, requestId,
//! details?}}` or raised on the client side (connection, timeout, bad
//! options).

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::types::{Json, Row, SyncId};

/// What every error carries: a machine-readable `code`, a human-readable
/// `message`, the server's `request_id` (when the server answered), the HTTP
/// status (when there was one) and the envelope's raw `details`.
///
/// ```
/// use ablo_runtime::ErrorInfo;
/// let info = ErrorInfo::new("timeout", "no answer within 5s");
/// assert_eq!(info.code, "timeout");
/// assert!(info.request_id.is_none());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorInfo {
    /// Machine-readable code, for example `stale_context` or `not_found`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// The server's request id, to quote when reporting a problem.
    pub request_id: Option<String>,
    /// The HTTP status of the answer, if the server answered.
    pub status: Option<u16>,
    /// The envelope's `details` object, if any.
    pub details: Option<Json>,
}

impl ErrorInfo {
    /// An error raised on the client side: no request id, no status.
    ///
    /// ```
    /// let info = ablo_runtime::ErrorInfo::new("closed", "the client was disposed");
    /// assert_eq!(info.to_string(), "the client was disposed (closed)");
    /// ```
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorInfo {
            code: code.into(),
            message: message.into(),
            request_id: None,
            status: None,
            details: None,
        }
    }
}

impl fmt::Display for ErrorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)?;
        if let Some(request_id) = &self.request_id {
            write!(f, " [request {request_id}]")?;
        }
        Ok(())
    }
}

/// An error of the Ablo client, one variant per envelope `type`.
///
/// Every variant carries an [`ErrorInfo`] (code, message, request id);
/// [`Error::code`], [`Error::message`] and [`Error::request_id`] reach it
/// whatever the variant.
///
/// ```
/// use ablo_runtime::Error;
/// let body = br#"{"error": {"type": "not_found", "code": "row_not_found",
///     "message": "no tasks row with id t1", "requestId": "req_9"}}"#;
/// let err = Error::from_response(404, body, None);
/// assert!(matches!(err, Error::NotFound(_)));
/// assert_eq!(err.code(), "row_not_found");
/// assert_eq!(err.request_id(), Some("req_9"));
/// ```
#[derive(thiserror::Error, Clone, Debug, PartialEq)]
pub enum Error {
    /// The write was based on a stale read (`stale_context`, 409): the row
    /// changed after `read_at`. Carries the row as it is now and its stamp;
    /// with `on_stale: merge`, the fields that conflicted.
    #[error("stale context: {info}")]
    StaleContext {
        /// Code, message, request id.
        info: Box<ErrorInfo>,
        /// The row as it is now on the server (flat JSON), if it still exists.
        current: Option<Json>,
        /// The current row's stamp.
        stamp: Option<SyncId>,
        /// The fields that changed after `read_at` (for `merge`).
        fields: Vec<String>,
    },
    /// The request or its data does not fit the schema (400/422), or the
    /// client was given bad input.
    #[error("validation failed: {0}")]
    Validation(Box<ErrorInfo>),
    /// The API key or token is missing, unknown or expired (401).
    #[error("authentication failed: {0}")]
    Authentication(Box<ErrorInfo>),
    /// The credential may not do this (403).
    #[error("permission denied: {0}")]
    Permission(Box<ErrorInfo>),
    /// No such row, model or route (404).
    #[error("not found: {0}")]
    NotFound(Box<ErrorInfo>),
    /// The same `clientTxId` / `Idempotency-Key` was used with another body
    /// (`idempotency_conflict`, 409).
    #[error("idempotency conflict: {0}")]
    Idempotency(Box<ErrorInfo>),
    /// Too many requests (429); try again after `retry_after`.
    #[error("rate limited: {info}")]
    RateLimit {
        /// Code, message, request id.
        info: Box<ErrorInfo>,
        /// The server's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },
    /// Another participant holds a matching intent and the write asked to
    /// fail in that case (`busy`, 409). Carries the intents.
    #[error("busy: {info}")]
    Busy {
        /// Code, message, request id.
        info: Box<ErrorInfo>,
        /// The active intents, as the server sent them.
        intents: Vec<Json>,
    },
    /// Another participant holds an exclusive claim on the row
    /// (`entity_claimed`, 409). Carries the claims.
    #[error("entity claimed: {info}")]
    EntityClaimed {
        /// Code, message, request id.
        info: Box<ErrorInfo>,
        /// The claims on the row, as the server sent them.
        intents: Vec<Json>,
    },
    /// The server could not be reached, the connection broke, or no answer
    /// came in time (client side).
    #[error("connection failed: {0}")]
    Connection(Box<ErrorInfo>),
    /// The server failed (5xx) or answered something the client cannot read.
    #[error("server error: {0}")]
    Server(Box<ErrorInfo>),
    /// The schema does not fit: on connect, the client's models do not match
    /// the server's schema or the server holds none (`schema_mismatch`,
    /// `schema_not_found`); on push, the schema would break clients of the
    /// one the server holds and the push did not allow it
    /// (`breaking_schema_change`, 409). Carries the breaking changes.
    #[error("schema mismatch: {info}")]
    SchemaMismatch {
        /// Code, message, request id.
        info: Box<ErrorInfo>,
        /// The breaking changes, from the client's (or the held) schema to
        /// the other one.
        changes: Vec<crate::schema::SchemaChange>,
    },
    /// The client was configured with bad options (an unparsable URL, an
    /// empty API key, a schema without a model the code asks for).
    #[error("invalid configuration: {0}")]
    Configuration(Box<ErrorInfo>),
}

/// The server's error envelope: `{"error": {...}}`.
#[derive(Deserialize)]
struct Envelope {
    error: EnvelopeBody,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnvelopeBody {
    #[serde(rename = "type")]
    kind: String,
    code: String,
    message: String,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    details: Option<Json>,
}

impl Error {
    /// Parses an error answer of the server: its HTTP status, raw body and
    /// `Retry-After` header (seconds). An answer that is not an envelope
    /// still yields the variant that matches the status.
    ///
    /// ```
    /// use ablo_runtime::Error;
    /// let err = Error::from_response(502, b"<html>bad gateway</html>", None);
    /// assert!(matches!(err, Error::Server(_)));
    /// assert_eq!(err.code(), "http_502");
    /// ```
    pub fn from_response(status: u16, body: &[u8], retry_after: Option<&str>) -> Error {
        let (kind, info) = match serde_json::from_slice::<Envelope>(body) {
            Ok(Envelope { error }) => (
                error.kind,
                ErrorInfo {
                    code: error.code,
                    message: error.message,
                    request_id: error.request_id,
                    status: Some(status),
                    details: error.details,
                },
            ),
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                let snippet: String = text.chars().take(200).collect();
                let message = if snippet.trim().is_empty() {
                    format!("the server answered HTTP {status} without a body")
                } else {
                    format!("the server answered HTTP {status}: {snippet}")
                };
                let mut info = ErrorInfo::new(format!("http_{status}"), message);
                info.status = Some(status);
                (kind_for_status(status).to_owned(), info)
            }
        };
        let retry_after = retry_after
            .and_then(|value| value.trim().parse::<f64>().ok())
            .filter(|secs| secs.is_finite() && *secs >= 0.0)
            .map(Duration::from_secs_f64);
        Error::from_parts(&kind, info, retry_after)
    }

    /// Builds the variant for an envelope `type` (or, for `busy` and
    /// `entity_claimed`, its `code`). Unknown types fall back on the status.
    ///
    /// ```
    /// use ablo_runtime::{Error, ErrorInfo};
    /// let err = Error::from_parts("permission", ErrorInfo::new("capability_scope_denied", "no"), None);
    /// assert!(matches!(err, Error::Permission(_)));
    /// ```
    pub fn from_parts(kind: &str, info: ErrorInfo, retry_after: Option<Duration>) -> Error {
        let info = Box::new(info);
        let kind = match (kind, info.code.as_str()) {
            (_, "entity_claimed") => "entity_claimed",
            (_, "busy") => "busy",
            (_, "stale_context") => "stale_context",
            (_, "idempotency_conflict") => "idempotency",
            (_, "breaking_schema_change" | "schema_mismatch") => "schema_mismatch",
            (
                "stale_context" | "validation" | "authentication" | "permission" | "not_found"
                | "idempotency" | "rate_limit" | "busy" | "entity_claimed" | "connection"
                | "server" | "configuration" | "schema_mismatch",
                _,
            ) => kind,
            _ => kind_for_status(info.status.unwrap_or(500)),
        };
        match kind {
            "stale_context" => {
                let details = info.details.clone().unwrap_or(Json::Null);
                let current = details.get("current").filter(|row| !row.is_null()).cloned();
                let stamp = details
                    .get("stamp")
                    .or_else(|| current.as_ref().and_then(|row| row.get("stamp")))
                    .and_then(Json::as_u64)
                    .map(SyncId);
                let fields = details
                    .get("conflictingFields")
                    .and_then(Json::as_array)
                    .map(|fields| {
                        fields
                            .iter()
                            .filter_map(|f| f.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                Error::StaleContext {
                    info,
                    current,
                    stamp,
                    fields,
                }
            }
            "validation" => Error::Validation(info),
            "authentication" => Error::Authentication(info),
            "permission" => Error::Permission(info),
            "not_found" => Error::NotFound(info),
            "idempotency" => Error::Idempotency(info),
            "rate_limit" => Error::RateLimit { info, retry_after },
            "busy" => {
                let intents = detail_intents(&info);
                Error::Busy { info, intents }
            }
            "entity_claimed" => {
                let intents = detail_intents(&info);
                Error::EntityClaimed { info, intents }
            }
            "schema_mismatch" => {
                let changes = info
                    .details
                    .as_ref()
                    .and_then(|d| d.get("changes"))
                    .and_then(|c| serde_json::from_value(c.clone()).ok())
                    .unwrap_or_default();
                Error::SchemaMismatch { info, changes }
            }
            "connection" => Error::Connection(info),
            "configuration" => Error::Configuration(info),
            _ => Error::Server(info),
        }
    }

    /// A client-side connection failure.
    ///
    /// ```
    /// let err = ablo_runtime::Error::connection("connect_failed", "refused");
    /// assert!(err.is_transient());
    /// ```
    pub fn connection(code: &str, message: impl Into<String>) -> Error {
        Error::Connection(Box::new(ErrorInfo::new(code, message)))
    }

    /// A client-side configuration error.
    ///
    /// ```
    /// let err = ablo_runtime::Error::configuration("invalid_url", "not a URL");
    /// assert_eq!(err.code(), "invalid_url");
    /// ```
    pub fn configuration(code: &str, message: impl Into<String>) -> Error {
        Error::Configuration(Box::new(ErrorInfo::new(code, message)))
    }

    /// A client-side schema mismatch: `changes` are the breaking changes
    /// found, listed in `details.changes` too.
    ///
    /// ```
    /// let err = ablo_runtime::Error::schema_mismatch("schema_mismatch", "tasks.title removed", vec![]);
    /// assert!(matches!(err, ablo_runtime::Error::SchemaMismatch { .. }));
    /// ```
    pub fn schema_mismatch(
        code: &str,
        message: impl Into<String>,
        changes: Vec<crate::schema::SchemaChange>,
    ) -> Error {
        let mut info = ErrorInfo::new(code, message);
        info.details = Some(serde_json::json!({ "changes": changes }));
        Error::SchemaMismatch {
            info: Box::new(info),
            changes,
        }
    }

    /// A client-side validation error (bad input caught before sending).
    ///
    /// ```
    /// let err = ablo_runtime::Error::validation("invalid_data", "not an object");
    /// assert!(matches!(err, ablo_runtime::Error::Validation(_)));
    /// ```
    pub fn validation(code: &str, message: impl Into<String>) -> Error {
        Error::Validation(Box::new(ErrorInfo::new(code, message)))
    }

    /// The server answered something the client cannot read.
    ///
    /// ```
    /// let err = ablo_runtime::Error::invalid_response("missing field `rows`");
    /// assert_eq!(err.code(), "invalid_response");
    /// ```
    pub fn invalid_response(message: impl Into<String>) -> Error {
        Error::Server(Box::new(ErrorInfo::new("invalid_response", message)))
    }

    /// The code, message, request id and status of any variant.
    ///
    /// ```
    /// let err = ablo_runtime::Error::connection("timeout", "slow");
    /// assert_eq!(err.info().message, "slow");
    /// ```
    pub fn info(&self) -> &ErrorInfo {
        match self {
            Error::StaleContext { info, .. }
            | Error::RateLimit { info, .. }
            | Error::Busy { info, .. }
            | Error::EntityClaimed { info, .. }
            | Error::SchemaMismatch { info, .. }
            | Error::Validation(info)
            | Error::Authentication(info)
            | Error::Permission(info)
            | Error::NotFound(info)
            | Error::Idempotency(info)
            | Error::Connection(info)
            | Error::Server(info)
            | Error::Configuration(info) => info.as_ref(),
        }
    }

    /// The machine-readable code, for example `stale_context`.
    ///
    /// ```
    /// assert_eq!(ablo_runtime::Error::connection("timeout", "slow").code(), "timeout");
    /// ```
    pub fn code(&self) -> &str {
        &self.info().code
    }

    /// The human-readable message.
    ///
    /// ```
    /// assert_eq!(ablo_runtime::Error::connection("timeout", "slow").message(), "slow");
    /// ```
    pub fn message(&self) -> &str {
        &self.info().message
    }

    /// The server's request id, if the server answered.
    ///
    /// ```
    /// assert_eq!(ablo_runtime::Error::connection("timeout", "slow").request_id(), None);
    /// ```
    pub fn request_id(&self) -> Option<&str> {
        self.info().request_id.as_deref()
    }

    /// The HTTP status, if the server answered.
    ///
    /// ```
    /// let err = ablo_runtime::Error::from_response(429, b"", Some("2"));
    /// assert_eq!(err.status(), Some(429));
    /// ```
    pub fn status(&self) -> Option<u16> {
        self.info().status
    }

    /// Whether sending the same request again may succeed: connection
    /// failures, rate limits and server errors (5xx). Writes are retried with
    /// the same `clientTxId`, so a retry never applies a write twice.
    ///
    /// ```
    /// use ablo_runtime::Error;
    /// assert!(Error::from_response(503, b"", None).is_transient());
    /// assert!(!Error::from_response(400, b"", None).is_transient());
    /// ```
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Connection(_) | Error::RateLimit { .. } => true,
            Error::Server(info) => info.status.is_some_and(|s| s >= 500),
            _ => false,
        }
    }

    /// For [`Error::StaleContext`]: the current row, typed. `None` for other
    /// variants, when the row no longer exists, or when it does not decode as
    /// `Row<M>`.
    ///
    /// ```
    /// use ablo_runtime::{Error, ErrorInfo, Row};
    /// #[derive(serde::Deserialize, Clone, Debug)]
    /// struct Note { text: String }
    /// let err = Error::from_parts("stale_context", ErrorInfo {
    ///     code: "stale_context".into(), message: "changed".into(), request_id: None,
    ///     status: Some(409),
    ///     details: Some(serde_json::json!({"stamp": 9, "current": {"id": "n1", "stamp": 9,
    ///         "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:00.000Z",
    ///         "text": "newer"}})),
    /// }, None);
    /// let row: Row<Note> = err.current_row().unwrap();
    /// assert_eq!(row.text, "newer");
    /// ```
    pub fn current_row<M: DeserializeOwned>(&self) -> Option<Row<M>> {
        match self {
            Error::StaleContext {
                current: Some(row), ..
            } => serde_json::from_value(row.clone()).ok(),
            _ => None,
        }
    }
}

impl Error {
    /// The intents (or claims) a `busy` or `entity_claimed` error carries,
    /// typed as `intents().list()` returns them; empty for other errors.
    /// An entry that does not decode is left out (the JSON stays in the
    /// variant's `intents`).
    ///
    /// ```
    /// use ablo_runtime::{Error, ErrorInfo};
    /// let intent = serde_json::json!({"id": "int_1", "participant": {"id": "a1", "kind": "agent"},
    ///     "target": {"model": "tasks", "id": "t1"}, "action": "editing", "exclusive": false,
    ///     "createdAt": "2026-01-01T00:00:00.000Z", "expiresAt": "2026-01-01T00:00:30.000Z"});
    /// let err = Error::from_parts("busy", ErrorInfo {
    ///     code: "busy".into(), message: "someone is editing".into(), request_id: None,
    ///     status: Some(409), details: Some(serde_json::json!({"intents": [intent]})),
    /// }, None);
    /// let intents = err.typed_intents();
    /// assert_eq!(intents[0].participant.id, "a1");
    /// assert_eq!(intents[0].target.id, "t1");
    /// ```
    pub fn typed_intents(&self) -> Vec<crate::wire::Intent> {
        match self {
            Error::Busy { intents, .. } | Error::EntityClaimed { intents, .. } => intents
                .iter()
                .filter_map(|i| serde_json::from_value(i.clone()).ok())
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The `details.intents` of a `busy` or `entity_claimed` error.
fn detail_intents(info: &ErrorInfo) -> Vec<Json> {
    info.details
        .as_ref()
        .and_then(|d| d.get("intents"))
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default()
}

fn kind_for_status(status: u16) -> &'static str {
    match status {
        400 | 405 | 413 | 422 => "validation",
        401 => "authentication",
        403 => "permission",
        404 => "not_found",
        409 => "idempotency",
        429 => "rate_limit",
        _ => "server",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(kind: &str, code: &str, details: Option<Json>) -> Vec<u8> {
        let mut error = serde_json::json!({
            "type": kind, "code": code, "message": format!("{code} happened"),
            "requestId": "req_1",
        });
        if let Some(details) = details {
            error["details"] = details;
        }
        serde_json::to_vec(&serde_json::json!({ "error": error })).unwrap()
    }

    fn assert_common(err: &Error, code: &str, status: u16) {
        assert_eq!(err.code(), code);
        assert_eq!(err.message(), format!("{code} happened"));
        assert_eq!(err.request_id(), Some("req_1"));
        assert_eq!(err.status(), Some(status));
    }

    #[test]
    fn stale_context_carries_current_row_stamp_and_fields() {
        let row = serde_json::json!({"id": "t1", "stamp": 12, "title": "newer"});
        let body = envelope(
            "stale_context",
            "stale_context",
            Some(serde_json::json!({"current": row, "stamp": 12, "conflictingFields": ["title"]})),
        );
        let err = Error::from_response(409, &body, None);
        assert_common(&err, "stale_context", 409);
        match err {
            Error::StaleContext {
                current,
                stamp,
                fields,
                ..
            } => {
                assert_eq!(current, Some(row));
                assert_eq!(stamp, Some(SyncId(12)));
                assert_eq!(fields, vec!["title".to_owned()]);
            }
            other => panic!("expected StaleContext, got {other:?}"),
        }
    }

    #[test]
    fn stale_context_takes_the_stamp_from_the_row_when_details_lack_it() {
        let body = envelope(
            "stale_context",
            "stale_context",
            Some(serde_json::json!({"current": {"id": "t1", "stamp": 4}})),
        );
        match Error::from_response(409, &body, None) {
            Error::StaleContext { stamp, .. } => assert_eq!(stamp, Some(SyncId(4))),
            other => panic!("expected StaleContext, got {other:?}"),
        }
    }

    #[test]
    fn validation() {
        let err = Error::from_response(422, &envelope("validation", "unknown_field", None), None);
        assert!(matches!(err, Error::Validation(_)));
        assert_common(&err, "unknown_field", 422);
    }

    #[test]
    fn authentication() {
        let err = Error::from_response(
            401,
            &envelope("authentication", "invalid_api_key", None),
            None,
        );
        assert!(matches!(err, Error::Authentication(_)));
        assert_common(&err, "invalid_api_key", 401);
    }

    #[test]
    fn permission() {
        let err = Error::from_response(
            403,
            &envelope("permission", "capability_scope_denied", None),
            None,
        );
        assert!(matches!(err, Error::Permission(_)));
        assert_common(&err, "capability_scope_denied", 403);
    }

    #[test]
    fn not_found() {
        let err = Error::from_response(404, &envelope("not_found", "row_not_found", None), None);
        assert!(matches!(err, Error::NotFound(_)));
        assert_common(&err, "row_not_found", 404);
    }

    #[test]
    fn idempotency() {
        let err = Error::from_response(
            409,
            &envelope("idempotency", "idempotency_conflict", None),
            None,
        );
        assert!(matches!(err, Error::Idempotency(_)));
        assert_common(&err, "idempotency_conflict", 409);
        assert!(!err.is_transient());
    }

    #[test]
    fn rate_limit_reads_retry_after() {
        let err = Error::from_response(
            429,
            &envelope("rate_limit", "rate_limited", None),
            Some("1.5"),
        );
        assert_common(&err, "rate_limited", 429);
        match &err {
            Error::RateLimit { retry_after, .. } => {
                assert_eq!(*retry_after, Some(Duration::from_millis(1500)))
            }
            other => panic!("expected RateLimit, got {other:?}"),
        }
        assert!(err.is_transient());
        let bad_header = Error::from_response(
            429,
            &envelope("rate_limit", "rate_limited", None),
            Some("x"),
        );
        assert!(matches!(
            bad_header,
            Error::RateLimit {
                retry_after: None,
                ..
            }
        ));
    }

    #[test]
    fn busy_carries_intents() {
        let intent = serde_json::json!({"id": "int_1", "action": "update"});
        let body = envelope(
            "busy",
            "busy",
            Some(serde_json::json!({"intents": [intent.clone()]})),
        );
        let err = Error::from_response(409, &body, None);
        assert_common(&err, "busy", 409);
        match err {
            Error::Busy { intents, .. } => assert_eq!(intents, vec![intent]),
            other => panic!("expected Busy, got {other:?}"),
        }
    }

    #[test]
    fn entity_claimed_is_recognised_by_code_under_any_type() {
        let claim = serde_json::json!({"id": "int_9", "exclusive": true});
        for kind in ["entity_claimed", "busy", "conflict"] {
            let details = serde_json::json!({"intents": [claim.clone()]});
            let err =
                Error::from_response(409, &envelope(kind, "entity_claimed", Some(details)), None);
            assert_common(&err, "entity_claimed", 409);
            match err {
                Error::EntityClaimed { intents, .. } => assert_eq!(intents, vec![claim.clone()]),
                other => panic!("{kind}: expected EntityClaimed, got {other:?}"),
            }
        }
    }

    #[test]
    fn server() {
        let err = Error::from_response(500, &envelope("server", "internal", None), None);
        assert!(matches!(err, Error::Server(_)));
        assert_common(&err, "internal", 500);
        assert!(err.is_transient());
    }

    #[test]
    fn connection_and_configuration_are_client_side() {
        let err = Error::connection("connect_failed", "refused");
        assert!(matches!(err, Error::Connection(_)));
        assert_eq!(err.request_id(), None);
        assert_eq!(err.status(), None);
        let err = Error::configuration("invalid_url", "nope");
        assert!(matches!(err, Error::Configuration(_)));
        assert!(!err.is_transient());
    }

    #[test]
    fn non_envelope_bodies_map_by_status() {
        let cases = [
            (400, "validation"),
            (401, "authentication"),
            (403, "permission"),
            (404, "not_found"),
            (405, "validation"),
            (413, "validation"),
            (429, "rate_limit"),
            (503, "server"),
        ];
        for (status, expected) in cases {
            let err = Error::from_response(status, b"plain text", None);
            let kind = match err {
                Error::Validation(_) => "validation",
                Error::Authentication(_) => "authentication",
                Error::Permission(_) => "permission",
                Error::NotFound(_) => "not_found",
                Error::RateLimit { .. } => "rate_limit",
                Error::Server(_) => "server",
                _ => "other",
            };
            assert_eq!(kind, expected, "status {status}");
            assert_eq!(err.code(), format!("http_{status}"));
            assert!(err.message().contains("plain text"));
        }
    }

    #[test]
    fn unknown_types_fall_back_on_the_status() {
        let err = Error::from_response(403, &envelope("brand_new", "whatever", None), None);
        assert!(matches!(err, Error::Permission(_)));
    }

    #[test]
    fn display_names_code_and_request_id() {
        let err = Error::from_response(404, &envelope("not_found", "row_not_found", None), None);
        let text = err.to_string();
        assert!(
            text.contains("row_not_found") && text.contains("req_1"),
            "{text}"
        );
    }
}
