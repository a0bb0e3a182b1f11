//! Schema push and read, models CRUD and `POST /v1/commits`. Every write
//! here runs through [`crate::pipeline::run`].

use ablo_runtime::wire::{
    CommitReceipt, CommitRequest, CreateRowRequest, DeleteResponse, IfBusy, ListResponse, OnStale,
    Operation, RetrieveResponse, SchemaPushResponse, UpdateRowRequest, codes,
};
use ablo_runtime::{Json, SchemaDescriptor, SyncId};
use axum::Json as JsonBody;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::json;

use super::{ApiJson, IdempotencyKey, QueryParams};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::SharedState;
use crate::storage::{ListPosition, ListQuery, SortKey, StoredRow};

/// The default page size of a list.
const DEFAULT_LIMIT: usize = 50;

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
        return Err(crate::capability::api_key_required("schema.push"));
    }
    let allow_breaking = query.parse::<bool>("allowBreaking")?.unwrap_or(false);
    crate::schema::push(&state.store, &state.schema, schema, allow_breaking)
        .await
        .map(JsonBody)
}

/// The model in the path, or 404 `model_not_found`.
fn require_model(
    state: &SharedState,
    model: &str,
) -> Result<std::sync::Arc<SchemaDescriptor>, ApiError> {
    let schema = state.schema().ok_or_else(|| {
        ApiError::not_found(codes::SCHEMA_NOT_FOUND, "no schema has been pushed yet")
    })?;
    if schema.model(model).is_none() {
        return Err(ApiError::not_found(
            codes::MODEL_NOT_FOUND,
            format!("the schema has no model `{model}`"),
        ));
    }
    Ok(schema)
}

pub(super) async fn list(
    State(state): State<SharedState>,
    principal: Principal,
    Path(model): Path<String>,
    query: QueryParams,
) -> Result<JsonBody<ListResponse>, ApiError> {
    let schema = require_model(&state, &model)?;
    crate::capability::authorize_read(&principal, &model)?;
    let binding = cursor_binding(&principal, &model, &query);
    let mut list_query = parse_list_query(&schema, &model, &query, state.config.max_page_size)?;
    if let Some(cursor) = query.0.get("cursor") {
        list_query.after = Some(decode_cursor(&state, &binding, cursor)?);
    }
    // The caller's groups are part of the query: a page, and the cursor
    // built from its last row, only ever reflect rows the caller may read.
    if !principal.is_api_key() && !principal.scope.allows_every_group() {
        list_query.visible_to = Some(principal.scope.group_filter());
    }
    if let Some(source) = state.sources.for_model(&model)
        && list_query.after.is_none()
    {
        crate::sources::reads::refresh_list(&state.source_context(), &schema, &source, &list_query)
            .await?;
    }
    list_query.max_bytes = Some(state.config.max_page_bytes);
    let limit = list_query.limit;
    let sort = list_query.sort.clone();
    let page = state.storage(move |s| s.list(&list_query)).await?;
    let (rows, head) = (page.rows, page.head);
    let next_cursor = (rows.len() == limit || page.cut_short)
        .then(|| {
            rows.last()
                .map(|last| encode_cursor(&state, &binding, &sort, last))
        })
        .flatten();
    Ok(JsonBody(ListResponse {
        data: rows.iter().map(StoredRow::to_wire).collect(),
        stamp: head,
        next_cursor,
    }))
}

/// What a cursor is bound to: the model, the order and the filters of its
/// list, and the principal's scope.
fn cursor_binding(principal: &Principal, model: &str, query: &QueryParams) -> String {
    let part = |name: &str| query.0.get(name).map(String::as_str).unwrap_or("");
    format!(
        "{model}\u{1f}{}\u{1f}{}\u{1f}{}",
        part("orderBy"),
        part("where"),
        principal.idempotency_key()
    )
}

fn invalid_query(message: String) -> ApiError {
    ApiError::bad_request(codes::INVALID_QUERY, message)
}

fn parse_list_query(
    schema: &SchemaDescriptor,
    model_name: &str,
    query: &QueryParams,
    max_page_size: usize,
) -> Result<ListQuery, ApiError> {
    let model = schema.model(model_name).expect("model checked");
    let mut filters = Vec::new();
    if let Some(raw) = query.0.get("where") {
        let parsed: serde_json::Map<String, Json> = serde_json::from_str(raw).map_err(|e| {
            invalid_query(format!(
                "`where` must be a JSON object from field to a value or to operators ({{\"gte\": 3}}): {e}"
            ))
        })?;
        filters = ablo_runtime::filter::parse_where(model, &parsed).map_err(invalid_query)?;
    }
    let (sort, descending) = match query.0.get("orderBy") {
        None => (SortKey::Id, false),
        Some(raw) => {
            let (name, direction) = raw.split_once(':').unwrap_or((raw.as_str(), "asc"));
            let descending = match direction {
                "asc" => false,
                "desc" => true,
                other => {
                    return Err(invalid_query(format!(
                        "`orderBy` direction must be asc or desc, got `{other}`"
                    )));
                }
            };
            let key = match name {
                "id" => SortKey::Id,
                "stamp" => SortKey::Stamp,
                "createdAt" => SortKey::CreatedAt,
                "updatedAt" => SortKey::UpdatedAt,
                field => match model.field(field) {
                    Some(f) if ablo_runtime::filter::is_sortable(&f.ty) => {
                        SortKey::Field(field.to_owned())
                    }
                    Some(_) => {
                        return Err(invalid_query(format!(
                            "`orderBy`: field `{field}` is not sortable"
                        )));
                    }
                    None => {
                        return Err(invalid_query(format!(
                            "`orderBy`: model `{model_name}` has no field `{field}`"
                        )));
                    }
                },
            };
            (key, descending)
        }
    };
    let limit = query.parse::<usize>("limit")?.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > max_page_size {
        return Err(invalid_query(format!(
            "`limit` must be 1 to {max_page_size}"
        )));
    }
    Ok(ListQuery {
        model: model_name.to_owned(),
        filters,
        sort,
        descending,
        limit,
        after: None,
        visible_to: None,
        max_bytes: None,
    })
}

fn sort_value(sort: &SortKey, row: &StoredRow) -> Json {
    match sort {
        SortKey::Id => Json::String(row.id.clone()),
        SortKey::Stamp => Json::from(row.stamp.0),
        SortKey::CreatedAt => Json::String(row.created_at.to_string()),
        SortKey::UpdatedAt => Json::String(row.updated_at.to_string()),
        SortKey::Field(name) => row.data.get(name).cloned().unwrap_or(Json::Null),
    }
}

fn encode_cursor(state: &SharedState, binding: &str, sort: &SortKey, last: &StoredRow) -> String {
    let payload = json!({"v": sort_value(sort, last), "id": last.id});
    state.cursors.seal(binding, payload.to_string().as_bytes())
}

fn decode_cursor(
    state: &SharedState,
    binding: &str,
    cursor: &str,
) -> Result<ListPosition, ApiError> {
    let bad = || {
        invalid_query(
            "`cursor` is not a cursor this list (same model, orderBy, where and credential) returned"
                .to_owned(),
        )
    };
    let bytes = state.cursors.open(binding, cursor).ok_or_else(bad)?;
    let payload: Json = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let id = payload["id"].as_str().ok_or_else(bad)?.to_owned();
    Ok(ListPosition {
        value: payload["v"].clone(),
        id,
    })
}

pub(super) async fn retrieve(
    State(state): State<SharedState>,
    principal: Principal,
    Path((model, id)): Path<(String, String)>,
    query: QueryParams,
) -> Result<JsonBody<RetrieveResponse>, ApiError> {
    let schema = require_model(&state, &model)?;
    crate::capability::authorize_read(&principal, &model)?;
    if let Some(source) = state.sources.for_model(&model) {
        crate::sources::reads::refresh_row(&state.source_context(), &schema, &source, &model, &id)
            .await?;
    }
    // Reads never block on intents; `ifBusy=return` lists them.
    let if_busy: Option<IfBusy> = query.parse_enum("ifBusy")?;
    let (lookup_model, lookup_id) = (model.clone(), id.clone());
    let (row, head) = state
        .storage(move |s| s.row(&lookup_model, &lookup_id))
        .await?;
    let row = row
        .filter(|row| crate::capability::can_read_row(&principal, &row.sync_groups))
        .ok_or_else(|| row_not_found(&model, &id))?;
    Ok(JsonBody(RetrieveResponse {
        data: row.to_wire(),
        stamp: head,
        intents: if if_busy == Some(IfBusy::Return) {
            state.intents.active_on(&ablo_runtime::wire::Target {
                model,
                id,
                field: None,
            })
        } else {
            Vec::new()
        },
    }))
}

use crate::error::row_not_found;

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
