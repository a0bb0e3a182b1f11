//! The commit pipeline: every write, whether `POST /v1/commits` or a
//! single-row `POST`/`PATCH`/`DELETE`, goes through these stages in order
//! ([`run`] reads top to bottom):
//!
//! 1. [`authenticate`] the credential (run by the HTTP layer before the body
//!    is read, so an unauthenticated request is never parsed);
//! 2. [`prepare`]: validate every operation against the pushed schema and
//!    fix the commit's `clientTxId` and body hash;
//! 3. checks that need no row state: [`authorize`] each operation against
//!    the credential's capability scope, then intents and claims
//!    ([`crate::coordination::gate`]: `entity_claimed`, `ifBusy`, the claim
//!    holder's guard stamp);
//! 4. hand the commit to the group-commit writer ([`crate::group_commit`]),
//!    which runs [`execute`] inside the commit's own savepoint:
//!    idempotency ([`replay_if_seen`]), the agent run named by
//!    `causedByTaskId`, then per operation the row's sync groups before and
//!    after ([`authorize_row`]), the claim re-check, the stale check
//!    ([`check_stale`]) and [`apply`]; then the next sync id in commit order,
//!    the sync log ([`log`]), the audit entries ([`crate::audit::record`])
//!    and the idempotency record ([`remember`]), and for a Data Source's
//!    rows the record that recognises the source's echo;
//!    A commit on models backed by a Data Source takes a detour first
//!    ([`crate::sources::commit`]): checked against the mirror, applied by
//!    the source, then the source's canonical rows enter the writer;
//! 5. once the group's transaction is durable the writer fans the deltas out
//!    and answers; [`run`] returns the receipt.
//!
//! Idempotency is checked before staleness: a retried commit must get its
//! original receipt even though its own first attempt changed the rows it
//! read.

mod validate;

use std::collections::HashMap;
use std::sync::Arc;

use ablo_runtime::wire::{
    Actor, COMMIT_RECEIPT_OBJECT, CommitReceipt, CommitRequest, CommitStatus, Delta, DeltaAction,
    OnStale, OperationType, StaleDetails, codes,
};
use ablo_runtime::{SchemaDescriptor, SyncId, Timestamp};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::capability::Action;
use crate::error::ApiError;
use crate::schema::sync_groups;
use crate::state::AppState;
use crate::storage::{IdempotencyRecord, StorageError, StoredRow, WriteTx};

pub(crate) use validate::PreparedOperation;
pub(crate) use validate::operation as validate_operation;

/// A validated commit, ready for the writer.
#[derive(Clone, Debug)]
pub(crate) struct PreparedCommit {
    pub client_tx_id: String,
    /// Whose idempotency records the commit is looked up in and remembered
    /// under ([`crate::auth::Principal::idempotency_key`]).
    pub principal_key: String,
    /// Whether the client chose the id (only then is the commit remembered
    /// for replay).
    pub remember: bool,
    pub body_hash: String,
    pub actor: Actor,
    /// Scope and attribution from the credential (audit, stage 3).
    pub attribution: crate::audit::Attribution,
    pub operations: Vec<PreparedOperation>,
    /// Claims re-checked by the writer, in commit order (set by stage 3).
    pub claims: Option<crate::coordination::ClaimCheck>,
    /// The rows are a Data Source's answer to this commit: its id is
    /// recorded with them, so the source's echo is recognised.
    pub applied_by_source: bool,
}

/// What [`execute`] did with a commit.
#[derive(Clone, Debug)]
pub(crate) enum Executed {
    /// Applied under a new sync id; the deltas are to be fanned out.
    Applied {
        receipt: CommitReceipt,
        deltas: Vec<Delta>,
    },
    /// A replay of a remembered commit: nothing was written.
    Replayed(CommitReceipt),
}

/// Why [`execute`] did not apply a commit.
#[derive(Debug)]
pub(crate) enum Rejection {
    /// The commit is refused; its savepoint is rolled back.
    Refused(ApiError),
    /// Storage failed; the whole group fails.
    Storage(StorageError),
}

impl From<ApiError> for Rejection {
    fn from(err: ApiError) -> Self {
        Rejection::Refused(err)
    }
}

impl From<StorageError> for Rejection {
    fn from(err: StorageError) -> Self {
        Rejection::Storage(err)
    }
}

/// Runs a commit through the pipeline and returns its receipt (counted and
/// timed in the server's metrics).
pub(crate) async fn run(
    state: &AppState,
    principal: &Principal,
    request: CommitRequest,
    idempotency_key: Option<String>,
) -> Result<CommitReceipt, ApiError> {
    let started = std::time::Instant::now();
    let result = run_stages(state, principal, request, idempotency_key).await;
    let outcome = result.as_ref().map(|_| ()).map_err(ApiError::code);
    state.metrics.commit_done(outcome, started.elapsed());
    result
}

async fn run_stages(
    state: &AppState,
    principal: &Principal,
    request: CommitRequest,
    idempotency_key: Option<String>,
) -> Result<CommitReceipt, ApiError> {
    let schema = pushed_schema(state)?;
    let write_options: Vec<_> = request
        .operations
        .iter()
        .map(|op| (op.if_busy.unwrap_or_default(), op.intent_id.clone()))
        .collect();
    let mut prepared = prepare(
        &schema,
        principal,
        request,
        idempotency_key,
        state.config.max_operations,
    )?;
    authorize(principal, &prepared)?;
    authorize_rows(state, principal, &prepared).await?;
    // Stage 3, intents and claims: `entity_claimed`, `ifBusy`, and the
    // claim holder's guard stamp.
    let writer = principal.participant();
    let guarded = crate::coordination::gate(state, &writer, &mut prepared, &write_options).await?;
    prepared.claims = Some(crate::coordination::ClaimCheck::new(
        state.intents.clone(),
        writer,
    ));
    let receipt = match crate::sources::commit::backing_source(state, &prepared)? {
        Some(source) => crate::sources::commit::run(state, &schema, source, prepared).await?,
        None => state.committer.submit(prepared).await?,
    };
    crate::coordination::advance_guards(state, &guarded, receipt.sync_id);
    Ok(receipt)
}

/// Stage 1: the principal a bearer credential acts as.
pub(crate) fn authenticate(
    state: &AppState,
    credential: Option<&str>,
) -> Result<Principal, ApiError> {
    let Some(key) = credential else {
        return Err(ApiError::authentication(
            codes::MISSING_API_KEY,
            "send `Authorization: Bearer <api key>`",
        ));
    };
    let principal = if key.starts_with("cap_") {
        state
            .capabilities
            .principal_for(key)
            .map_err(|rejected| rejected.into_api_error())?
    } else {
        state.keys.principal_for(key).ok_or_else(|| {
            ApiError::authentication(codes::INVALID_API_KEY, "the API key is not valid")
        })?
    };
    state.rate_limiter.check(&principal)?;
    Ok(principal)
}

pub(crate) fn pushed_schema(state: &AppState) -> Result<Arc<SchemaDescriptor>, ApiError> {
    state.schema().ok_or_else(|| {
        ApiError::not_found(
            codes::SCHEMA_NOT_FOUND,
            "no schema has been pushed yet: PUT /v1/schema first",
        )
    })
}

/// Stage 2: validates every operation and fixes the transaction id.
fn prepare(
    schema: &SchemaDescriptor,
    principal: &Principal,
    mut request: CommitRequest,
    idempotency_key: Option<String>,
    max_operations: usize,
) -> Result<PreparedCommit, ApiError> {
    let client_tx_id = match (idempotency_key, request.client_tx_id.take()) {
        (Some(header), Some(body)) if header != body => {
            return Err(ApiError::bad_request(
                codes::INVALID_REQUEST,
                "the Idempotency-Key header and clientTxId differ",
            ));
        }
        (Some(id), _) | (None, Some(id)) => Some(id),
        (None, None) => None,
    };
    if let Some(id) = &client_tx_id
        && (id.is_empty() || id.len() > 256)
    {
        return Err(ApiError::bad_request(
            codes::INVALID_REQUEST,
            "clientTxId must be 1 to 256 characters",
        ));
    }
    if request.operations.is_empty() || request.operations.len() > max_operations {
        return Err(ApiError::unprocessable(
            codes::INVALID_COMMIT,
            format!("a commit needs 1 to {max_operations} operations"),
        ));
    }
    let canonical =
        serde_json::to_vec(&serde_json::to_value(&request).expect("request serializes"))
            .expect("json serializes");
    let operations = request
        .operations
        .iter()
        .enumerate()
        .map(|(index, op)| validate::operation(schema, index, op))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PreparedCommit {
        principal_key: principal.idempotency_key(),
        remember: client_tx_id.is_some(),
        client_tx_id: client_tx_id
            .unwrap_or_else(|| format!("tx_{}", uuid::Uuid::now_v7().simple())),
        body_hash: hex::encode(Sha256::digest(&canonical)),
        actor: principal.actor.clone(),
        attribution: crate::audit::Attribution::of(principal, request.caused_by_task_id.clone()),
        operations,
        claims: None,
        applied_by_source: false,
    })
}

/// Stage 3: every operation must be among the credential's operations
/// (`model.action`). Sync groups depend on the rows, so they are checked in
/// [`execute`], before and after each write.
fn authorize(principal: &Principal, commit: &PreparedCommit) -> Result<(), ApiError> {
    if principal.is_api_key() {
        return Ok(());
    }
    for op in &commit.operations {
        let action = match op.kind {
            OperationType::Create => Action::Create,
            OperationType::Update => Action::Update,
            OperationType::Delete => Action::Delete,
        };
        principal
            .scope
            .check_operation(&op.model, action)
            .map_err(crate::capability::denied)?;
    }
    Ok(())
}

/// A row a capability writes must be within its sync groups before the
/// write (a row it cannot see is answered as not found, exactly like a
/// missing one) ...
fn authorize_row_before(commit: &PreparedCommit, row: Option<&StoredRow>) -> Result<(), ApiError> {
    match (&commit.attribution.scope, row) {
        (Some(scope), Some(row)) if !scope.allows_row(&row.sync_groups) => {
            Err(crate::error::row_not_found(&row.model, &row.id))
        }
        _ => Ok(()),
    }
}

/// ... and after it (the groups it asks for are its own input, so the
/// refusal may name them).
fn authorize_row_after(commit: &PreparedCommit, row: Option<&StoredRow>) -> Result<(), ApiError> {
    match (&commit.attribution.scope, row) {
        (Some(scope), Some(row)) => scope
            .check_row_groups(&row.sync_groups)
            .map_err(crate::capability::denied),
        _ => Ok(()),
    }
}

/// Stage 3, before intents, claims or a Data Source are consulted: every
/// row an update or delete names must exist within the credential's read
/// scope, so that neither a `busy` nor an `entity_claimed` error, nor a
/// source call, ever concerns a row the caller cannot see. The writer
/// checks again inside the commit's savepoint.
async fn authorize_rows(
    state: &AppState,
    principal: &Principal,
    commit: &PreparedCommit,
) -> Result<(), ApiError> {
    let Some(scope) = commit.attribution.scope.clone() else {
        return Ok(());
    };
    let keys: Vec<(String, String)> = commit
        .operations
        .iter()
        .filter(|op| op.kind != OperationType::Create)
        .map(|op| (op.model.clone(), op.id.clone()))
        .collect();
    if keys.is_empty() || principal.is_api_key() {
        return Ok(());
    }
    let rows = state
        .storage(move |s| {
            keys.into_iter()
                .map(|(model, id)| Ok(((model.clone(), id.clone()), s.row(&model, &id)?.0)))
                .collect::<Result<Vec<_>, StorageError>>()
        })
        .await?;
    for ((model, id), row) in rows {
        if let Some(row) = row
            && !scope.allows_row(&row.sync_groups)
        {
            return Err(crate::error::row_not_found(&model, &id));
        }
    }
    Ok(())
}

/// Stage 4, run by the writer inside the commit's savepoint, with the sync
/// id the commit takes if it applies.
pub(crate) fn execute(
    tx: &mut dyn WriteTx,
    commit: &PreparedCommit,
    sync_id: SyncId,
    now: Timestamp,
) -> Result<Executed, Rejection> {
    if let Some(receipt) = replay_if_seen(tx, commit)? {
        return Ok(Executed::Replayed(receipt));
    }
    crate::audit::check_task(tx, &commit.attribution)?;
    let mut flagged = false;
    let mut rows_before_commit: HashMap<(String, String), Option<StoredRow>> = HashMap::new();
    let mut changes = Vec::with_capacity(commit.operations.len());
    for (index, op) in commit.operations.iter().enumerate() {
        let current = tx.row(&op.model, &op.id)?;
        let before_commit = rows_before_commit
            .entry((op.model.clone(), op.id.clone()))
            .or_insert_with(|| current.clone());
        authorize_row_before(commit, current.as_ref())?;
        if let Some(claims) = &commit.claims {
            claims.verify(index, op)?;
        }
        flagged |= check_stale(index, op, before_commit.as_ref(), current.as_ref())?;
        let change = apply(tx, op, current, sync_id, now)?;
        authorize_row_after(commit, change.after.as_ref())?;
        changes.push(change);
    }
    let deltas = log(tx, commit, sync_id, &changes, flagged)?;
    crate::audit::record(
        tx,
        &commit.actor,
        &commit.attribution,
        sync_id,
        now,
        &deltas,
        flagged,
    )?;
    let receipt = CommitReceipt {
        object: COMMIT_RECEIPT_OBJECT.to_owned(),
        client_tx_id: commit.client_tx_id.clone(),
        sync_id,
        status: CommitStatus::Confirmed,
        rows: changes.iter().map(Change::receipt_row).collect(),
        flagged,
    };
    remember(tx, commit, &receipt, now)?;
    if commit.applied_by_source {
        tx.put_source_commit(&commit.client_tx_id)?;
    }
    Ok(Executed::Applied { receipt, deltas })
}

/// Idempotency: the original receipt for a remembered `clientTxId` with the
/// same body, `idempotency_conflict` for another body.
fn replay_if_seen(
    tx: &mut dyn WriteTx,
    commit: &PreparedCommit,
) -> Result<Option<CommitReceipt>, Rejection> {
    if !commit.remember {
        return Ok(None);
    }
    match tx.idempotency(&commit.principal_key, &commit.client_tx_id)? {
        None => Ok(None),
        Some(record) if record.body_hash == commit.body_hash => Ok(Some(record.receipt)),
        Some(record) => Err(ApiError::idempotency(
            codes::IDEMPOTENCY_CONFLICT,
            format!(
                "clientTxId `{}` was already used with a different body",
                commit.client_tx_id
            ),
        )
        .with_details(json!({
            "clientTxId": commit.client_tx_id,
            "syncId": record.receipt.sync_id,
        }))
        .into()),
    }
}

/// The stale check, for every policy. `before_commit` is the row as it was
/// when this commit started (so a commit's own earlier operations never
/// make it stale); `current` is the row now. Returns whether the write is
/// accepted stale under `flag`.
///
/// - no `readAt`: last writer wins;
/// - `reject`: stale if the row changed after `readAt`;
/// - `merge`: stale only if a field this update sets changed after `readAt`
///   (a delete touches every field, so it is judged like `reject`);
/// - `flag`: never refused, but flagged when stale;
/// - `force`: never refused.
pub(crate) fn check_stale(
    index: usize,
    op: &PreparedOperation,
    before_commit: Option<&StoredRow>,
    current: Option<&StoredRow>,
) -> Result<bool, ApiError> {
    let (Some(read_at), Some(row), Some(current)) = (op.read_at, before_commit, current) else {
        return Ok(false);
    };
    let conflicting_fields: Vec<String> =
        if op.on_stale == OnStale::Merge && op.kind == OperationType::Update {
            op.data
                .keys()
                .filter(|field| {
                    row.field_stamps
                        .get(*field)
                        .copied()
                        .unwrap_or(SyncId::ZERO)
                        > read_at
                })
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
    let stale = match (op.on_stale, op.kind) {
        (OnStale::Merge, OperationType::Update) => !conflicting_fields.is_empty(),
        _ => row.stamp > read_at,
    };
    match op.on_stale {
        _ if !stale => Ok(false),
        OnStale::Reject | OnStale::Merge => Err(ApiError::stale(StaleDetails {
            model: op.model.clone(),
            id: op.id.clone(),
            operation_index: index,
            read_at,
            stamp: current.stamp,
            current: current.to_wire(),
            conflicting_fields,
        })),
        OnStale::Flag => Ok(true),
        OnStale::Force => Ok(false),
    }
}

/// One applied operation.
struct Change {
    action: DeltaAction,
    before: Option<StoredRow>,
    after: Option<StoredRow>,
    changed_fields: Vec<String>,
}

impl Change {
    /// The receipt's entry: the row after, or before for a delete.
    fn receipt_row(&self) -> serde_json::Value {
        self.after
            .as_ref()
            .or(self.before.as_ref())
            .map(StoredRow::to_wire)
            .unwrap_or_default()
    }
}

/// Applies one operation to the transaction.
fn apply(
    tx: &mut dyn WriteTx,
    op: &PreparedOperation,
    current: Option<StoredRow>,
    sync_id: SyncId,
    now: Timestamp,
) -> Result<Change, Rejection> {
    let not_found = || crate::error::row_not_found(&op.model, &op.id);
    match (op.kind, current) {
        (OperationType::Create, Some(_)) => Err(ApiError::idempotency(
            codes::ROW_EXISTS,
            format!("a row {}/{} already exists", op.model, op.id),
        )
        .with_details(json!({"model": op.model, "id": op.id}))
        .into()),
        (OperationType::Create, None) => {
            let row = StoredRow {
                model: op.model.clone(),
                id: op.id.clone(),
                field_stamps: op.data.keys().map(|f| (f.clone(), sync_id)).collect(),
                stamp: sync_id,
                created_at: now,
                updated_at: now,
                sync_groups: sync_groups(&op.sync_group_templates, &op.data),
                data: op.data.clone(),
            };
            tx.put_row(&row)?;
            Ok(Change {
                action: DeltaAction::Insert,
                before: None,
                changed_fields: op.data.keys().cloned().collect(),
                after: Some(row),
            })
        }
        (OperationType::Update, None) | (OperationType::Delete, None) => Err(not_found().into()),
        (OperationType::Update, Some(before)) => {
            let mut row = before.clone();
            for (field, value) in &op.data {
                row.data.insert(field.clone(), value.clone());
                row.field_stamps.insert(field.clone(), sync_id);
            }
            row.stamp = sync_id;
            row.updated_at = now;
            row.sync_groups = sync_groups(&op.sync_group_templates, &row.data);
            tx.put_row(&row)?;
            Ok(Change {
                action: DeltaAction::Update,
                before: Some(before),
                changed_fields: op.data.keys().cloned().collect(),
                after: Some(row),
            })
        }
        (OperationType::Delete, Some(before)) => {
            tx.delete_row(&op.model, &op.id)?;
            Ok(Change {
                action: DeltaAction::Delete,
                before: Some(before),
                after: None,
                changed_fields: Vec::new(),
            })
        }
    }
}

/// Appends one delta per change to the sync log, under the commit's sync id.
fn log(
    tx: &mut dyn WriteTx,
    commit: &PreparedCommit,
    sync_id: SyncId,
    changes: &[Change],
    flagged: bool,
) -> Result<Vec<Delta>, Rejection> {
    let mut deltas = Vec::with_capacity(changes.len());
    for (position, change) in changes.iter().enumerate() {
        let anchor = change
            .after
            .as_ref()
            .or(change.before.as_ref())
            .expect("a change has a row");
        let groups = anchor.sync_groups.clone();
        let (left_sync_groups, entered_sync_groups) = match (&change.before, &change.after) {
            (Some(before), Some(_)) => (
                difference(&before.sync_groups, &groups),
                difference(&groups, &before.sync_groups),
            ),
            _ => (Vec::new(), Vec::new()),
        };
        let delta = Delta {
            sync_id,
            model: anchor.model.clone(),
            id: anchor.id.clone(),
            action: change.action,
            data: change
                .after
                .as_ref()
                .map(StoredRow::to_wire)
                .unwrap_or_default(),
            changed_fields: change.changed_fields.clone(),
            client_tx_id: commit.client_tx_id.clone(),
            actor: commit.actor.clone(),
            sync_groups: groups,
            left_sync_groups,
            entered_sync_groups,
            flagged,
        };
        tx.append_delta(position, &delta)?;
        deltas.push(delta);
    }
    Ok(deltas)
}

/// The groups of `a` that are not in `b`.
fn difference(a: &[String], b: &[String]) -> Vec<String> {
    a.iter().filter(|g| !b.contains(g)).cloned().collect()
}

/// Remembers a commit whose client chose its `clientTxId`, for replay.
fn remember(
    tx: &mut dyn WriteTx,
    commit: &PreparedCommit,
    receipt: &CommitReceipt,
    now: Timestamp,
) -> Result<(), Rejection> {
    if commit.remember {
        tx.put_idempotency(&IdempotencyRecord {
            principal: commit.principal_key.clone(),
            client_tx_id: commit.client_tx_id.clone(),
            body_hash: commit.body_hash.clone(),
            receipt: receipt.clone(),
            created_at: now,
        })?;
    }
    Ok(())
}
