//! `GET /v1/models/{model}` and `GET /v1/models/{model}/{id}`: rows with
//! the credential's operations and sync groups applied, source-backed
//! models refreshed from their source first, and sealed list cursors.

use ablo_runtime::wire::{IfBusy, ListResponse, RetrieveResponse, codes};
use ablo_runtime::{Json, SchemaDescriptor};
use serde_json::json;

use super::Reads;
use crate::auth::Principal;
use crate::error::{ApiError, row_not_found};
use crate::extract::QueryParams;
use crate::storage::{ListPosition, ListQuery, SortKey, StoredRow};

/// The default page size of a list.
const DEFAULT_LIMIT: usize = 50;

impl Reads {
    /// A page of `model`'s rows the principal may read, filtered, ordered
    /// and continued as `query` asks (`where`, `orderBy`, `limit`,
    /// `cursor`).
    pub(crate) async fn list(
        &self,
        principal: &Principal,
        model: &str,
        query: &QueryParams,
    ) -> Result<ListResponse, ApiError> {
        let schema = self.schema.with_model(model)?;
        crate::capability::authorize_read(principal, model)?;
        let binding = cursor_binding(principal, model, query);
        let mut list_query = parse_list_query(&schema, model, query, self.limits.max_page_size)?;
        if let Some(cursor) = query.0.get("cursor") {
            list_query.after = Some(self.decode_cursor(&binding, cursor)?);
        }
        // The caller's groups are part of the query: a page, and the cursor
        // built from its last row, only ever reflect rows the caller may read.
        if !principal.is_api_key() && !principal.scope.allows_every_group() {
            list_query.visible_to = Some(principal.scope.group_filter());
        }
        if let Some(source) = self.sources.sources.for_model(model)
            && list_query.after.is_none()
        {
            crate::sources::reads::refresh_list(&self.sources, &schema, &source, &list_query)
                .await?;
        }
        list_query.max_bytes = Some(self.limits.max_page_bytes);
        let limit = list_query.limit;
        let sort = list_query.sort.clone();
        let page = self.store.call(move |s| s.list(&list_query)).await?;
        let (rows, head) = (page.rows, page.head);
        let next_cursor = (rows.len() == limit || page.cut_short)
            .then(|| {
                rows.last()
                    .map(|last| self.encode_cursor(&binding, &sort, last))
            })
            .flatten();
        Ok(ListResponse {
            data: rows.iter().map(StoredRow::to_wire).collect(),
            stamp: head,
            next_cursor,
        })
    }

    /// One row of `model` the principal may read, or 404 `row_not_found`
    /// (also for a row outside its sync groups); `ifBusy=return` in `query`
    /// adds the intents active on it.
    pub(crate) async fn retrieve(
        &self,
        principal: &Principal,
        model: String,
        id: String,
        query: &QueryParams,
    ) -> Result<RetrieveResponse, ApiError> {
        let schema = self.schema.with_model(&model)?;
        crate::capability::authorize_read(principal, &model)?;
        if let Some(source) = self.sources.sources.for_model(&model) {
            crate::sources::reads::refresh_row(&self.sources, &schema, &source, &model, &id)
                .await?;
        }
        // Reads never block on intents; `ifBusy=return` lists them.
        let if_busy: Option<IfBusy> = query.parse_enum("ifBusy")?;
        let (lookup_model, lookup_id) = (model.clone(), id.clone());
        let (row, head) = self
            .store
            .call(move |s| s.row(&lookup_model, &lookup_id))
            .await?;
        let row = row
            .filter(|row| crate::capability::can_read_row(principal, &row.sync_groups))
            .ok_or_else(|| row_not_found(&model, &id))?;
        Ok(RetrieveResponse {
            data: row.to_wire(),
            stamp: head,
            intents: if if_busy == Some(IfBusy::Return) {
                self.intents.active_on(&ablo_runtime::wire::Target {
                    model,
                    id,
                    field: None,
                })
            } else {
                Vec::new()
            },
        })
    }

    fn encode_cursor(&self, binding: &str, sort: &SortKey, last: &StoredRow) -> String {
        let payload = json!({"v": sort_value(sort, last), "id": last.id});
        self.cursors.seal(binding, payload.to_string().as_bytes())
    }

    fn decode_cursor(&self, binding: &str, cursor: &str) -> Result<ListPosition, ApiError> {
        let bad = || {
            invalid_query(
                "`cursor` is not a cursor this list (same model, orderBy, where and credential) returned"
                    .to_owned(),
            )
        };
        let bytes = self.cursors.open(binding, cursor).ok_or_else(bad)?;
        let payload: Json = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        let id = payload["id"].as_str().ok_or_else(bad)?.to_owned();
        Ok(ListPosition {
            value: payload["v"].clone(),
            id,
        })
    }
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
