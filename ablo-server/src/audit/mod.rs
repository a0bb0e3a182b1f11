//! The audit log: one attributed, hash-chained entry per accepted commit and
//! model (and action), and verification of each principal's chain. The
//! entries are written by the commit core in the commit's own savepoint
//! (`commit/audit.rs`); their stored form is [`crate::storage::AuditEntry`].

mod chain;

pub use crate::storage::{AuditEntry, GENESIS_HASH};
pub use chain::{VerifyReport, verify_chain, verify_chain_against};
