//! `POST /v1/capabilities`, `GET` and `DELETE /v1/capabilities/{id}`:
//! minting (API key only), inspecting and revoking capabilities.

use ablo_runtime::Timestamp;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;

use super::ApiJson;
use crate::auth::Principal;
use crate::capability::{AccessError, Capabilities, MintRequest, codes};
use crate::error::ApiError;
use crate::state::SharedState;

pub(super) async fn mint(
    State(state): State<SharedState>,
    principal: Principal,
    ApiJson(request): ApiJson<MintRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if !principal.is_api_key() {
        return Err(ApiError::from(AccessError::api_key_required(
            "capabilities.mint",
        )));
    }
    let (record, token) = state
        .capabilities
        .prepare_mint(request, &principal.actor.id)?;
    let stored = record.clone();
    state.storage(move |s| s.put_capability(&stored)).await?;
    tracing::info!(capability = %record.id, participant = %record.participant.id, "capability minted");
    let mut body = Capabilities::to_json(&record);
    body["token"] = Value::String(token);
    state.capabilities.insert(record);
    Ok((StatusCode::CREATED, Json(body)))
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(codes::CAPABILITY_NOT_FOUND, format!("no capability `{id}`"))
}

/// A capability may inspect itself; an API key may inspect any.
pub(super) async fn retrieve(
    State(state): State<SharedState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let own = principal.grant.as_ref().is_some_and(|g| g.id == id);
    if !principal.is_api_key() && !own {
        return Err(ApiError::from(AccessError::api_key_required(
            "capabilities.read",
        )));
    }
    let record = state.capabilities.get(&id).ok_or_else(|| not_found(&id))?;
    Ok(Json(Capabilities::to_json(&record)))
}

/// Revokes at once: the next request with the token fails with 401
/// `capability_revoked` and its open WebSockets are closed. A capability
/// may revoke itself; revoking twice answers the same record.
pub(super) async fn revoke(
    State(state): State<SharedState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let own = principal.grant.as_ref().is_some_and(|g| g.id == id);
    if !principal.is_api_key() && !own {
        return Err(ApiError::from(AccessError::api_key_required(
            "capabilities.revoke",
        )));
    }
    if state.capabilities.get(&id).is_none() {
        return Err(not_found(&id));
    }
    let now = Timestamp::now();
    let stored_id = id.clone();
    state
        .storage(move |s| s.revoke_capability(&stored_id, now))
        .await?;
    let record = state
        .capabilities
        .revoke(&id, now)
        .ok_or_else(|| not_found(&id))?;
    tracing::info!(capability = %id, "capability revoked");
    Ok(Json(Capabilities::to_json(&record)))
}
