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
