//! Writing audit entries (stage 4, in the writer): inside the commit's own
//! savepoint, after its deltas are logged, so an accepted commit always has
//! its entries and a refused one never does. The entries' form and the
//! chain's verification are in [`crate::audit`].

use std::sync::Arc;

use ablo_runtime::wire::{Actor, Delta, DeltaAction, Participant};
use ablo_runtime::{SyncId, Timestamp};

use super::{CommitError, Rejection};
use crate::auth::Principal;
use crate::capability::Scope;
use crate::storage::{AuditEntry, GENESIS_HASH, StorageError, WriteTx};

/// Who a commit is attributed to beyond its actor, and what it may touch:
/// taken from the credential (and `causedByTaskId`) when the commit is
/// prepared.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Attribution {
    /// The capability's scope; `None` for an API key (unrestricted).
    pub scope: Option<Arc<Scope>>,
    pub on_behalf_of: Option<Participant>,
    pub capability_id: Option<String>,
    pub capability_label: Option<String>,
    /// The agent run named by `causedByTaskId`.
    pub task_id: Option<String>,
}

impl Attribution {
    pub(crate) fn of(principal: &Principal, task_id: Option<String>) -> Attribution {
        Attribution {
            scope: (!principal.is_api_key()).then(|| principal.scope.clone()),
            on_behalf_of: principal.on_behalf_of.clone(),
            capability_id: principal.grant.as_ref().map(|g| g.id.clone()),
            capability_label: principal.grant.as_ref().and_then(|g| g.label.clone()),
            task_id,
        }
    }
}

/// `causedByTaskId` must name an open agent run.
pub(crate) fn check_task(tx: &mut dyn WriteTx, attribution: &Attribution) -> Result<(), Rejection> {
    let Some(task_id) = &attribution.task_id else {
        return Ok(());
    };
    match tx.agent_run_status(task_id)? {
        None => Err(CommitError::TaskNotFound {
            task_id: task_id.clone(),
        }
        .into()),
        Some(status) if status != "open" => Err(CommitError::TaskClosed {
            task_id: task_id.clone(),
            status,
        }
        .into()),
        Some(_) => Ok(()),
    }
}

fn action_name(action: DeltaAction) -> &'static str {
    match action {
        DeltaAction::Insert => "insert",
        DeltaAction::Update => "update",
        DeltaAction::Delete => "delete",
    }
}

/// Appends the commit's audit entries to the actor's chain: one per model
/// and action, in the order they first occur in the commit.
pub(crate) fn record(
    tx: &mut dyn WriteTx,
    actor: &Actor,
    attribution: &Attribution,
    sync_id: SyncId,
    now: Timestamp,
    deltas: &[Delta],
    flagged: bool,
) -> Result<(), StorageError> {
    let mut groups: Vec<(String, DeltaAction, Vec<String>, Vec<String>)> = Vec::new();
    for delta in deltas {
        let slot = match groups
            .iter_mut()
            .position(|(m, a, _, _)| *m == delta.model && *a == delta.action)
        {
            Some(i) => &mut groups[i],
            None => {
                groups.push((delta.model.clone(), delta.action, Vec::new(), Vec::new()));
                groups.last_mut().expect("just pushed")
            }
        };
        slot.2.push(delta.id.clone());
        for field in &delta.changed_fields {
            if !slot.3.contains(field) {
                slot.3.push(field.clone());
            }
        }
    }
    let kind = actor.kind.as_str();
    let (mut seq, mut prev) = tx
        .audit_head(kind, &actor.id)?
        .unwrap_or((0, GENESIS_HASH.to_owned()));
    for (model, action, row_ids, mut changed_fields) in groups {
        changed_fields.sort();
        seq += 1;
        let mut entry = AuditEntry {
            chain_seq: seq,
            at_ms: now.as_millis(),
            actor: actor.clone(),
            on_behalf_of: attribution.on_behalf_of.clone(),
            capability_id: attribution.capability_id.clone(),
            capability_label: attribution.capability_label.clone(),
            task_id: attribution.task_id.clone(),
            model,
            action: action_name(action).to_owned(),
            row_ids,
            sync_id: sync_id.0,
            flagged,
            changed_fields,
            prev_hash: String::new(),
            row_hash: String::new(),
        };
        entry.seal(&prev);
        tx.append_audit(&entry)?;
        prev = entry.row_hash;
    }
    Ok(())
}
