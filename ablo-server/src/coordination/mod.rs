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

mod board;
mod presence;
mod scope;
mod service;

pub use board::{
    BoardConfig, BoardError, BoardEvent, BoardEventKind, ClaimOutcome, IntentBoard, IntentRequest,
};
pub use presence::{PresenceBoard, PresenceEvent};
pub use scope::WriteScope;
pub(crate) use service::{
    ClaimCheck, advance_guards, gate, intent_message, publish_presence, record_guard_stamp,
    run_board_timers,
};
