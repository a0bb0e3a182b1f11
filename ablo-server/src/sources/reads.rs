//! Reads of source-backed models ask the source (`load`, `list`) and bring
//! the mirror up to date before the ordinary read answers; and
//! [`reconcile`], the one way the mirror follows the source outside a
//! commit (reads and events alike).

use std::sync::Arc;

use ablo_runtime::wire::{
    Actor, JsonObject, OnStale, OperationType, ParticipantKind, SourceRequest, SourceRow,
    SourceRows,
};
use ablo_runtime::{Json, SchemaDescriptor};
use serde_json::json;

use super::call::{self, SourceError};
use super::commit::{changed_fields, mirror_rows, normalize};
use super::{Source, SourceContext};
use crate::commit::{PreparedCommit, PreparedOperation};
use crate::error::ApiError;
use crate::storage::ListQuery;

/// Before `GET /v1/models/{model}/{id}`: the source's row replaces the
/// mirror's (or removes it when the source has none).
pub(crate) async fn refresh_row(
    cx: &SourceContext,
    schema: &SchemaDescriptor,
    source: &Arc<Source>,
    model: &str,
    id: &str,
) -> Result<(), ApiError> {
    let _row = source
        .locks
        .rows(vec![(model.to_owned(), id.to_owned())])
        .await;
    load_locked(cx, schema, source, model, id).await
}

/// [`refresh_row`] for a caller already holding the row's lock.
pub(crate) async fn load_locked(
    cx: &SourceContext,
    schema: &SchemaDescriptor,
    source: &Arc<Source>,
    model: &str,
    id: &str,
) -> Result<(), ApiError> {
    let request = SourceRequest::Load {
        model: model.to_owned(),
        id: id.to_owned(),
    };
    let answer: SourceRow = call::ask(cx, source, &request).await?;
    reconcile(cx, schema, source, model, vec![(id.to_owned(), answer.row)])
        .await
        .map(|_| ())
}

/// Before `GET /v1/models/{model}`: the rows the source lists are brought
/// into the mirror (rows it does not list are left as they are: a list may
/// be one page).
pub(crate) async fn refresh_list(
    cx: &SourceContext,
    schema: &SchemaDescriptor,
    source: &Arc<Source>,
    query: &ListQuery,
) -> Result<(), ApiError> {
    // The source is asked with the equality conditions only (its contract
    // since the first version): it answers a superset, and the page is then
    // served from the mirror with every condition.
    let equalities: Vec<ablo_runtime::filter::FieldFilter> = query
        .filters
        .iter()
        .filter(|f| f.op == ablo_runtime::filter::FilterOp::Eq)
        .cloned()
        .collect();
    let filters: JsonObject = ablo_runtime::filter::to_where(&equalities).unwrap_or_default();
    let request = SourceRequest::List {
        model: query.model.clone(),
        query: json!({"where": filters, "limit": query.limit}),
    };
    // No lock is held while the source answers (a slow list must not stop
    // writes); its answer is applied only if no write started or ended
    // meanwhile, so it can never be older than a commit.
    let generation = source.locks.generation();
    let answer: SourceRows = call::ask(cx, source, &request).await?;
    let _whole = source.locks.whole().await;
    if source.locks.generation() != generation {
        return Ok(());
    }
    let mut rows = Vec::with_capacity(answer.rows.len());
    for row in answer.rows {
        let Some(id) = row.get("id").and_then(Json::as_str).map(str::to_owned) else {
            return Err(
                SourceError::InvalidResponse("a listed row has no string `id`".into())
                    .into_api_error(&source.name),
            );
        };
        rows.push((id, Some(row)));
    }
    reconcile(cx, schema, source, &query.model, rows)
        .await
        .map(|_| ())
}

/// Makes the mirror hold `rows` (`None`: the row is gone) for `model`, as
/// one commit by the participant `system`/`source:{name}`: logged, fanned
/// out and audited like any other. Returns how many rows changed. The
/// caller holds the lock of these rows, or of the whole source.
pub(crate) async fn reconcile(
    cx: &SourceContext,
    schema: &SchemaDescriptor,
    source: &Arc<Source>,
    model: &str,
    rows: Vec<(String, Option<JsonObject>)>,
) -> Result<usize, ApiError> {
    let Some(descriptor) = schema.model(model) else {
        return Err(
            SourceError::InvalidResponse(format!("the schema has no model `{model}`"))
                .into_api_error(&source.name),
        );
    };
    let templates = descriptor.sync_groups.clone();
    let keys = rows
        .iter()
        .map(|(id, _)| (model.to_owned(), id.clone()))
        .collect();
    let mut mirror = mirror_rows(cx, keys).await?;
    let mut operations = Vec::new();
    for (id, canonical) in rows {
        let canonical = canonical
            .map(|row| normalize(schema, model, &id, &row))
            .transpose()
            .map_err(|err| err.into_api_error(&source.name))?;
        let current = mirror.remove(&(model.to_owned(), id.clone())).flatten();
        let (kind, data) = match (current, canonical) {
            (None, None) => continue,
            (Some(_), None) => (OperationType::Delete, JsonObject::new()),
            (None, Some(row)) => (OperationType::Create, row),
            (Some(current), Some(row)) => {
                let changed = changed_fields(&current.data, &row, &JsonObject::new());
                if changed.is_empty() {
                    continue;
                }
                (OperationType::Update, changed)
            }
        };
        operations.push(PreparedOperation {
            kind,
            model: model.to_owned(),
            id,
            data,
            read_at: None,
            on_stale: OnStale::default(),
            sync_group_templates: templates.clone(),
        });
    }
    let changed = operations.len();
    if changed > 0 {
        cx.committer
            .submit(source_commit(source, operations))
            .await?;
    }
    Ok(changed)
}

/// A commit made on behalf of a source (its reads and events).
fn source_commit(source: &Source, operations: Vec<PreparedOperation>) -> PreparedCommit {
    PreparedCommit {
        client_tx_id: format!("src_{}", uuid::Uuid::now_v7().simple()),
        principal_key: format!("source:{}", source.name),
        remember: false,
        body_hash: String::new(),
        actor: Actor {
            kind: ParticipantKind::System,
            id: format!("source:{}", source.name),
        },
        attribution: crate::commit::Attribution::default(),
        operations,
        claims: None,
        applied_by_source: false,
    }
}
