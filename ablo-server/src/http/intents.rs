//! `/v1/intents`: take, list, heartbeat and release intents and claims.
//! The participant is always the request's credential. On a store several
//! nodes share, the store's authority decides (`coordination::shared`);
//! otherwise this node's board does.

use std::time::Duration;

use ablo_runtime::wire::{
    CreateIntentRequest, ErrorType, IntentList, IntentReleased, IntentResponse, IntentStatus,
    Target, codes,
};
use axum::Json as JsonBody;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::json;

use super::{ApiJson, QueryParams};
use crate::auth::Principal;
use crate::coordination::{
    BoardError, ClaimOutcome, IntentRequest, SharedError, record_guard_stamp,
};
use crate::error::ApiError;
use crate::state::SharedState;

/// `POST /v1/intents`: 201 with an active intent (and, for a claim, the
/// fresh row and its stamp), 202 with a queued claim and its position.
pub(super) async fn create(
    State(state): State<SharedState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateIntentRequest>,
) -> Result<(StatusCode, JsonBody<IntentResponse>), ApiError> {
    check_target(&state, &body.target)?;
    if body.action.trim().is_empty() || body.action.len() > 64 {
        return Err(ApiError::unprocessable(
            codes::INVALID_REQUEST,
            "`action` must be 1 to 64 characters",
        ));
    }
    crate::capability::authorize_read(&principal, &body.target.model)?;
    if body.exclusive {
        crate::capability::authorize_claim(&principal, &body.target.model)?;
    }
    let sync_groups = row_groups(&state, &principal, &body.target).await?;
    let request = IntentRequest {
        participant: principal.participant(),
        credential: Some(
            principal
                .grant
                .as_ref()
                .map_or_else(|| principal.actor.id.clone(), |g| g.id.clone()),
        ),
        target: body.target,
        action: body.action,
        ttl: body.ttl_ms.map(Duration::from_millis),
        exclusive: body.exclusive,
        wait: body.wait,
        sync_groups,
    };
    let outcome = match state.intents.authority() {
        Some(shared) => {
            let ttl = state
                .intents
                .checked_ttl(request.ttl)
                .map_err(board_error)?;
            shared.create(request, ttl).await.map_err(shared_error)?
        }
        None => state.intents.create(request).map_err(board_error)?,
    };
    match outcome {
        ClaimOutcome::Active(intent) => {
            let (data, stamp) = if intent.exclusive {
                record_guard_stamp(&state.store, &state.intents, &intent)
                    .await
                    .unzip()
            } else {
                (None, None)
            };
            Ok((
                StatusCode::CREATED,
                JsonBody(IntentResponse {
                    intent,
                    status: IntentStatus::Active,
                    position: None,
                    data,
                    stamp,
                }),
            ))
        }
        ClaimOutcome::Queued { intent, position } => Ok((
            StatusCode::ACCEPTED,
            JsonBody(IntentResponse {
                intent,
                status: IntentStatus::Queued,
                position: Some(position),
                data: None,
                stamp: None,
            }),
        )),
    }
}

/// `GET /v1/intents?model&id&field`: the active intents on a target.
pub(super) async fn list(
    State(state): State<SharedState>,
    principal: Principal,
    query: QueryParams,
) -> Result<JsonBody<IntentList>, ApiError> {
    let required = |name: &str| {
        query.0.get(name).cloned().ok_or_else(|| {
            ApiError::bad_request(codes::INVALID_QUERY, format!("`{name}` is required"))
        })
    };
    let target = Target {
        model: required("model")?,
        id: required("id")?,
        field: query.0.get("field").cloned(),
    };
    check_target(&state, &target)?;
    crate::capability::authorize_read(&principal, &target.model)?;
    row_groups(&state, &principal, &target).await?;
    Ok(JsonBody(IntentList {
        data: state.intents.active_on(&target),
    }))
}

/// `POST /v1/intents/{id}/heartbeat`: renews the lease.
pub(super) async fn heartbeat(
    State(state): State<SharedState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<JsonBody<IntentResponse>, ApiError> {
    let (intent, position, stamp) = match state.intents.authority() {
        Some(shared) => {
            let renewed = shared
                .heartbeat(&id, &principal.participant())
                .await
                .map_err(shared_error)?;
            // This node's guard moves with the holder's commits here.
            let stamp = state
                .intents
                .guard_stamp(&id)
                .max(renewed.guard_stamp)
                .filter(|_| renewed.position.is_none());
            (renewed.intent, renewed.position, stamp)
        }
        None => {
            let intent = state
                .intents
                .heartbeat(&id, &principal.participant())
                .map_err(board_error)?;
            let position = state.intents.queue_position(&intent.id);
            (intent, position, state.intents.guard_stamp(&id))
        }
    };
    Ok(JsonBody(IntentResponse {
        status: if position.is_some() {
            IntentStatus::Queued
        } else {
            IntentStatus::Active
        },
        stamp,
        intent,
        position,
        data: None,
    }))
}

/// `DELETE /v1/intents/{id}`: releases; idempotent.
pub(super) async fn release(
    State(state): State<SharedState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<JsonBody<IntentReleased>, ApiError> {
    let released = match state.intents.authority() {
        Some(shared) => shared
            .release(&id, &principal.participant())
            .await
            .map_err(shared_error)?,
        None => state
            .intents
            .release(&id, &principal.participant())
            .map_err(board_error)?,
    };
    Ok(JsonBody(IntentReleased {
        id,
        released: released.is_some(),
    }))
}

fn check_target(state: &SharedState, target: &Target) -> Result<(), ApiError> {
    let schema = state.schema().ok_or_else(|| {
        ApiError::not_found(codes::SCHEMA_NOT_FOUND, "no schema has been pushed yet")
    })?;
    let Some(model) = schema.model(&target.model) else {
        return Err(ApiError::not_found(
            codes::MODEL_NOT_FOUND,
            format!("the schema has no model `{}`", target.model),
        ));
    };
    if let Some(field) = &target.field
        && model.field(field).is_none()
    {
        return Err(ApiError::unprocessable(
            codes::UNKNOWN_FIELD,
            format!("model `{}` has no field `{field}`", target.model),
        )
        .with_details(json!({"field": field})));
    }
    Ok(())
}

/// The target row's sync groups: intent events reach their subscribers
/// only. An intent needs an existing row within the caller's scope (one
/// outside it is answered as not found).
async fn row_groups(
    state: &SharedState,
    principal: &Principal,
    target: &Target,
) -> Result<Vec<String>, ApiError> {
    let (model, id) = (target.model.clone(), target.id.clone());
    let (row, _) = state.storage(move |s| s.row(&model, &id)).await?;
    match row {
        Some(row) if crate::capability::can_read_row(principal, &row.sync_groups) => {
            Ok(row.sync_groups)
        }
        _ => Err(crate::error::row_not_found(&target.model, &target.id)),
    }
}

fn shared_error(err: SharedError) -> ApiError {
    match err {
        SharedError::Board(err) => board_error(err),
        SharedError::Storage(err) => err.into(),
    }
}

fn board_error(err: BoardError) -> ApiError {
    let message = err.to_string();
    match err {
        BoardError::EntityClaimed { holders } => ApiError::new(
            ErrorType::EntityClaimed,
            crate::error::Refusal::Conflict,
            codes::ENTITY_CLAIMED,
            message,
        )
        .with_details(json!({"intents": holders})),
        BoardError::QueueFull { depth } => ApiError::new(
            ErrorType::Busy,
            crate::error::Refusal::Conflict,
            codes::CLAIM_QUEUE_FULL,
            message,
        )
        .with_details(json!({"depth": depth})),
        BoardError::NotFound { id } => {
            ApiError::not_found(codes::INTENT_NOT_FOUND, message).with_details(json!({"id": id}))
        }
        BoardError::NotHolder { id } => ApiError::new(
            ErrorType::Permission,
            crate::error::Refusal::Forbidden,
            codes::NOT_INTENT_HOLDER,
            message,
        )
        .with_details(json!({"id": id})),
        BoardError::ParticipantLimit { limit } => ApiError::new(
            ErrorType::Busy,
            crate::error::Refusal::Conflict,
            codes::INTENT_LIMIT,
            message,
        )
        .with_details(json!({"limit": limit})),
        BoardError::RowLimit { limit } => ApiError::new(
            ErrorType::Busy,
            crate::error::Refusal::Conflict,
            codes::ROW_INTENT_LIMIT,
            message,
        )
        .with_details(json!({"limit": limit})),
        BoardError::InvalidTtl { min_ms, max_ms } => {
            ApiError::unprocessable(codes::INVALID_TTL, message)
                .with_details(json!({"minMs": min_ms, "maxMs": max_ms}))
        }
    }
}
