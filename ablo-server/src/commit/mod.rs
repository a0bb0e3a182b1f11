//! The commit core: the checks of a request and what the writer runs
//! inside a storage transaction. Every write, whether `POST /v1/commits` or
//! a single-row `POST`/`PATCH`/`DELETE`, goes through these stages in order
//! (the async orchestration that runs them is [`crate::pipeline`]):
//!
//! 1. authenticate the credential (run by the HTTP layer before the body is
//!    read, so an unauthenticated request is never parsed);
//! 2. [`prepare`]: validate every operation against the pushed schema and
//!    fix the commit's `clientTxId` and body hash;
//! 3. checks that need no row state: [`authorize`] each operation against
//!    the credential's capability scope, then intents and claims
//!    ([`crate::coordination::gate`]: `entity_claimed`, `ifBusy`, the claim
//!    holder's guard stamp);
//! 4. hand the commit to the group-commit writer ([`crate::group_commit`]),
//!    which runs [`execute`] inside the commit's own savepoint:
//!    idempotency (`replay_if_seen`), the agent run named by
//!    `causedByTaskId`, then per operation the row's sync groups before and
//!    after (`authorize_row`), the claim re-check ([`ClaimGuard`]), the
//!    stale check ([`check_stale`]) and `apply`; then the next sync id in
//!    commit order, the sync log (`log`), the audit entries
//!    (`audit::record`) and the idempotency record (`remember`), and for a
//!    Data Source's rows the record that recognises the source's echo;
//!    A commit on models backed by a Data Source takes a detour first
//!    ([`crate::sources::commit`]): checked against the mirror, applied by
//!    the source, then the source's canonical rows enter the writer;
//! 5. once the group's transaction is durable the writer fans the deltas out
//!    and answers; [`crate::pipeline::run`] returns the receipt.
//!
//! Idempotency is checked before staleness: a retried commit must get its
//! original receipt even though its own first attempt changed the rows it
//! read.
//!
//! The stages live in one module each: [`prepare`] and [`validate`] the
//! pure checks of a request, [`execute`] the pure core the writer runs
//! inside a storage transaction, and `audit` the entries it writes. None of
//! them sees the server's state; what they need is passed in. Each refuses
//! a commit with a [`CommitError`], which becomes the wire envelope only
//! where a caller answers.

mod audit;
mod error;
mod execute;
mod prepare;
mod validate;

use ablo_runtime::wire::{Actor, CommitReceipt, Delta};

use crate::storage::StorageError;

pub(crate) use audit::Attribution;
pub(crate) use error::{CommitError, IntentWrite};
pub(crate) use execute::{check_stale, execute};
pub(crate) use prepare::{authorize, prepare};
pub(crate) use validate::PreparedOperation;
pub(crate) use validate::operation as validate_operation;

/// A validated commit, ready for the writer.
#[derive(Clone, Debug)]
pub(crate) struct PreparedCommit {
    pub client_tx_id: String,
    /// Whose idempotency records the commit is looked up in and remembered
    /// under ([`crate::auth::Principal::idempotency_key`]).
    pub principal_key: String,
    /// Whether the client chose the id (only then is the commit remembered
    /// for replay).
    pub remember: bool,
    pub body_hash: String,
    pub actor: Actor,
    /// Scope and attribution from the credential (audit, stage 3).
    pub attribution: Attribution,
    pub operations: Vec<PreparedOperation>,
    /// Claims re-checked by the writer, in commit order (set by stage 3).
    pub claims: Option<std::sync::Arc<dyn ClaimGuard>>,
    /// The rows are a Data Source's answer to this commit: its id is
    /// recorded with them, so the source's echo is recognised.
    pub applied_by_source: bool,
}

/// The claim re-check the writer runs for each operation inside the
/// commit's savepoint, so a claim granted after the gate still stops a
/// non-holder's write. Coordination provides it
/// ([`crate::coordination::ClaimCheck`]); the commit core only calls it.
pub(crate) trait ClaimGuard: std::fmt::Debug + Send + Sync {
    /// Fails with [`CommitError::EntityClaimed`] when another participant
    /// holds a claim covering operation `index`.
    fn verify(&self, index: usize, op: &PreparedOperation) -> Result<(), Rejection>;
}

/// What [`execute`] did with a commit.
#[derive(Clone, Debug)]
pub(crate) enum Executed {
    /// Applied under a new sync id; the deltas are to be fanned out.
    Applied {
        receipt: CommitReceipt,
        deltas: Vec<Delta>,
    },
    /// A replay of a remembered commit: nothing was written.
    Replayed(CommitReceipt),
}

/// Why [`execute`] did not apply a commit.
#[derive(Debug)]
pub(crate) enum Rejection {
    /// The commit is refused; its savepoint is rolled back.
    Refused(CommitError),
    /// Storage failed; the whole group fails.
    Storage(StorageError),
}

impl From<CommitError> for Rejection {
    fn from(err: CommitError) -> Self {
        Rejection::Refused(err)
    }
}

impl From<StorageError> for Rejection {
    fn from(err: StorageError) -> Self {
        Rejection::Storage(err)
    }
}
