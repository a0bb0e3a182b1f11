//! Shared coordination: intents, claims and their wait lines kept by a
//! store that several nodes share, so that a claim is exclusive and FIFO
//! across nodes. A backend implements [`CoordinationStorage`] (the
//! PostgreSQL one is in `postgres/coordination.rs`); the embedded store has
//! none, and a single node keeps its board in memory.
//!
//! Every change is decided inside one transaction serialized per row and
//! recorded as a [`CoordinationEvent`] with a sequence number in commit
//! order; nodes are told of new events by a [`CoordinationFeed`] and read
//! them with [`CoordinationStorage::events_after`], so a node that missed a
//! notification catches up from the store.

use std::time::Duration;

use ablo_runtime::SyncId;
use ablo_runtime::wire::{Intent, Participant};
use serde::{Deserialize, Serialize};

use super::StorageError;

/// Limits the store enforces when it takes an intent.
///
/// ```
/// use ablo_server::storage::CoordinationLimits;
/// let limits = CoordinationLimits { max_queue_depth: 256, max_per_participant: 1000, max_per_row: 64 };
/// assert!(limits.max_per_row < limits.max_per_participant);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoordinationLimits {
    /// Most waiters in one row's wait line.
    pub max_queue_depth: usize,
    /// Most intents (active or waiting) one participant holds.
    pub max_per_participant: usize,
    /// Most active intents on one row.
    pub max_per_row: usize,
}

/// An intent to take: the intent as the node built it (its id, participant,
/// target, action and kind; the store sets the times) and how to take it.
///
/// ```
/// use ablo_server::storage::NewIntent;
/// fn is_claim(new: &NewIntent) -> bool { new.intent.exclusive }
/// ```
#[derive(Clone, Debug)]
pub struct NewIntent {
    /// The intent; `created_at` and `expires_at` are set by the store.
    pub intent: Intent,
    /// Its lease.
    pub ttl: Duration,
    /// For a claim that is held: wait in line (`true`) or fail at once.
    pub wait: bool,
    /// The target row's sync groups.
    pub sync_groups: Vec<String>,
    /// The capability or API key id it was taken with; it ends when that
    /// credential is revoked.
    pub credential: Option<String>,
    /// The node that took it.
    pub node: String,
}

/// Why the store refused to take or change an intent.
///
/// ```
/// use ablo_server::storage::CoordinationRefusal;
/// let refusal = CoordinationRefusal::QueueFull { depth: 2 };
/// assert!(matches!(refusal, CoordinationRefusal::QueueFull { depth: 2 }));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum CoordinationRefusal {
    /// Claimed by another participant, and the request did not wait.
    EntityClaimed {
        /// The conflicting claims (or the waiters ahead).
        holders: Vec<Intent>,
    },
    /// The row's wait line is full.
    QueueFull {
        /// Its depth.
        depth: usize,
    },
    /// No active or waiting intent has this id.
    NotFound {
        /// The id asked for.
        id: String,
    },
    /// The intent belongs to another participant.
    NotHolder {
        /// The id asked for.
        id: String,
    },
    /// The participant holds as many intents as allowed.
    ParticipantLimit {
        /// The limit.
        limit: usize,
    },
    /// The row carries as many active intents as allowed.
    RowLimit {
        /// The limit.
        limit: usize,
    },
}

/// A refusal or a failure of the store.
///
/// ```
/// use ablo_server::storage::{CoordinationError, CoordinationRefusal};
/// let err = CoordinationError::Refused(CoordinationRefusal::NotFound { id: "int_1".into() });
/// assert!(err.to_string().contains("refused"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum CoordinationError {
    /// The request breaks a rule of the board.
    #[error("refused: {0:?}")]
    Refused(CoordinationRefusal),
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What happened to an intent, as the store records it.
///
/// ```
/// use ablo_server::storage::CoordinationEventKind;
/// assert_ne!(CoordinationEventKind::Granted, CoordinationEventKind::Queued);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CoordinationEventKind {
    /// Active at once.
    Created,
    /// Its lease was renewed.
    Renewed,
    /// Released by its holder, or ended with its credential.
    Released,
    /// Its lease lapsed.
    Expired,
    /// A waiting claim now holds its target.
    Granted,
    /// A claim joined a wait line.
    Queued,
}

/// One recorded change, with what a node needs to mirror it and route it
/// to the subscribers of the row's groups.
///
/// ```
/// use ablo_server::storage::{CoordinationEvent, CoordinationEventKind};
/// fn is_grant(event: &CoordinationEvent) -> bool { event.kind == CoordinationEventKind::Granted }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CoordinationEvent {
    /// Its place in the store's order of changes (commit order).
    #[serde(default)]
    pub seq: u64,
    /// What happened.
    pub kind: CoordinationEventKind,
    /// The intent as it is after the change.
    pub intent: Intent,
    /// The target row's sync groups.
    pub sync_groups: Vec<String>,
    /// For `queued`: the place in line, from 1.
    pub position: Option<usize>,
    /// For a claim that became active: the row's stamp at the grant.
    pub guard_stamp: Option<SyncId>,
    /// The lease, in milliseconds.
    pub ttl_ms: u64,
}

/// One intent as the store holds it now.
///
/// ```
/// use ablo_server::storage::HeldIntent;
/// fn waiting(held: &HeldIntent) -> bool { held.waiting }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct HeldIntent {
    /// The intent.
    pub intent: Intent,
    /// In a wait line (`true`) or active.
    pub waiting: bool,
    /// The target row's sync groups.
    pub sync_groups: Vec<String>,
    /// For an active claim: the row's stamp at the grant.
    pub guard_stamp: Option<SyncId>,
    /// The lease.
    pub ttl: Duration,
}

/// Every intent the store holds, in arrival order, as of event `seq`.
///
/// ```
/// use ablo_server::storage::CoordinationSnapshot;
/// fn count(snapshot: &CoordinationSnapshot) -> usize { snapshot.intents.len() }
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CoordinationSnapshot {
    /// Active and waiting intents, oldest first.
    pub intents: Vec<HeldIntent>,
    /// The newest event the snapshot includes.
    pub seq: u64,
}

/// Events after a sequence number.
///
/// ```
/// use ablo_server::storage::EventPage;
/// fn newest(page: &EventPage) -> Option<u64> { page.events.last().map(|e| e.seq) }
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventPage {
    /// The events, in order.
    pub events: Vec<CoordinationEvent>,
    /// Events up to here were pruned: a reader behind it loads a
    /// [`CoordinationSnapshot`] again.
    pub floor: u64,
}

/// The answer to [`CoordinationStorage::take`].
///
/// ```
/// use ablo_server::storage::Taken;
/// fn queued(taken: &Taken) -> bool { taken.position.is_some() }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Taken {
    /// The intent as stored.
    pub intent: Intent,
    /// `Some(place)` when the claim waits in line.
    pub position: Option<usize>,
    /// The sequence number of the change's last event.
    pub seq: u64,
}

/// The answer to [`CoordinationStorage::heartbeat`].
///
/// ```
/// use ablo_server::storage::Renewed;
/// fn still_waiting(renewed: &Renewed) -> bool { renewed.position.is_some() }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Renewed {
    /// The intent with its new deadline.
    pub intent: Intent,
    /// `Some(place)` for a claim still in line.
    pub position: Option<usize>,
    /// For a held claim: the row's stamp at the grant.
    pub guard_stamp: Option<SyncId>,
    /// The sequence number of the renewal's event.
    pub seq: u64,
}

/// What a node hears on the coordination feed.
///
/// ```
/// use ablo_server::storage::CoordinationNotice;
/// let notice = CoordinationNotice::Presence("{}".into());
/// assert!(matches!(notice, CoordinationNotice::Presence(_)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoordinationNotice {
    /// New coordination events are in the store (read them after the last
    /// one seen).
    Changed,
    /// A presence message another node published (ephemeral, not stored).
    Presence(String),
}

/// A node's subscription to coordination changes and presence.
pub trait CoordinationFeed: Send {
    /// Starts listening now, if not listening yet: notices sent after this
    /// returns are heard.
    fn listen(&mut self) -> Result<(), StorageError>;
    /// Waits up to `timeout` for notices (listening first if needed);
    /// returns what arrived (empty on timeout). A broken connection is an
    /// error; the next call listens again, and the caller reads what it
    /// missed from the store.
    fn wait(&mut self, timeout: Duration) -> Result<Vec<CoordinationNotice>, StorageError>;
}

/// Intents, claims and wait lines kept by a shared store: the authority for
/// every node. Each changing call is one transaction serialized per row,
/// records its events and tells every node.
pub trait CoordinationStorage: Send + Sync {
    /// Takes an intent, or a claim (granted when nobody else holds or waits
    /// for an overlapping target, otherwise queued or refused).
    fn take(
        &self,
        new: &NewIntent,
        limits: &CoordinationLimits,
    ) -> Result<Taken, CoordinationError>;
    /// Renews the lease of an intent held or awaited by `participant`.
    fn heartbeat(&self, id: &str, participant: &Participant) -> Result<Renewed, CoordinationError>;
    /// Releases an intent (active or waiting) and grants the next waiters;
    /// `None` when no such intent exists (retries are safe). Also returns
    /// the sequence number of the newest event.
    fn release(
        &self,
        id: &str,
        participant: &Participant,
    ) -> Result<(Option<Intent>, u64), CoordinationError>;
    /// Expires lapsed leases, ends the intents of revoked or expired
    /// credentials, grants the waiters that become free and prunes old
    /// events. Any node may run it at any time; returns how many ended.
    fn sweep(&self) -> Result<usize, StorageError>;
    /// The active claims on a row now: what a commit's claim check asks.
    fn claims_on(&self, model: &str, id: &str) -> Result<Vec<Intent>, StorageError>;
    /// Every intent held now, with the newest event it reflects.
    fn snapshot(&self) -> Result<CoordinationSnapshot, StorageError>;
    /// Up to `limit` events after `seq`, in order.
    fn events_after(&self, seq: u64, limit: usize) -> Result<EventPage, StorageError>;
    /// Opens a feed of coordination notices and presence messages.
    fn feed(&self) -> Result<Box<dyn CoordinationFeed>, StorageError>;
    /// Sends a presence message to every node's feed (at most 7 900 bytes).
    fn publish_presence(&self, message: &str) -> Result<(), StorageError>;
}
