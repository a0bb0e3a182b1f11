//! The audit log: one attributed, hash-chained entry per accepted commit and
//! model (and action), written in the commit's own savepoint, and
//! verification of each principal's chain.

mod chain;
mod record;

pub use chain::{AuditEntry, GENESIS_HASH, VerifyReport, verify_chain, verify_chain_against};
pub(crate) use record::{Attribution, check_task, record};
