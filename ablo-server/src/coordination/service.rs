//! The board inside the running server: the lease timer, guard stamps for
//! claims granted from a wait line, and the write gate of the commit
//! pipeline (`entity_claimed`, `ifBusy`, the holder's guard). On a shared
//! store the timer is the authority's sweep (`follower.rs`) and the
//! writer's claim check asks the authority.

use std::time::Duration;

use ablo_runtime::SyncId;
use ablo_runtime::wire::{IfBusy, Intent, OnStale, OperationType, Participant};
use tokio::sync::broadcast::error::RecvError;

use super::{BoardEventKind, CoordinationContext, IntentBoard, PresenceBoard, WriteScope};
use crate::auth::Principal;
use crate::commit::{
    ClaimGuard, CommitError, IntentWrite, PreparedCommit, PreparedOperation, Rejection,
};
use crate::error::ApiError;
use crate::store::Store;

/// How often lapsed leases are expired (and their rows handed over).
const EXPIRY_TICK: Duration = Duration::from_millis(50);
/// Longest a write with `ifBusy: wait` waits before failing with `busy`.
pub(crate) const MAX_BUSY_WAIT: Duration = Duration::from_secs(30);

/// Expires lapsed leases on a short timer and records the guard stamp of
/// every claim granted from a wait line, until shutdown.
pub(crate) async fn run_board_timers(cx: CoordinationContext) {
    if let Some(shared) = cx.intents.authority() {
        // The shared store's authority expires leases and records guard
        // stamps; this node follows it.
        super::follower::start(cx.clone(), shared.clone());
        return;
    }
    let mut shutdown = cx.shutdown.clone();
    let mut events = cx.intents.subscribe();
    let mut tick = tokio::time::interval(EXPIRY_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                cx.intents.expire_lapsed();
            }
            event = events.recv() => match event {
                Ok(event) if event.kind == BoardEventKind::Granted => {
                    record_guard_stamp(&cx.store, &cx.intents, &event.intent).await;
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
            _ = async {
                // The guard `wait_for` returns is dropped before any await.
                let _ = shutdown.wait_for(|stopping| *stopping).await;
            } => return,
        }
    }
}

/// Records the row's stamp as the guard of a newly held claim; returns the
/// row (flat JSON) and the stamp.
pub(crate) async fn record_guard_stamp(
    store: &Store,
    intents: &IntentBoard,
    claim: &Intent,
) -> Option<(serde_json::Value, SyncId)> {
    let (model, id) = (claim.target.model.clone(), claim.target.id.clone());
    let (row, _) = store.call(move |s| s.row(&model, &id)).await.ok()?;
    let row = row?;
    intents.set_guard_stamp(&claim.id, row.stamp);
    Some((row.to_wire(), row.stamp))
}

/// The write gate, run between validation and the writer: for every update
/// and delete, another participant's claim fails the commit with
/// `entity_claimed`; another participant's intent fails it with `busy`
/// under `ifBusy: fail` or holds it back under `ifBusy: wait`. A write by a
/// claim holder without `readAt` is stale-checked from the claim's guard
/// stamp. Returns the claims whose guard moves to the commit's sync id.
pub(crate) async fn gate(
    intents: &IntentBoard,
    writer: &Participant,
    commit: &mut PreparedCommit,
    options: &[(IfBusy, Option<String>)],
) -> Result<Vec<String>, CommitError> {
    let mut guarded = Vec::new();
    for (index, op) in commit.operations.iter_mut().enumerate() {
        let (policy, under) = options.get(index).cloned().unwrap_or_default();
        if let Some(intent_id) = under {
            check_held(intents, writer, &op.model, &op.id, &intent_id, index)?;
        }
        let scope = match op.kind {
            OperationType::Create => continue,
            OperationType::Update => WriteScope::fields(op.data.keys().cloned()),
            OperationType::Delete => WriteScope::Row,
        };
        wait_until_free(intents, &op.model, &op.id, &scope, writer, index, policy).await?;
        for claim in intents.claims_held_by(&op.model, &op.id, writer) {
            if !scope_is_within(&scope, &claim) {
                continue;
            }
            if op.read_at.is_none()
                && let Some(stamp) = intents.guard_stamp(&claim.id)
            {
                op.read_at = Some(stamp);
                op.on_stale = if claim.target.field.is_some() {
                    OnStale::Merge
                } else {
                    OnStale::Reject
                };
            }
            guarded.push(claim.id);
        }
    }
    Ok(guarded)
}

/// A write made under an intent: the intent must be active, the writer's,
/// and on the written row.
fn check_held(
    intents: &IntentBoard,
    writer: &Participant,
    model: &str,
    id: &str,
    intent_id: &str,
    index: usize,
) -> Result<(), CommitError> {
    let write = || IntentWrite {
        intent_id: intent_id.to_owned(),
        operation_index: index,
        model: model.to_owned(),
        id: id.to_owned(),
    };
    match intents.active(intent_id) {
        None => Err(CommitError::IntentNotActive(write())),
        Some(intent) if &intent.participant != writer => Err(CommitError::NotIntentHolder(write())),
        Some(intent) if intent.target.model != model || intent.target.id != id => {
            Err(CommitError::IntentOnAnotherRow(write()))
        }
        Some(_) => Ok(()),
    }
}

/// The claim check the writer repeats inside the commit's savepoint, so a
/// claim granted after the gate still stops a non-holder's write.
#[derive(Clone)]
pub(crate) struct ClaimCheck {
    board: std::sync::Arc<IntentBoard>,
    writer: Participant,
}

impl std::fmt::Debug for ClaimCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimCheck")
            .field("writer", &self.writer)
            .finish_non_exhaustive()
    }
}

impl ClaimCheck {
    pub(crate) fn new(board: std::sync::Arc<IntentBoard>, writer: Participant) -> Self {
        ClaimCheck { board, writer }
    }
}

impl ClaimGuard for ClaimCheck {
    /// Fails with `entity_claimed` when another participant holds a claim
    /// covering this operation.
    fn verify(&self, index: usize, op: &PreparedOperation) -> Result<(), Rejection> {
        let scope = match op.kind {
            OperationType::Create => return Ok(()),
            OperationType::Update => WriteScope::fields(op.data.keys().cloned()),
            OperationType::Delete => WriteScope::Row,
        };
        let claims = match self.board.authority() {
            // On a shared store the authority answers, whichever node
            // granted the claim.
            Some(shared) => shared.claim_conflict(&op.model, &op.id, &scope, &self.writer)?,
            None => self
                .board
                .claim_conflict(&op.model, &op.id, &scope, &self.writer),
        };
        if claims.is_empty() {
            Ok(())
        } else {
            Err(claimed(&op.model, &op.id, index, claims).into())
        }
    }
}

/// Moves the guard of the writer's claims to the stamp its own commit made.
pub(crate) fn advance_guards(intents: &IntentBoard, claims: &[String], sync_id: SyncId) {
    for id in claims {
        intents.set_guard_stamp(id, sync_id);
    }
}

fn scope_is_within(scope: &WriteScope, claim: &Intent) -> bool {
    match &claim.target.field {
        None => true,
        Some(field) => scope.touches_field(field),
    }
}

async fn wait_until_free(
    intents: &IntentBoard,
    model: &str,
    id: &str,
    scope: &WriteScope,
    writer: &Participant,
    index: usize,
    policy: IfBusy,
) -> Result<(), CommitError> {
    let deadline = tokio::time::Instant::now() + MAX_BUSY_WAIT;
    loop {
        // Subscribe before looking, so a release between the look and the
        // wait still wakes this write.
        let mut events = intents.subscribe();
        let claims = intents.claim_conflict(model, id, scope, writer);
        let busy = intents.busy_for_write(model, id, scope, writer);
        match policy {
            IfBusy::Wait if !busy.is_empty() => {}
            _ if !claims.is_empty() => return Err(claimed(model, id, index, claims)),
            IfBusy::Fail if !busy.is_empty() => return Err(busy_error(model, id, index, busy)),
            _ => return Ok(()),
        }
        let woke = tokio::time::timeout_at(deadline, async {
            loop {
                match events.recv().await {
                    Ok(event)
                        if event.intent.target.model == model
                            && event.intent.target.id == id
                            && matches!(
                                event.kind,
                                BoardEventKind::Released
                                    | BoardEventKind::Expired
                                    | BoardEventKind::Granted
                            ) =>
                    {
                        return;
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => return,
                    Err(RecvError::Closed) => return,
                }
            }
        })
        .await;
        if woke.is_err() {
            let busy = intents.busy_for_write(model, id, scope, writer);
            return Err(busy_error(model, id, index, busy));
        }
    }
}

fn claimed(model: &str, id: &str, index: usize, intents: Vec<Intent>) -> CommitError {
    CommitError::EntityClaimed {
        model: model.to_owned(),
        id: id.to_owned(),
        operation_index: index,
        intents,
    }
}

fn busy_error(model: &str, id: &str, index: usize, intents: Vec<Intent>) -> CommitError {
    CommitError::Busy {
        model: model.to_owned(),
        id: id.to_owned(),
        operation_index: index,
        intents,
    }
}

/// The WebSocket message announcing a board event.
pub(crate) fn intent_message(event: &super::BoardEvent) -> ablo_runtime::wire::ServerMessage {
    use ablo_runtime::wire::IntentEventKind;
    let kind = match event.kind {
        BoardEventKind::Created => IntentEventKind::Created,
        BoardEventKind::Renewed => IntentEventKind::Renewed,
        BoardEventKind::Released => IntentEventKind::Released,
        BoardEventKind::Expired => IntentEventKind::Expired,
        BoardEventKind::Granted => IntentEventKind::Granted,
        BoardEventKind::Queued => IntentEventKind::Queued,
    };
    ablo_runtime::wire::ServerMessage::Intent {
        event: kind,
        intent: event.intent.clone(),
        position: event.position,
    }
}

/// Publishes a connection's presence on an existing row, to the
/// subscribers of the row's groups.
pub(crate) async fn publish_presence(
    store: &Store,
    presence: &PresenceBoard,
    principal: &Principal,
    connection: u64,
    target: ablo_runtime::wire::Target,
    doing: ablo_runtime::wire::PresenceState,
) -> Result<(), ApiError> {
    crate::capability::authorize_read(principal, &target.model)?;
    let (model, id) = (target.model.clone(), target.id.clone());
    let (row, _) = store.call(move |s| s.row(&model, &id)).await?;
    let Some(row) = row.filter(|row| crate::capability::can_read_row(principal, &row.sync_groups))
    else {
        return Err(crate::error::row_not_found(&target.model, &target.id));
    };
    presence.publish(
        connection,
        principal.participant(),
        target,
        doing,
        row.sync_groups,
    );
    Ok(())
}
