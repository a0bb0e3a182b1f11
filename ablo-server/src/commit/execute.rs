//! Stage 4, the pure core the group-commit writer runs inside a commit's
//! savepoint: idempotent replay, the row checks before and after, the stale
//! check, applying each operation, the sync log, audit and the idempotency
//! record. It sees only a storage transaction, never the server's state.

use std::collections::HashMap;

use ablo_runtime::wire::{
    COMMIT_RECEIPT_OBJECT, CommitReceipt, CommitStatus, Delta, DeltaAction, OnStale, OperationType,
    StaleDetails,
};
use ablo_runtime::{SyncId, Timestamp};

use crate::schema::sync_groups;
use crate::storage::{IdempotencyRecord, StoredRow, WriteTx};

use super::{CommitError, Executed, PreparedCommit, PreparedOperation, Rejection};

/// A row a capability writes must be within its sync groups before the
/// write (a row it cannot see is answered as not found, exactly like a
/// missing one) ...
fn authorize_row_before(
    commit: &PreparedCommit,
    row: Option<&StoredRow>,
) -> Result<(), CommitError> {
    match (&commit.attribution.scope, row) {
        (Some(scope), Some(row)) if !scope.allows_row(&row.sync_groups) => {
            Err(CommitError::RowNotFound {
                model: row.model.clone(),
                id: row.id.clone(),
            })
        }
        _ => Ok(()),
    }
}

/// ... and after it (the groups it asks for are its own input, so the
/// refusal may name them).
fn authorize_row_after(
    commit: &PreparedCommit,
    row: Option<&StoredRow>,
) -> Result<(), CommitError> {
    match (&commit.attribution.scope, row) {
        (Some(scope), Some(row)) => scope
            .check_row_groups(&row.sync_groups)
            .map_err(CommitError::PermissionDenied),
        _ => Ok(()),
    }
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
    super::audit::check_task(tx, &commit.attribution)?;
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
    super::audit::record(
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
        Some(record) => Err(CommitError::IdempotencyConflict {
            client_tx_id: commit.client_tx_id.clone(),
            sync_id: record.receipt.sync_id,
        }
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
) -> Result<bool, CommitError> {
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
        OnStale::Reject | OnStale::Merge => Err(CommitError::Stale(Box::new(StaleDetails {
            model: op.model.clone(),
            id: op.id.clone(),
            operation_index: index,
            read_at,
            stamp: current.stamp,
            current: current.to_wire(),
            conflicting_fields,
        }))),
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
    match (op.kind, current) {
        (OperationType::Create, Some(_)) => Err(CommitError::RowExists {
            model: op.model.clone(),
            id: op.id.clone(),
        }
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
        (OperationType::Update, None) | (OperationType::Delete, None) => {
            Err(CommitError::RowNotFound {
                model: op.model.clone(),
                id: op.id.clone(),
            }
            .into())
        }
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
