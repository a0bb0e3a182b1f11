//! The audit log: one attributed, hash-chained entry per accepted commit and
//! model, and verification of each principal's chain.

mod chain;

pub use chain::{AuditEntry, GENESIS_HASH, VerifyReport, verify_chain};
