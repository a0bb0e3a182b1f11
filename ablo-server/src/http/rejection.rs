//! The HTTP edge of errors: each [`Refusal`] answered with its status code,
//! the error envelope, `Retry-After` on rate limits, and errors for
//! responses some layer produced without the envelope (405, 413, ...).

use ablo_runtime::wire::{ErrorType, codes};
use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, Refusal};

/// The status code a refusal is answered with.
pub(crate) fn status_of(refusal: Refusal) -> StatusCode {
    match refusal {
        Refusal::Malformed => StatusCode::BAD_REQUEST,
        Refusal::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        Refusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Refusal::Unauthenticated => StatusCode::UNAUTHORIZED,
        Refusal::Forbidden => StatusCode::FORBIDDEN,
        Refusal::NotFound => StatusCode::NOT_FOUND,
        Refusal::Conflict => StatusCode::CONFLICT,
        Refusal::Gone => StatusCode::GONE,
        Refusal::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        Refusal::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        Refusal::SourceFailed => StatusCode::BAD_GATEWAY,
        Refusal::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Responses carry the error in their extensions; the envelope middleware
/// adds the request id and writes the body.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = render(&self, "");
        response.extensions_mut().insert(self);
        response
    }
}

/// The error as its envelope, with its refusal's status.
pub(super) fn render(error: &ApiError, request_id: &str) -> Response {
    render_with(error, request_id, status_of(error.refusal()))
}

/// The error as its envelope with a given status (one some layer chose).
pub(super) fn render_with(error: &ApiError, request_id: &str, status: StatusCode) -> Response {
    (
        status,
        Json(serde_json::json!({"error": error.to_body(request_id)})),
    )
        .into_response()
}

/// An error for a response some layer produced without the envelope.
pub(super) fn error_for_status(status: StatusCode, text: String) -> ApiError {
    let message = |fallback: &str| {
        if text.trim().is_empty() {
            fallback.to_owned()
        } else {
            text.trim().to_owned()
        }
    };
    match status {
        StatusCode::NOT_FOUND => {
            ApiError::not_found(codes::ROUTE_NOT_FOUND, message("no such route"))
        }
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            ErrorType::Validation,
            Refusal::Malformed,
            codes::METHOD_NOT_ALLOWED,
            "this route does not accept that method (see the Allow header)",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            ErrorType::Validation,
            Refusal::TooLarge,
            codes::PAYLOAD_TOO_LARGE,
            "the request body is larger than the server's limit",
        ),
        s if s.is_client_error() => ApiError::new(
            ErrorType::Validation,
            Refusal::Malformed,
            codes::INVALID_REQUEST,
            message("the request is not valid"),
        ),
        _ => ApiError::internal(),
    }
}

/// Adds `Retry-After` to a rendered 429.
pub(super) fn add_retry_after(error: &ApiError, response: &mut Response) {
    if error.code() != codes::RATE_LIMITED {
        return;
    }
    let ms = error
        .details()
        .and_then(|d| d["retryAfterMs"].as_u64())
        .unwrap_or(1000);
    let seconds = ms.div_ceil(1000).max(1);
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, value);
    }
}
