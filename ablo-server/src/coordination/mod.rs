//! Coordination between participants: intents (live, advisory signals that
//! someone works on a row or field), claims (exclusive intents with a lease
//! and a FIFO wait line) and presence.
//!
//! The [`IntentBoard`] holds every active intent and wait line in memory and
//! publishes a [`BoardEvent`] for each change; the HTTP layer maps those to
//! WebSocket messages for subscribers of the target row's sync groups. The
//! commit pipeline asks the board two questions per write: is anyone else
//! working on this ([`IntentBoard::busy_for_write`], for `ifBusy`), and does
//! anyone else hold a claim on it ([`IntentBoard::claim_conflict`], which
//! makes the write fail with `entity_claimed`).
//!
//! On a store several nodes share, the store's [`CoordinationStorage`]
//! (PostgreSQL) is the authority: every intent and grant is decided there,
//! in one transaction per row, and each node's board mirrors it
//! (`mirror.rs`, `shared.rs`, `follower.rs`); presence travels between
//! nodes on the store's notifications.
//!
//! [`CoordinationStorage`]: crate::storage::CoordinationStorage

mod board;
mod board_state;
mod follower;
mod mirror;
mod presence;
mod scope;
mod service;
mod shared;

pub use board::{
    BoardConfig, BoardError, BoardEvent, BoardEventKind, ClaimOutcome, IntentBoard, IntentRequest,
};
pub use presence::{PresenceBoard, PresenceEvent};
pub use scope::WriteScope;
pub(crate) use service::{
    ClaimCheck, advance_guards, gate, intent_message, publish_presence, record_guard_stamp,
    run_board_timers,
};
pub use shared::{SharedCoordination, SharedError};

/// What the board's timers and the shared-store follower use of the
/// server: shared handles, cheap to clone. The write gate and presence take
/// the one or two of them they need as arguments.
#[derive(Clone)]
pub(crate) struct CoordinationContext {
    /// The store rows (for guard stamps) are read from.
    pub store: crate::store::Store,
    /// Active intents, claims and their wait lines.
    pub intents: std::sync::Arc<IntentBoard>,
    /// Who is viewing or editing what, per live connection.
    pub presence: std::sync::Arc<PresenceBoard>,
    /// Turns `true` when the server starts shutting down.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}
