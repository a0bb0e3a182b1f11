//! [`ApiError`]: every error a request can end in, with its wire type, code
//! and HTTP status. Handlers return it; the envelope middleware in
//! [`crate::http`] renders it as `{"error": {...}}` with the request id.

use ablo_runtime::wire::{ErrorBody, ErrorType, StaleDetails, codes};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::storage::StorageError;

/// An error answered to a client: type, code, HTTP status, message and
/// optional details, rendered as the error envelope.
///
/// ```
/// use ablo_server::ApiError;
/// let err = ApiError::not_found("row_not_found", "no row tasks/t1");
/// assert_eq!(err.status().as_u16(), 404);
/// assert_eq!(err.code(), "row_not_found");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    kind: ErrorType,
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Option<serde_json::Value>,
}

impl ApiError {
    /// An error of any type and status.
    ///
    /// ```
    /// use ablo_server::ApiError;
    /// use ablo_runtime::wire::ErrorType;
    /// use axum::http::StatusCode;
    /// let err = ApiError::new(ErrorType::Validation, StatusCode::PAYLOAD_TOO_LARGE,
    ///     "payload_too_large", "body over 1 MiB");
    /// assert_eq!(err.kind(), ErrorType::Validation);
    /// ```
    pub fn new(
        kind: ErrorType,
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            kind,
            status,
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
    /// assert_eq!(ablo_server::ApiError::authentication("invalid_api_key", "unknown key").status().as_u16(), 401);
    /// ```
    pub fn authentication(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            ErrorType::Authentication,
            StatusCode::UNAUTHORIZED,
            code,
            message,
        )
    }

    /// `not_found` 404.
    ///
    /// ```
    /// assert_eq!(ablo_server::ApiError::not_found("model_not_found", "no model").status().as_u16(), 404);
    /// ```
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorType::NotFound, StatusCode::NOT_FOUND, code, message)
    }

    /// `validation` 400: the request is malformed.
    ///
    /// ```
    /// assert_eq!(ablo_server::ApiError::bad_request("invalid_query", "bad limit").status().as_u16(), 400);
    /// ```
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            ErrorType::Validation,
            StatusCode::BAD_REQUEST,
            code,
            message,
        )
    }

    /// `validation` 422: well-formed, but invalid against the schema.
    ///
    /// ```
    /// assert_eq!(ablo_server::ApiError::unprocessable("unknown_model", "no model").status().as_u16(), 422);
    /// ```
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            ErrorType::Validation,
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            message,
        )
    }

    /// `stale_context` 409 with the current row and its stamp.
    ///
    /// ```
    /// use ablo_runtime::{wire::StaleDetails, SyncId};
    /// let err = ablo_server::ApiError::stale(StaleDetails {
    ///     model: "tasks".into(), id: "t1".into(), operation_index: 0, read_at: SyncId(1),
    ///     stamp: SyncId(2), current: serde_json::json!({"id": "t1"}), conflicting_fields: vec![] });
    /// assert_eq!(err.status().as_u16(), 409);
    /// assert_eq!(err.details().unwrap()["stamp"], 2);
    /// ```
    pub fn stale(details: StaleDetails) -> Self {
        let message = if details.conflicting_fields.is_empty() {
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
        };
        Self::new(
            ErrorType::StaleContext,
            StatusCode::CONFLICT,
            codes::STALE_CONTEXT,
            message,
        )
        .with_details(serde_json::to_value(details).expect("details serialize"))
    }

    /// `idempotency` 409.
    ///
    /// ```
    /// assert_eq!(ablo_server::ApiError::idempotency("row_exists", "t1 exists").status().as_u16(), 409);
    /// ```
    pub fn idempotency(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorType::Idempotency, StatusCode::CONFLICT, code, message)
    }

    /// `server` 500. The message is generic; the cause goes to the log.
    ///
    /// ```
    /// assert_eq!(ablo_server::ApiError::internal().status().as_u16(), 500);
    /// ```
    pub fn internal() -> Self {
        Self::new(
            ErrorType::Server,
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            "the server failed to handle the request; nothing was applied",
        )
    }

    /// `server` 503: shutting down.
    ///
    /// ```
    /// assert_eq!(ablo_server::ApiError::unavailable().status().as_u16(), 503);
    /// ```
    pub fn unavailable() -> Self {
        Self::new(
            ErrorType::Server,
            StatusCode::SERVICE_UNAVAILABLE,
            codes::UNAVAILABLE,
            "the server is shutting down",
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

    /// The HTTP status.
    ///
    /// ```
    /// assert_eq!(ablo_server::ApiError::unavailable().status().as_u16(), 503);
    /// ```
    pub fn status(&self) -> StatusCode {
        self.status
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

/// Responses carry the error in their extensions; the envelope middleware
/// adds the request id and writes the body.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let mut response = (status, axum::Json(json!({"error": self.to_body("")}))).into_response();
        response.extensions_mut().insert(self);
        response
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
