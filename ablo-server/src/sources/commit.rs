//! Writes to source-backed models: the checks run against the mirror, the
//! source applies the commit and answers with canonical rows, and those
//! rows go through the ordinary commit pipeline (stamps, sync log, fan-out,
//! audit, idempotency).

use std::collections::HashMap;
use std::sync::Arc;

use ablo_runtime::wire::{
    Actor, CommitReceipt, JsonObject, OnStale, Operation, OperationType, SourceCommit,
    SourceOperation, SourceRequest, SourceRows, SourceScope,
};
use ablo_runtime::{Json, SchemaDescriptor};
use serde_json::json;

use super::call::{self, SourceError};
use super::locks::RowKey;
use super::{Source, SourceContext, Sources};
use crate::commit::{CommitError, PreparedCommit, PreparedOperation};
use crate::error::ApiError;
use crate::schema::sync_groups;
use crate::storage::StoredRow;

/// The source backing every model of `commit`; `None` when all its models
/// are Ablo-managed. A commit mixing backing stores is refused: it could
/// not be applied all-or-nothing.
pub(crate) fn backing_source(
    sources: &Sources,
    commit: &PreparedCommit,
) -> Result<Option<Arc<Source>>, CommitError> {
    let mut backing: Option<Option<Arc<Source>>> = None;
    for op in &commit.operations {
        let source = sources.for_model(&op.model);
        match &backing {
            None => backing = Some(source),
            Some(first) => {
                let same = match (first, &source) {
                    (None, None) => true,
                    (Some(a), Some(b)) => a.name == b.name,
                    _ => false,
                };
                if !same {
                    return Err(CommitError::MixedSources);
                }
            }
        }
    }
    Ok(backing.flatten())
}

/// Runs a validated, authorized commit on source-backed models.
pub(crate) async fn run(
    cx: &SourceContext,
    schema: &SchemaDescriptor,
    source: Arc<Source>,
    commit: PreparedCommit,
) -> Result<CommitReceipt, ApiError> {
    let keys: Vec<RowKey> = commit
        .operations
        .iter()
        .map(|op| (op.model.clone(), op.id.clone()))
        .collect();
    let _rows = source.locks.rows(keys.clone()).await;
    // A retry of a remembered commit is answered from the record, without
    // asking the source again.
    if commit.remember {
        let (principal, id) = (commit.principal_key.clone(), commit.client_tx_id.clone());
        if cx
            .store
            .call(move |s| s.commit_remembered(&principal, &id))
            .await?
        {
            return cx.committer.submit(commit).await;
        }
    }
    // The mirror may not hold a row the source has: load those first.
    let mut rows = mirror_rows(cx, keys.clone()).await?;
    let missing: Vec<&PreparedOperation> = commit
        .operations
        .iter()
        .filter(|op| {
            op.kind != OperationType::Create
                && rows.get(&(op.model.clone(), op.id.clone())) == Some(&None)
        })
        .collect();
    if !missing.is_empty() {
        for op in missing {
            super::reads::load_locked(cx, schema, &source, &op.model, &op.id).await?;
        }
        rows = mirror_rows(cx, keys).await?;
    }
    check_scope(&commit, &rows)?;
    check_existence(&commit, &rows)?;
    let mut flagged = Vec::with_capacity(commit.operations.len());
    let mut before_commit = rows.clone();
    for (index, op) in commit.operations.iter().enumerate() {
        let key = (op.model.clone(), op.id.clone());
        let before = before_commit.entry(key.clone()).or_default().clone();
        let current = rows.get(&key).cloned().flatten();
        flagged.push(crate::commit::check_stale(
            index,
            op,
            before.as_ref(),
            current.as_ref(),
        )?);
        rows.insert(key, preview(op, current));
    }
    let request = SourceRequest::Commit(SourceCommit {
        client_tx_id: commit.client_tx_id.clone(),
        operations: commit.operations.iter().map(source_operation).collect(),
        scope: scope(&commit, &before_commit, &rows),
    });
    let answer: SourceRows = call::ask(cx, &source, &request).await?;
    let canonical = canonical_commit(schema, commit, &answer, before_commit, &flagged)
        .map_err(|err| err.into_api_error(&source.name))?;
    cx.committer.submit(canonical).await
}

type Mirror = HashMap<RowKey, Option<StoredRow>>;

/// Refuses, before the source is called, a write by a capability to a row
/// outside its groups (answered as not found, like a missing row) or one
/// that would leave the row in a group it lacks: nothing out of scope ever
/// reaches the customer's database.
fn check_scope(commit: &PreparedCommit, mirror: &Mirror) -> Result<(), CommitError> {
    let Some(scope) = &commit.attribution.scope else {
        return Ok(());
    };
    let mut rows = mirror.clone();
    for op in &commit.operations {
        let key = (op.model.clone(), op.id.clone());
        let current = rows.get(&key).cloned().flatten();
        if let Some(row) = &current
            && !scope.allows_row(&row.sync_groups)
        {
            return Err(CommitError::RowNotFound {
                model: op.model.clone(),
                id: op.id.clone(),
            });
        }
        let after = preview(op, current);
        if let Some(row) = &after {
            scope
                .check_row_groups(&row.sync_groups)
                .map_err(CommitError::PermissionDenied)?;
        }
        rows.insert(key, after);
    }
    Ok(())
}

/// Refuses, before the source is called, a create of a row that exists and
/// an update or delete of a row that does not (operations of one commit
/// see the effect of the earlier ones).
fn check_existence(commit: &PreparedCommit, mirror: &Mirror) -> Result<(), CommitError> {
    let mut exists: HashMap<(&str, &str), bool> = HashMap::new();
    for op in &commit.operations {
        let key = (op.model.as_str(), op.id.as_str());
        let present = *exists.entry(key).or_insert_with(|| {
            matches!(
                mirror.get(&(op.model.clone(), op.id.clone())),
                Some(Some(_))
            )
        });
        let (model, id) = (op.model.clone(), op.id.clone());
        match (op.kind, present) {
            (OperationType::Create, true) => return Err(CommitError::RowExists { model, id }),
            (OperationType::Update | OperationType::Delete, false) => {
                return Err(CommitError::RowNotFound { model, id });
            }
            _ => {}
        }
        exists.insert(key, op.kind != OperationType::Delete);
    }
    Ok(())
}

/// The mirror's rows of `keys`, in one storage call.
pub(super) async fn mirror_rows(
    cx: &SourceContext,
    keys: Vec<RowKey>,
) -> Result<Mirror, crate::storage::StorageError> {
    cx.store
        .call(move |s| {
            let mut rows = HashMap::new();
            for (model, id) in keys {
                let (row, _) = s.row(&model, &id)?;
                rows.insert((model, id), row);
            }
            Ok(rows)
        })
        .await
}

/// The row as the operation would leave it, for later operations' checks
/// and for the groups the commit touches.
fn preview(op: &PreparedOperation, current: Option<StoredRow>) -> Option<StoredRow> {
    match op.kind {
        OperationType::Delete => None,
        OperationType::Create | OperationType::Update => {
            let mut row = current.unwrap_or_else(|| StoredRow {
                model: op.model.clone(),
                id: op.id.clone(),
                data: JsonObject::new(),
                field_stamps: Default::default(),
                stamp: ablo_runtime::SyncId::ZERO,
                created_at: ablo_runtime::Timestamp::now(),
                updated_at: ablo_runtime::Timestamp::now(),
                sync_groups: Vec::new(),
            });
            row.data.extend(op.data.clone());
            row.sync_groups = sync_groups(&op.sync_group_templates, &row.data);
            Some(row)
        }
    }
}

fn source_operation(op: &PreparedOperation) -> SourceOperation {
    SourceOperation {
        kind: match op.kind {
            OperationType::Create => "CREATE",
            OperationType::Update => "UPDATE",
            OperationType::Delete => "DELETE",
        }
        .to_owned(),
        model: op.model.clone(),
        id: op.id.clone(),
        input: op.data.clone(),
        read_at: op.read_at,
        on_stale: op.read_at.map(|_| op.on_stale),
    }
}

fn scope(commit: &PreparedCommit, before: &Mirror, after: &Mirror) -> SourceScope {
    let mut groups: Vec<String> = before
        .values()
        .chain(after.values())
        .flatten()
        .flat_map(|row| row.sync_groups.iter().cloned())
        .collect();
    groups.sort();
    groups.dedup();
    let organization_id = groups
        .iter()
        .find_map(|g| g.strip_prefix("org:"))
        .map(str::to_owned);
    SourceScope {
        participant_id: participant_id(&commit.actor),
        participant_kind: commit.actor.kind,
        organization_id,
        required_sync_groups: groups,
        mode: "live".to_owned(),
    }
}

fn participant_id(actor: &Actor) -> String {
    format!("{}:{}", actor.kind.as_str(), actor.id)
}

/// The commit the mirror receives: each created or updated row replaced by
/// the source's canonical row. Stale checks were made before the source was
/// called and still hold (the source's lock is held), so only `flag` keeps
/// its `readAt`, to mark the receipt and deltas.
fn canonical_commit(
    schema: &SchemaDescriptor,
    mut commit: PreparedCommit,
    answer: &SourceRows,
    mut mirror: Mirror,
    flagged: &[bool],
) -> Result<PreparedCommit, SourceError> {
    for (index, op) in commit.operations.iter_mut().enumerate() {
        let key = (op.model.clone(), op.id.clone());
        let current = mirror.get(&key).cloned().flatten();
        if op.kind != OperationType::Delete {
            let row = answer
                .rows
                .iter()
                .find(|row| row.get("id").and_then(Json::as_str) == Some(op.id.as_str()))
                .ok_or_else(|| {
                    SourceError::InvalidResponse(format!(
                        "no row with id `{}` for operation {index} ({})",
                        op.id, op.model
                    ))
                })?;
            let canonical = normalize(schema, &op.model, &op.id, row)?;
            op.data = match &current {
                None => canonical,
                Some(current) => changed_fields(&current.data, &canonical, &op.data),
            };
            if current.is_none() {
                op.kind = OperationType::Create;
            }
        }
        if !(flagged[index] && op.on_stale == OnStale::Flag) {
            op.read_at = None;
        }
        let after = preview(op, current);
        mirror.insert(key, after);
    }
    // Recorded in the same transaction as the rows, so the source's echo
    // of this commit is dropped exactly when the mirror already holds it.
    commit.applied_by_source = true;
    Ok(commit)
}

/// The fields of `canonical` that differ from `current`, and those the
/// writer set (even when unchanged), with their canonical values.
pub(crate) fn changed_fields(
    current: &JsonObject,
    canonical: &JsonObject,
    written: &JsonObject,
) -> JsonObject {
    canonical
        .iter()
        .filter(|(field, value)| written.contains_key(*field) || current.get(*field) != Some(value))
        .map(|(field, value)| (field.clone(), value.clone()))
        .collect()
}

/// A canonical row reduced to the model's fields and checked like a
/// create: every required field present, every value of its type.
pub(crate) fn normalize(
    schema: &SchemaDescriptor,
    model: &str,
    id: &str,
    row: &JsonObject,
) -> Result<JsonObject, SourceError> {
    let Some(descriptor) = schema.model(model) else {
        return Err(SourceError::InvalidResponse(format!(
            "the schema has no model `{model}`"
        )));
    };
    let fields: JsonObject = row
        .iter()
        .filter(|(name, _)| descriptor.fields.iter().any(|f| &f.name == *name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let operation = Operation::create(model, Json::Object(fields)).with_id(id);
    crate::commit::validate_operation(schema, 0, &operation)
        .map(|prepared| prepared.data)
        .map_err(|err| {
            let err = ApiError::from(err);
            SourceError::InvalidResponse(format!(
                "row {model}/{id}: {}{}",
                err.message(),
                err.details()
                    .map(|d| format!(" {}", json!(d)))
                    .unwrap_or_default()
            ))
        })
}
