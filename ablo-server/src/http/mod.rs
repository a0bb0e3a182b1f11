//! The HTTP layer: routes, the error envelope and request ids, and the
//! extractors that turn requests into typed input or an enveloped error.

mod agent_runs;
mod audit;
mod capabilities;
mod intents;
mod models;
mod rejection;
mod sources;
mod sync;

use std::time::Instant;

use ablo_runtime::wire::{HealthResponse, IDEMPOTENCY_KEY_HEADER, REQUEST_ID_HEADER, codes};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::auth::Principal;
use crate::error::ApiError;
pub(crate) use crate::extract::{QueryParams, bearer};
use crate::state::SharedState;

/// Every route of the v1 API.
pub(crate) fn router(state: SharedState) -> Router {
    let body_limit = state.config.body_limit;
    let routes = Router::new()
        .route("/v1/health", get(health))
        .route("/v1/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
        .route(
            "/v1/schema",
            get(models::get_schema).put(models::put_schema),
        )
        .route("/v1/models/{model}", get(models::list).post(models::create))
        .route(
            "/v1/models/{model}/{id}",
            get(models::retrieve)
                .patch(models::update)
                .delete(models::delete),
        )
        .route("/v1/commits", post(models::commit))
        .route("/v1/sync/deltas", get(sync::deltas))
        .route("/v1/sync/snapshot", get(sync::snapshot))
        .route("/v1/sync/ws", get(crate::ws::upgrade))
        .route("/v1/intents", get(intents::list).post(intents::create))
        .route("/v1/intents/{id}/heartbeat", post(intents::heartbeat))
        .route("/v1/intents/{id}", axum::routing::delete(intents::release))
        .route("/v1/capabilities", post(capabilities::mint))
        .route(
            "/v1/capabilities/{id}",
            get(capabilities::retrieve).delete(capabilities::revoke),
        )
        .route("/v1/tasks", post(agent_runs::open))
        .route("/v1/tasks/{id}", get(agent_runs::retrieve))
        .route("/v1/tasks/{id}/close", post(agent_runs::close))
        .route("/v1/audit", get(audit::list))
        .route("/v1/audit/verify", get(audit::verify))
        .route("/v1/audit/export", get(audit::export))
        .route("/v1/sources/{name}", axum::routing::put(sources::put))
        .route("/v1/sources/{name}/status", get(sources::status))
        .route("/v1/sources/{name}/events", post(sources::push_events))
        .fallback(route_not_found);
    let cors = cors_layer(&state.config.allowed_origins);
    let router = layered(routes, body_limit).with_state(state);
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// CORS for the configured browser origins (`--allow-origin`); none by
/// default. Browsers send the bearer token themselves, so credentials
/// (cookies) are not allowed.
fn cors_layer(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::{HeaderName, Method};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                AUTHORIZATION,
                CONTENT_TYPE,
                HeaderName::from_static(IDEMPOTENCY_KEY_HEADER),
            ])
            .expose_headers([
                HeaderName::from_static(REQUEST_ID_HEADER),
                axum::http::header::RETRY_AFTER,
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// The layers around every route, innermost first: a panicking handler
/// becomes a 500 `internal_error` (the connection is not dropped), the body
/// limit, then the request id and envelope on every error.
fn layered<S: Clone + Send + Sync + 'static>(routes: Router<S>, body_limit: usize) -> Router<S> {
    routes
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(envelope))
}

fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    tracing::error!(panic = %what, "a request handler panicked");
    ApiError::internal().into_response()
}

/// `ok`, or 503 `writer_stopped` once the commit writer has died, so a
/// load balancer stops sending traffic to a node that cannot write.
async fn health(
    axum::extract::State(state): axum::extract::State<SharedState>,
) -> Result<Json<HealthResponse>, ApiError> {
    if !state.committer.is_alive() {
        return Err(ApiError::writer_stopped());
    }
    Ok(Json(HealthResponse {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    }))
}

/// `GET /metrics` (API key): every series in the Prometheus text format.
async fn metrics(
    axum::extract::State(state): axum::extract::State<SharedState>,
    principal: crate::auth::Principal,
) -> Result<Response, ApiError> {
    if !principal.is_api_key() {
        return Err(ApiError::from(
            crate::capability::AccessError::api_key_required("metrics.read"),
        ));
    }
    state
        .metrics
        .writer_queue
        .set(state.committer.queue_depth() as i64);
    state.metrics.intents.set(state.intents.len() as i64);
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}

async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::openapi_document())
}

async fn route_not_found(request: Request) -> ApiError {
    ApiError::not_found(
        codes::ROUTE_NOT_FOUND,
        format!("no route {} {}", request.method(), request.uri().path()),
    )
}

/// Gives every request an id (`x-request-id`), logs it, and makes sure every
/// error response carries the envelope with that id, including the ones
/// produced outside handlers (405 from routing, 413 from the body limit,
/// WebSocket upgrade refusals).
async fn envelope(request: Request, next: Next) -> Response {
    let request_id = format!("req_{}", uuid::Uuid::now_v7().simple());
    let span = tracing::info_span!(
        "request",
        id = %request_id,
        method = %request.method(),
        path = %request.uri().path()
    );
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let mut response = enveloped(response, &request_id).await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "handled"
        )
    });
    response
}

async fn enveloped(mut response: Response, request_id: &str) -> Response {
    let status = response.status();
    let error = match response.extensions_mut().remove::<ApiError>() {
        Some(error) => error,
        None if status.is_client_error() || status.is_server_error() => {
            let (parts, body) = response.into_parts();
            let text = axum::body::to_bytes(body, 16 * 1024)
                .await
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&text).into_owned();
            let error = rejection::error_for_status(status, text);
            let mut rebuilt = rejection::render_with(&error, request_id, status);
            if let Some(allow) = parts.headers.get(axum::http::header::ALLOW) {
                rebuilt
                    .headers_mut()
                    .insert(axum::http::header::ALLOW, allow.clone());
            }
            return rebuilt;
        }
        None => return response,
    };
    let (parts, _) = response.into_parts();
    let mut rebuilt = rejection::render(&error, request_id);
    rejection::add_retry_after(&error, &mut rebuilt);
    for (name, value) in &parts.headers {
        if name != CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            rebuilt.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rebuilt
}

/// Authenticates the `Authorization: Bearer` header (stage 1 of the commit
/// pipeline, run before any body is read).
impl FromRequestParts<SharedState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, ApiError> {
        crate::pipeline::authenticate(state, bearer(parts)?)
    }
}

/// A JSON body parsed into `T`; malformed JSON is a 400 `malformed_json`
/// and a body over the limit a 413 `payload_too_large`.
pub(crate) struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    rejection::error_for_status(StatusCode::PAYLOAD_TOO_LARGE, String::new())
                } else {
                    ApiError::bad_request(codes::MALFORMED_JSON, rejection.body_text())
                }
            })?;
        if bytes.is_empty() {
            return Err(ApiError::bad_request(
                codes::MALFORMED_JSON,
                "expected a JSON body",
            ));
        }
        serde_json::from_slice(&bytes).map(ApiJson).map_err(|err| {
            ApiError::bad_request(codes::MALFORMED_JSON, format!("invalid JSON body: {err}"))
        })
    }
}

/// The `Idempotency-Key` header, if present.
pub(crate) struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(IDEMPOTENCY_KEY_HEADER) else {
            return Ok(IdempotencyKey(None));
        };
        match value.to_str() {
            Ok(text) if !text.trim().is_empty() && text.len() <= 256 => {
                Ok(IdempotencyKey(Some(text.trim().to_owned())))
            }
            _ => Err(ApiError::bad_request(
                codes::INVALID_REQUEST,
                "Idempotency-Key must be 1 to 256 visible ASCII characters",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_answers_500_with_the_envelope() {
        let routes: Router<()> = Router::new().route(
            "/boom",
            get(|| async {
                panic!("a bug in a handler");
                #[allow(unreachable_code)]
                ()
            }),
        );
        let response = layered(routes, 1024)
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let request_id = response.headers()[REQUEST_ID_HEADER]
            .to_str()
            .unwrap()
            .to_owned();
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["type"], "server");
        assert_eq!(body["error"]["code"], "internal_error");
        assert_eq!(body["error"]["requestId"], request_id.as_str());
        assert!(
            !body.to_string().contains("a bug in a handler"),
            "the panic message stays in the log"
        );
    }
}
