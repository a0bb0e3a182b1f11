//! `POST /v1/tasks`, `GET /v1/tasks/{id}`, `POST /v1/tasks/{id}/close`.
//! They use only the store, so they take it as their state (a substate of
//! the server's, see `state.rs`), not the whole server state.

use ablo_runtime::Timestamp;
use ablo_runtime::wire::ErrorType;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::ApiJson;
use crate::agent_runs::{CloseTask, OpenTask, to_json};
use crate::auth::Principal;
use crate::capability::codes;
use crate::error::ApiError;
use crate::storage::AgentRunRecord;
use crate::store::Store;

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(codes::TASK_NOT_FOUND, format!("no task `{id}`"))
        .with_details(json!({"taskId": id}))
}

async fn load(store: &Store, id: &str) -> Result<AgentRunRecord, ApiError> {
    let lookup = id.to_owned();
    store
        .call(move |s| s.agent_run(&lookup))
        .await?
        .ok_or_else(|| not_found(id))
}

/// Only the participant that opened a run, or an API key, may see or
/// close it.
fn may_touch(principal: &Principal, run: &AgentRunRecord) -> Result<(), ApiError> {
    if principal.is_api_key() || principal.participant() == run.participant {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorType::Permission,
        crate::error::Refusal::Forbidden,
        codes::CAPABILITY_SCOPE_DENIED,
        "only the participant that opened the task, or an API key, may use it",
    )
    .with_details(json!({"taskId": run.id})))
}

pub(super) async fn open(
    State(store): State<Store>,
    principal: Principal,
    ApiJson(request): ApiJson<OpenTask>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if let Some(parent) = &request.parent_task_id {
        load(&store, parent).await?;
    }
    let run = AgentRunRecord {
        id: format!("task_{}", uuid::Uuid::now_v7().simple()),
        participant: principal.participant(),
        on_behalf_of: principal.on_behalf_of.clone(),
        capability_id: principal.grant.as_ref().map(|g| g.id.clone()),
        prompt: request.prompt,
        surface: request.surface,
        parent_task_id: request.parent_task_id,
        metadata: request.metadata,
        status: "open".into(),
        created_at: Timestamp::now(),
        closed_at: None,
        cost_input_tokens: 0,
        cost_output_tokens: 0,
        cost_compute_ms: 0,
    };
    let stored = run.clone();
    store.call(move |s| s.put_agent_run(&stored)).await?;
    Ok((StatusCode::CREATED, Json(to_json(&run))))
}

pub(super) async fn retrieve(
    State(store): State<Store>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let run = load(&store, &id).await?;
    may_touch(&principal, &run)?;
    Ok(Json(to_json(&run)))
}

pub(super) async fn close(
    State(store): State<Store>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<CloseTask>,
) -> Result<Json<Value>, ApiError> {
    let mut run = load(&store, &id).await?;
    may_touch(&principal, &run)?;
    if run.status != "open" {
        return Err(ApiError::idempotency(
            codes::TASK_CLOSED,
            format!("task `{id}` is already {}", run.status),
        )
        .with_details(json!({"taskId": id, "status": run.status})));
    }
    run.status = request.status.as_str().to_owned();
    run.closed_at = Some(Timestamp::now());
    run.cost_input_tokens = request.cost_input_tokens;
    run.cost_output_tokens = request.cost_output_tokens;
    run.cost_compute_ms = request.cost_compute_ms;
    let stored = run.clone();
    store.call(move |s| s.close_agent_run(&stored)).await?;
    Ok(Json(to_json(&run)))
}
