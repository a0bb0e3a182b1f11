//! [`ApiError`]: every error a request or a WebSocket session can end in,
//! with its wire type, code, message and details, and the kind of
//! [`Refusal`] it is. Nothing here knows HTTP: the edge ([`crate::http`])
//! maps a refusal to its status code and renders the `{"error": {...}}`
//! envelope with the request id; the WebSocket sends the same body.

use ablo_runtime::wire::{ErrorBody, ErrorType, StaleDetails, codes};
use serde_json::json;

use crate::storage::StorageError;

/// What kind of refusal an error is, whatever the transport. The HTTP edge
/// answers each with one status code (see `docs/protocol.md`).
///
/// ```
/// use ablo_server::{ApiError, Refusal};
/// assert_eq!(ApiError::internal().refusal(), Refusal::Internal);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The request is malformed (400).
    Malformed,
    /// Well-formed, but invalid against the schema or the rules (422).
    Invalid,
    /// The body is over the size limit (413).
    TooLarge,
    /// No valid credential (401).
    Unauthenticated,
    /// The credential may not do this (403).
    Forbidden,
    /// Nothing there, or nothing the caller may see (404).
    NotFound,
    /// The request conflicts with the current state (409).
    Conflict,
    /// What was asked for is no longer kept (410).
    Gone,
    /// Too many requests or connections (429).
    RateLimited,
    /// The server failed; nothing was applied (500).
    Internal,
    /// A Data Source failed or answered wrongly (502).
    SourceFailed,
    /// The server cannot take writes now (503).
    Unavailable,
}

/// An error answered to a client: type, code, refusal, message and
/// optional details, rendered as the error envelope.
///
/// ```
/// use ablo_server::{ApiError, Refusal};
/// let err = ApiError::not_found("row_not_found", "no row tasks/t1");
/// assert_eq!(err.refusal(), Refusal::NotFound);
/// assert_eq!(err.code(), "row_not_found");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    kind: ErrorType,
    refusal: Refusal,
    code: &'static str,
    message: String,
    details: Option<serde_json::Value>,
}

impl ApiError {
    /// An error of any type and refusal.
    ///
    /// ```
    /// use ablo_server::{ApiError, Refusal};
    /// use ablo_runtime::wire::ErrorType;
    /// let err = ApiError::new(ErrorType::Validation, Refusal::TooLarge,
    ///     "payload_too_large", "body over 1 MiB");
    /// assert_eq!(err.kind(), ErrorType::Validation);
    /// ```
    pub fn new(
        kind: ErrorType,
        refusal: Refusal,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            kind,
            refusal,
            code,
            message: message.into(),
            details: None,
        }
    }

    /// Adds structured details.
    ///
    /// ```
    /// use ablo_server::ApiError;
    /// let err = ApiError::unprocessable("unknown_field", "no field x")
    ///     .with_details(serde_json::json!({"field": "x"}));
    /// assert_eq!(err.details().unwrap()["field"], "x");
    /// ```
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// `authentication` 401.
    ///
    /// ```
    /// assert_eq!(ablo_server::ApiError::authentication("invalid_api_key", "unknown key").refusal(), ablo_server::Refusal::Unauthenticated);
    /// ```
    pub fn authentication(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            ErrorType::Authentication,
            Refusal::Unauthenticated,
            code,
            message,
        )
    }

    /// `not_found` 404.
    ///
    /// ```
    /// assert_eq!(ablo_server::ApiError::not_found("model_not_found", "no model").refusal(), ablo_server::Refusal::NotFound);
    /// ```
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorType::NotFound, Refusal::NotFound, code, message)
    }

    /// `validation` 400: the request is malformed.
    ///
    /// ```
    /// assert_eq!(ablo_server::ApiError::bad_request("invalid_query", "bad limit").refusal(), ablo_server::Refusal::Malformed);
    /// ```
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorType::Validation, Refusal::Malformed, code, message)
    }

    /// `validation` 422: well-formed, but invalid against the schema.
    ///
    /// ```
    /// assert_eq!(ablo_server::ApiError::unprocessable("unknown_model", "no model").refusal(), ablo_server::Refusal::Invalid);
    /// ```
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorType::Validation, Refusal::Invalid, code, message)
    }

    /// `stale_context` 409 with the current row and its stamp.
    ///
    /// ```
    /// use ablo_runtime::{wire::StaleDetails, SyncId};
    /// let err = ablo_server::ApiError::stale(StaleDetails {
    ///     model: "tasks".into(), id: "t1".into(), operation_index: 0, read_at: SyncId(1),
    ///     stamp: SyncId(2), current: serde_json::json!({"id": "t1"}), conflicting_fields: vec![] });
    /// assert_eq!(err.refusal(), ablo_server::Refusal::Conflict);
    /// assert_eq!(err.details().unwrap()["stamp"], 2);
    /// ```
    pub fn stale(details: StaleDetails) -> Self {
        Self::new(
            ErrorType::StaleContext,
            Refusal::Conflict,
            codes::STALE_CONTEXT,
            stale_message(&details),
        )
        .with_details(serde_json::to_value(details).expect("details serialize"))
    }

    /// `idempotency` 409.
    ///
    /// ```
    /// assert_eq!(ablo_server::ApiError::idempotency("row_exists", "t1 exists").refusal(), ablo_server::Refusal::Conflict);
    /// ```
    pub fn idempotency(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorType::Idempotency, Refusal::Conflict, code, message)
    }

    /// `server` 500. The message is generic; the cause goes to the log.
    ///
    /// ```
    /// assert_eq!(ablo_server::ApiError::internal().refusal(), ablo_server::Refusal::Internal);
    /// ```
    pub fn internal() -> Self {
        Self::new(
            ErrorType::Server,
            Refusal::Internal,
            codes::INTERNAL,
            "the server failed to handle the request; nothing was applied",
        )
    }

    /// `server` 503: shutting down.
    ///
    /// ```
    /// assert_eq!(ablo_server::ApiError::unavailable().refusal(), ablo_server::Refusal::Unavailable);
    /// ```
    pub fn unavailable() -> Self {
        Self::new(
            ErrorType::Server,
            Refusal::Unavailable,
            codes::UNAVAILABLE,
            "the server is shutting down",
        )
    }

    /// `server` 503: the commit writer stopped, so this node takes no
    /// writes.
    ///
    /// ```
    /// assert_eq!(ablo_server::ApiError::writer_stopped().code(), "writer_stopped");
    /// ```
    pub fn writer_stopped() -> Self {
        Self::new(
            ErrorType::Server,
            Refusal::Unavailable,
            codes::WRITER_STOPPED,
            "the commit writer stopped; this node accepts no writes",
        )
    }

    /// The error type.
    ///
    /// ```
    /// assert_eq!(ablo_server::ApiError::internal().kind(), ablo_runtime::wire::ErrorType::Server);
    /// ```
    pub fn kind(&self) -> ErrorType {
        self.kind
    }

    /// The kind of refusal.
    ///
    /// ```
    /// use ablo_server::{ApiError, Refusal};
    /// assert_eq!(ApiError::unavailable().refusal(), Refusal::Unavailable);
    /// ```
    pub fn refusal(&self) -> Refusal {
        self.refusal
    }

    /// The error code (one of [`ablo_runtime::wire::codes`]).
    ///
    /// ```
    /// assert_eq!(ablo_server::ApiError::internal().code(), "internal_error");
    /// ```
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The human-readable message.
    ///
    /// ```
    /// assert!(ablo_server::ApiError::unavailable().message().contains("shutting down"));
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The structured details, if any.
    ///
    /// ```
    /// assert!(ablo_server::ApiError::internal().details().is_none());
    /// ```
    pub fn details(&self) -> Option<&serde_json::Value> {
        self.details.as_ref()
    }

    /// The wire body for a request id.
    ///
    /// ```
    /// let body = ablo_server::ApiError::internal().to_body("req_1");
    /// assert_eq!(body.request_id, "req_1");
    /// ```
    pub fn to_body(&self, request_id: &str) -> ErrorBody {
        ErrorBody {
            kind: self.kind,
            code: self.code.to_owned(),
            message: self.message.clone(),
            request_id: request_id.to_owned(),
            details: self.details.clone(),
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> Self {
        tracing::error!(error = %err, "storage failure");
        ApiError::internal()
    }
}

/// 404 `row_not_found` for `model/id`: the one answer for a row that does
/// not exist and for a row outside the caller's scope, so the two cannot be
/// told apart.
///
/// ```ignore
/// let err = row_not_found("tasks", "t1");
/// assert_eq!(err.code(), "row_not_found");
/// ```
pub(crate) fn row_not_found(model: &str, id: &str) -> ApiError {
    ApiError::not_found(codes::ROW_NOT_FOUND, format!("no row {model}/{id}"))
        .with_details(json!({"model": model, "id": id}))
}

/// The message of a `stale_context` error: the row, the fields that
/// changed (for `merge`), the `readAt` and the row's stamp now.
pub(crate) fn stale_message(details: &StaleDetails) -> String {
    if details.conflicting_fields.is_empty() {
        format!(
            "{}/{} changed after readAt {} (now at stamp {})",
            details.model, details.id, details.read_at, details.stamp
        )
    } else {
        format!(
            "{}/{}: fields {} changed after readAt {} (now at stamp {})",
            details.model,
            details.id,
            details.conflicting_fields.join(", "),
            details.read_at,
            details.stamp
        )
    }
}
