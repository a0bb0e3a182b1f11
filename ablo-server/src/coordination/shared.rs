//! Intents and claims decided by a shared store's authority
//! ([`CoordinationStorage`]), for nodes sharing one store. A request is
//! decided by the authority in one transaction; the node then waits until
//! its board's copy has applied the resulting events (so the intent is
//! there for the node's next read or write) and answers. The follower
//! (`follower.rs`) keeps the copy current on every node.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ablo_runtime::wire::{Intent, Participant};
use ablo_runtime::{SyncId, Timestamp};
use tokio::sync::{Notify, watch};

use super::{BoardConfig, BoardError, ClaimOutcome, IntentRequest, WriteScope};
use crate::storage::{
    CoordinationError, CoordinationLimits, CoordinationRefusal, CoordinationStorage, NewIntent,
    StorageError,
};

/// Longest a request waits for the node's copy to show its own change;
/// past it the answer goes out anyway (the copy catches up on its own).
const SETTLE: Duration = Duration::from_secs(2);

/// Why a shared coordination request failed.
///
/// ```
/// use ablo_server::coordination::{BoardError, SharedError};
/// let err = SharedError::Board(BoardError::NotFound { id: "int_1".into() });
/// assert!(err.to_string().contains("int_1"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    /// The request breaks a rule of the board.
    #[error(transparent)]
    Board(#[from] BoardError),
    /// The shared store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<CoordinationError> for SharedError {
    fn from(err: CoordinationError) -> SharedError {
        match err {
            CoordinationError::Storage(err) => SharedError::Storage(err),
            CoordinationError::Refused(refusal) => SharedError::Board(match refusal {
                CoordinationRefusal::EntityClaimed { holders } => {
                    BoardError::EntityClaimed { holders }
                }
                CoordinationRefusal::QueueFull { depth } => BoardError::QueueFull { depth },
                CoordinationRefusal::NotFound { id } => BoardError::NotFound { id },
                CoordinationRefusal::NotHolder { id } => BoardError::NotHolder { id },
                CoordinationRefusal::ParticipantLimit { limit } => {
                    BoardError::ParticipantLimit { limit }
                }
                CoordinationRefusal::RowLimit { limit } => BoardError::RowLimit { limit },
            }),
        }
    }
}

/// A renewed intent as the authority reports it.
#[derive(Clone, Debug)]
pub(crate) struct SharedRenewal {
    pub(crate) intent: Intent,
    pub(crate) position: Option<usize>,
    pub(crate) guard_stamp: Option<SyncId>,
}

/// One node's handle on the shared authority.
pub struct SharedCoordination {
    store: Arc<dyn CoordinationStorage>,
    node: String,
    limits: CoordinationLimits,
    /// The newest authority event the board's copy has applied.
    applied: watch::Sender<u64>,
    /// Wakes the follower to read new events.
    pub(super) changed: Notify,
    /// Wakes the sweeper (a credential was revoked, or the copy changed
    /// and its earliest deadline may have moved).
    pub(super) sweep: Notify,
    /// A credential ended since the last sweep.
    revoked: AtomicBool,
}

impl SharedCoordination {
    pub(crate) fn new(store: Arc<dyn CoordinationStorage>, config: &BoardConfig) -> Self {
        SharedCoordination {
            store,
            node: format!("node_{}", uuid::Uuid::now_v7().simple()),
            limits: CoordinationLimits {
                max_queue_depth: config.max_queue_depth,
                max_per_participant: config.max_per_participant,
                max_per_row: config.max_per_row,
            },
            applied: watch::channel(0).0,
            changed: Notify::new(),
            sweep: Notify::new(),
            revoked: AtomicBool::new(false),
        }
    }

    /// This node's id in the shared store.
    pub(crate) fn node(&self) -> &str {
        &self.node
    }

    /// The authority.
    pub(crate) fn store(&self) -> &Arc<dyn CoordinationStorage> {
        &self.store
    }

    /// Asks for a sweep now (a credential ended).
    pub(crate) fn sweep_soon(&self) {
        self.revoked.store(true, Ordering::Relaxed);
        self.sweep.notify_one();
    }

    /// Whether a credential ended since this was last asked.
    pub(super) fn take_revoked(&self) -> bool {
        self.revoked.swap(false, Ordering::Relaxed)
    }

    /// Records that the copy applied the authority's events through `seq`.
    pub(super) fn mark_applied(&self, seq: u64) {
        self.applied.send_if_modified(|applied| {
            let moved = seq > *applied;
            *applied = (*applied).max(seq);
            moved
        });
        self.sweep.notify_one();
    }

    /// The newest event the copy applied.
    pub(super) fn applied(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Takes an intent or claim (`ttl` already checked against the board's
    /// limits).
    pub(crate) async fn create(
        &self,
        request: IntentRequest,
        ttl: Duration,
    ) -> Result<ClaimOutcome, SharedError> {
        let new = NewIntent {
            intent: Intent {
                id: format!("int_{}", uuid::Uuid::now_v7().simple()),
                participant: request.participant,
                target: request.target,
                action: request.action,
                exclusive: request.exclusive,
                created_at: Timestamp::now(),
                expires_at: Timestamp::now(),
            },
            ttl,
            wait: request.wait,
            sync_groups: request.sync_groups,
            credential: request.credential,
            node: self.node.clone(),
        };
        let (store, limits) = (self.store.clone(), self.limits);
        let taken = blocking(move || store.take(&new, &limits)).await??;
        self.settle(taken.seq).await;
        Ok(match taken.position {
            None => ClaimOutcome::Active(taken.intent),
            Some(position) => ClaimOutcome::Queued {
                intent: taken.intent,
                position,
            },
        })
    }

    /// Renews an intent's lease.
    pub(crate) async fn heartbeat(
        &self,
        id: &str,
        participant: &Participant,
    ) -> Result<SharedRenewal, SharedError> {
        let (store, id, who) = (self.store.clone(), id.to_owned(), participant.clone());
        let renewed = blocking(move || store.heartbeat(&id, &who)).await??;
        self.settle(renewed.seq).await;
        Ok(SharedRenewal {
            intent: renewed.intent,
            position: renewed.position,
            guard_stamp: renewed.guard_stamp,
        })
    }

    /// Releases an intent; `None` when it was not there.
    pub(crate) async fn release(
        &self,
        id: &str,
        participant: &Participant,
    ) -> Result<Option<Intent>, SharedError> {
        let (store, id, who) = (self.store.clone(), id.to_owned(), participant.clone());
        let (released, seq) = blocking(move || store.release(&id, &who)).await??;
        self.settle(seq).await;
        Ok(released)
    }

    /// Other participants' active claims covering part of a write, asked of
    /// the authority (blocking: the writer calls it inside its transaction).
    pub(crate) fn claim_conflict(
        &self,
        model: &str,
        id: &str,
        scope: &WriteScope,
        writer: &Participant,
    ) -> Result<Vec<Intent>, StorageError> {
        Ok(self
            .store
            .claims_on(model, id)?
            .into_iter()
            .filter(|claim| &claim.participant != writer && scope.is_covered_by(&claim.target))
            .collect())
    }

    /// Waits until the copy has applied event `seq` (0: nothing to wait for).
    async fn settle(&self, seq: u64) {
        if seq == 0 || self.applied() >= seq {
            return;
        }
        let mut applied = self.applied.subscribe();
        self.changed.notify_one();
        let reached = tokio::time::timeout(SETTLE, applied.wait_for(|at| *at >= seq)).await;
        if reached.is_err() {
            tracing::warn!(seq, "the intent board copy is behind the shared store");
        }
    }
}

/// Runs a blocking store call off the async threads.
async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StorageError> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|err| StorageError::database("coordination", err))
}
