//! Schema push and read, models CRUD and `POST /v1/commits`. Every write
//! here runs through [`crate::commit::run`].

use ablo_runtime::wire::{
    CommitReceipt, CommitRequest, CreateRowRequest, DeleteResponse, IfBusy, ListResponse, OnStale,
    Operation, RetrieveResponse, SchemaPushResponse, UpdateRowRequest, codes,
};
use ablo_runtime::{FieldType, Json, SchemaDescriptor, SyncId};
use axum::Json as JsonBody;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use super::{ApiJson, IdempotencyKey, QueryParams};
use crate::auth::Principal;
use crate::commit;
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
    ApiJson(schema): ApiJson<SchemaDescriptor>,
) -> Result<JsonBody<SchemaPushResponse>, ApiError> {
    if !principal.is_api_key() {
        return Err(crate::capability::api_key_required("schema.push"));
    }
    if let Err(problems) = crate::schema::check(&schema) {
        return Err(ApiError::unprocessable(
            codes::INVALID_SCHEMA,
            format!("the schema cannot be enforced: {}", problems.join("; ")),
        )
        .with_details(json!({"problems": problems})));
    }
    let changed = state
        .schema()
        .is_none_or(|current| current.hash != schema.hash);
    if changed {
        let stored = schema.clone();
        state.storage(move |s| s.put_schema(&stored)).await?;
        *state.schema.write().expect("schema lock") = Some(std::sync::Arc::new(schema.clone()));
        tracing::info!(hash = %schema.hash, models = schema.models.len(), "schema pushed");
    }
    Ok(JsonBody(SchemaPushResponse {
        hash: schema.hash,
        changed,
    }))
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
    let list_query = parse_list_query(&schema, &model, &query, state.config.max_page_size)?;
    if let Some(source) = state.sources.for_model(&model)
        && list_query.after.is_none()
    {
        crate::sources::reads::refresh_list(&state, &schema, &source, &list_query).await?;
    }
    let limit = list_query.limit;
    let order = order_spec(&list_query);
    let sort = list_query.sort.clone();
    let (rows, head) = state.storage(move |s| s.list(&list_query)).await?;
    let next_cursor = (rows.len() == limit)
        .then(|| rows.last().map(|last| encode_cursor(&order, &sort, last)))
        .flatten();
    // Rows outside the credential's sync groups are left out; the cursor
    // still follows the unfiltered page, so paging covers every row once.
    Ok(JsonBody(ListResponse {
        data: rows
            .iter()
            .filter(|row| {
                crate::capability::authorize_row_read(&principal, &row.sync_groups).is_ok()
            })
            .map(StoredRow::to_wire)
            .collect(),
        stamp: head,
        next_cursor,
    }))
}

fn invalid_query(message: String) -> ApiError {
    ApiError::bad_request(codes::INVALID_QUERY, message)
}

fn is_sortable(ty: &FieldType) -> bool {
    match ty {
        FieldType::Optional { of } => is_sortable(of),
        FieldType::Json | FieldType::Object { .. } | FieldType::List { .. } => false,
        _ => true,
    }
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
                "`where` must be a JSON object of field values: {e}"
            ))
        })?;
        for (field, value) in parsed {
            let Some(descriptor) = model.field(&field) else {
                return Err(invalid_query(format!(
                    "`where`: model `{model_name}` has no field `{field}`"
                )));
            };
            if !is_sortable(&descriptor.ty) || value.is_array() || value.is_object() {
                return Err(invalid_query(format!(
                    "`where`: field `{field}` can only be compared with a string, number, boolean or null"
                )));
            }
            filters.push((field, value));
        }
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
                    Some(f) if is_sortable(&f.ty) => SortKey::Field(field.to_owned()),
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
    let mut list_query = ListQuery {
        model: model_name.to_owned(),
        filters,
        sort,
        descending,
        limit,
        after: None,
    };
    if let Some(cursor) = query.0.get("cursor") {
        list_query.after = Some(decode_cursor(&order_spec(&list_query), cursor)?);
    }
    Ok(list_query)
}

/// The order a cursor belongs to, e.g. `title:desc`.
fn order_spec(query: &ListQuery) -> String {
    let direction = if query.descending { "desc" } else { "asc" };
    format!("{}:{direction}", query.sort.wire_name())
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

fn encode_cursor(order: &str, sort: &SortKey, last: &StoredRow) -> String {
    let payload = json!({"o": order, "v": sort_value(sort, last), "id": last.id});
    URL_SAFE_NO_PAD.encode(payload.to_string())
}

fn decode_cursor(order: &str, cursor: &str) -> Result<ListPosition, ApiError> {
    let bad = || invalid_query("`cursor` is not a cursor this list returned".to_owned());
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let payload: Json = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if payload["o"] != order {
        return Err(invalid_query(
            "`cursor` belongs to a different `orderBy`".to_owned(),
        ));
    }
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
        crate::sources::reads::refresh_row(&state, &schema, &source, &model, &id).await?;
    }
    // Reads never block on intents; `ifBusy=return` lists them.
    let if_busy: Option<IfBusy> = query.parse_enum("ifBusy")?;
    let (lookup_model, lookup_id) = (model.clone(), id.clone());
    let (row, head) = state
        .storage(move |s| s.row(&lookup_model, &lookup_id))
        .await?;
    let row = row.ok_or_else(|| row_not_found(&model, &id))?;
    crate::capability::authorize_row_read(&principal, &row.sync_groups)?;
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

fn row_not_found(model: &str, id: &str) -> ApiError {
    ApiError::not_found(codes::ROW_NOT_FOUND, format!("no row {model}/{id}"))
        .with_details(json!({"model": model, "id": id}))
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
    let receipt = commit::run(&state, &principal, CommitRequest::new(vec![operation]), key).await?;
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
    let receipt = commit::run(&state, &principal, CommitRequest::new(vec![operation]), key).await?;
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
    let receipt = commit::run(&state, &principal, CommitRequest::new(vec![operation]), key).await?;
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
    commit::run(&state, &principal, request, key)
        .await
        .map(JsonBody)
}
