//! Request parts both the HTTP routes and the WebSocket upgrade read: the
//! bearer credential and the query string, each turned into typed input or
//! an [`ApiError`]. Shared here so that neither edge imports the other;
//! the read service (`reads`) takes the query string as parsed here.

use std::collections::HashMap;

use ablo_runtime::wire::codes;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The bearer token of the `Authorization` header, if any.
pub(crate) fn bearer(parts: &Parts) -> Result<Option<&str>, ApiError> {
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value.to_str().ok();
    match text.and_then(|t| t.strip_prefix("Bearer ")) {
        Some(token) if !token.trim().is_empty() => Ok(Some(token.trim())),
        _ => Err(ApiError::authentication(
            codes::MISSING_API_KEY,
            "the Authorization header must be `Bearer <api key>`",
        )),
    }
}

/// The query string as key/value pairs; an undecodable one is a 400
/// `invalid_query`.
pub(crate) struct QueryParams(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map(|q| QueryParams(q.0))
            .map_err(|rejection| ApiError::bad_request(codes::INVALID_QUERY, rejection.body_text()))
    }
}

impl QueryParams {
    /// Parses an optional parameter, naming it in the error.
    pub(crate) fn parse<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, ApiError> {
        self.0
            .get(name)
            .map(|raw| {
                raw.parse().map_err(|_| {
                    ApiError::bad_request(
                        codes::INVALID_QUERY,
                        format!("`{name}` is not valid: `{raw}`"),
                    )
                })
            })
            .transpose()
    }

    /// Parses an optional parameter holding a JSON string value such as an
    /// enum (`onStale=merge`).
    pub(crate) fn parse_enum<T: DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, ApiError> {
        self.0
            .get(name)
            .map(|raw| {
                serde_json::from_value(serde_json::Value::String(raw.clone())).map_err(|_| {
                    ApiError::bad_request(
                        codes::INVALID_QUERY,
                        format!("`{name}` is not valid: `{raw}`"),
                    )
                })
            })
            .transpose()
    }
}
