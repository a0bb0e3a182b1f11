//! `PUT /v1/sources/{name}`, `GET /v1/sources/{name}/status` (API key
//! only) and `POST /v1/sources/{name}/events`, the push events URL, which
//! authenticates by the source's signature instead of a bearer token.

use ablo_runtime::signing::{self, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP};
use ablo_runtime::wire::{
    ErrorType, EventsOutcome, SourceConfig, SourceEvents, SourceInfo, SourceStatus, codes,
};
use ablo_runtime::{Json as JsonValue, Timestamp};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::json;

use super::ApiJson;
use crate::auth::Principal;
use crate::capability::AccessError;
use crate::error::ApiError;
use crate::state::SharedState;
use crate::storage::SourceRecord;

pub(super) async fn put(
    State(state): State<SharedState>,
    principal: Principal,
    Path(name): Path<String>,
    ApiJson(config): ApiJson<SourceConfig>,
) -> Result<(StatusCode, Json<SourceInfo>), ApiError> {
    if !principal.is_api_key() {
        return Err(ApiError::from(AccessError::api_key_required(
            "sources.write",
        )));
    }
    check_config(&state, &name, &config)?;
    let existing = state.sources.get(&name).map(|source| source.record());
    let secret = match (config.signing_secret, &existing) {
        (Some(secret), _) => secret,
        (None, Some(existing)) => existing.secret.clone(),
        (None, None) => signing::new_secret(),
    };
    let unchanged_target = existing
        .as_ref()
        .is_some_and(|e| e.url == config.url && e.models == config.models);
    let record = SourceRecord {
        name: name.clone(),
        url: config.url,
        secret,
        models: config.models,
        // A source moved elsewhere is read from its first event again.
        events_cursor: match &existing {
            Some(e) if unchanged_target => e.events_cursor.clone(),
            _ => JsonValue::Null,
        },
        updated_at: Timestamp::now(),
    };
    let stored = record.clone();
    state.storage(move |s| s.put_source(&stored)).await?;
    state.sources.put(record.clone());
    tracing::info!(source = %name, url = %record.url, "data source configured");
    let status = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(SourceInfo {
            object: "data_source".into(),
            push_events_url: format!("/v1/sources/{name}/events"),
            name,
            url: record.url,
            models: record.models,
            signing_secret: record.secret,
        }),
    ))
}

fn check_config(state: &SharedState, name: &str, config: &SourceConfig) -> Result<(), ApiError> {
    let invalid = |message: String| ApiError::unprocessable(codes::INVALID_SOURCE, message);
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(invalid(
            "a source name is 1 to 64 letters, digits, `_` or `-`".into(),
        ));
    }
    match reqwest::Url::parse(&config.url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            let literal = url
                .host_str()
                .map(|host| host.trim_start_matches('[').trim_end_matches(']'))
                .and_then(|host| host.parse::<std::net::IpAddr>().ok());
            if let Some(why) = literal.and_then(crate::sources::address::refused) {
                return Err(
                    invalid(format!("`url` names {why}; Data Sources may not use it"))
                        .with_details(json!({"url": config.url})),
                );
            }
        }
        _ => {
            return Err(invalid(format!(
                "`url` must be an absolute http or https URL, not `{}`",
                config.url
            )));
        }
    }
    if config.models.is_empty() {
        return Err(invalid("`models` must name at least one model".into()));
    }
    if let Some(schema) = state.schema()
        && let Some(unknown) = config.models.iter().find(|m| schema.model(m).is_none())
    {
        return Err(invalid(format!("the schema has no model `{unknown}`"))
            .with_details(json!({"model": unknown})));
    }
    let taken = state.sources.claimed_elsewhere(name, &config.models);
    if !taken.is_empty() {
        return Err(invalid(format!(
            "already backed by another source: {}",
            taken.join(", ")
        )));
    }
    if let Some(secret) = &config.signing_secret
        && (!secret.starts_with("whsec_") || secret.len() < 6 + 16)
    {
        return Err(invalid(
            "`signingSecret` must be `whsec_` followed by at least 16 characters".into(),
        ));
    }
    Ok(())
}

pub(super) async fn status(
    State(state): State<SharedState>,
    principal: Principal,
    Path(name): Path<String>,
) -> Result<Json<SourceStatus>, ApiError> {
    if !principal.is_api_key() {
        return Err(ApiError::from(AccessError::api_key_required(
            "sources.read",
        )));
    }
    let source = state.sources.get(&name).ok_or_else(|| not_found(&name))?;
    Ok(Json(source.status()))
}

/// Events the source pushes, signed with its secret like the server's
/// requests to it.
pub(super) async fn push_events(
    State(state): State<SharedState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<EventsOutcome>, ApiError> {
    let source = state.sources.get(&name).ok_or_else(|| not_found(&name))?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    signing::verify(
        &source.record().secret,
        header(WEBHOOK_ID),
        header(WEBHOOK_TIMESTAMP),
        header(WEBHOOK_SIGNATURE),
        &body,
        signing::now_ms(),
    )
    .map_err(|err| {
        ApiError::new(
            ErrorType::Authentication,
            crate::error::Refusal::Unauthenticated,
            codes::INVALID_SIGNATURE,
            format!("the events request is not signed by source `{name}`: {err}"),
        )
    })?;
    let pushed: SourceEvents = serde_json::from_slice(&body).map_err(|err| {
        ApiError::bad_request(
            codes::MALFORMED_JSON,
            format!("the body must be {{\"events\": [...]}}: {err}"),
        )
    })?;
    let outcome =
        crate::sources::events::apply(&state.source_context(), &source, pushed.events).await?;
    Ok(Json(outcome))
}

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(codes::SOURCE_NOT_FOUND, format!("no Data Source `{name}`"))
        .with_details(json!({"source": name}))
}
