//! Schema push and read, models CRUD and `POST /v1/commits`. Every write
//! here runs through [`crate::pipeline::run`], every read through
//! [`crate::reads::Reads`].

use ablo_runtime::wire::{
    CommitReceipt, CommitRequest, CreateRowRequest, DeleteResponse, IfBusy, ListResponse, OnStale,
    Operation, RetrieveResponse, SchemaPushResponse, UpdateRowRequest, codes,
};
use ablo_runtime::{Json, SchemaDescriptor, SyncId};
use axum::Json as JsonBody;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::{ApiJson, IdempotencyKey, QueryParams};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::reads::Reads;
use crate::state::SharedState;

pub(super) async fn get_schema(
    State(state): State<SharedState>,
    _: Principal,
) -> Result<JsonBody<SchemaDescriptor>, ApiError> {
    match state.schema() {
        Some(schema) => Ok(JsonBody((*schema).clone())),
        None => Err(ApiError::not_found(
            codes::SCHEMA_NOT_FOUND,
            "no schema has been pushed yet",
        )),
    }
}

pub(super) async fn put_schema(
    State(state): State<SharedState>,
    principal: Principal,
    query: QueryParams,
    ApiJson(schema): ApiJson<SchemaDescriptor>,
) -> Result<JsonBody<SchemaPushResponse>, ApiError> {
    if !principal.is_api_key() {
        return Err(ApiError::from(
            crate::capability::AccessError::api_key_required("schema.push"),
        ));
    }
    let allow_breaking = query.parse::<bool>("allowBreaking")?.unwrap_or(false);
    crate::schema::push(&state.store, &state.schema, schema, allow_breaking)
        .await
        .map(JsonBody)
}

/// The model in the path, or 404 `model_not_found`.
fn require_model(state: &SharedState, model: &str) -> Result<(), ApiError> {
    state.schema.with_model(model).map(|_| ())
}

pub(super) async fn list(
    State(reads): State<Reads>,
    principal: Principal,
    Path(model): Path<String>,
    query: QueryParams,
) -> Result<JsonBody<ListResponse>, ApiError> {
    reads.list(&principal, &model, &query).await.map(JsonBody)
}

pub(super) async fn retrieve(
    State(reads): State<Reads>,
    principal: Principal,
    Path((model, id)): Path<(String, String)>,
    query: QueryParams,
) -> Result<JsonBody<RetrieveResponse>, ApiError> {
    reads
        .retrieve(&principal, model, id, &query)
        .await
        .map(JsonBody)
}

/// The one row a single-operation commit wrote.
fn only_row(receipt: CommitReceipt) -> Json {
    receipt.rows.into_iter().next().unwrap_or_default()
}

pub(super) async fn create(
    State(state): State<SharedState>,
    principal: Principal,
    Path(model): Path<String>,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(body): ApiJson<CreateRowRequest>,
) -> Result<(StatusCode, JsonBody<Json>), ApiError> {
    require_model(&state, &model)?;
    let mut operation = Operation::create(model, Json::Object(body.data));
    operation.id = body.id;
    let receipt =
        crate::pipeline::run(&state, &principal, CommitRequest::new(vec![operation]), key).await?;
    Ok((StatusCode::CREATED, JsonBody(only_row(receipt))))
}

pub(super) async fn update(
    State(state): State<SharedState>,
    principal: Principal,
    Path((model, id)): Path<(String, String)>,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(body): ApiJson<UpdateRowRequest>,
) -> Result<JsonBody<Json>, ApiError> {
    require_model(&state, &model)?;
    let mut operation = Operation::update(model, id, Json::Object(body.data));
    operation.read_at = body.read_at;
    operation.on_stale = body.on_stale;
    operation.if_busy = body.if_busy;
    let receipt =
        crate::pipeline::run(&state, &principal, CommitRequest::new(vec![operation]), key).await?;
    Ok(JsonBody(only_row(receipt)))
}

pub(super) async fn delete(
    State(state): State<SharedState>,
    principal: Principal,
    Path((model, id)): Path<(String, String)>,
    IdempotencyKey(key): IdempotencyKey,
    query: QueryParams,
) -> Result<JsonBody<DeleteResponse>, ApiError> {
    require_model(&state, &model)?;
    let mut operation = Operation::delete(model.clone(), id.clone());
    operation.read_at = query.parse::<u64>("readAt")?.map(SyncId);
    operation.on_stale = query.parse_enum::<OnStale>("onStale")?;
    operation.if_busy = query.parse_enum::<IfBusy>("ifBusy")?;
    let receipt =
        crate::pipeline::run(&state, &principal, CommitRequest::new(vec![operation]), key).await?;
    Ok(JsonBody(DeleteResponse {
        id,
        model,
        deleted: true,
        stamp: receipt.sync_id,
    }))
}

pub(super) async fn commit(
    State(state): State<SharedState>,
    principal: Principal,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(request): ApiJson<CommitRequest>,
) -> Result<JsonBody<CommitReceipt>, ApiError> {
    crate::pipeline::run(&state, &principal, request, key)
        .await
        .map(JsonBody)
}
