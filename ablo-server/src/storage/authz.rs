//! Records and storage calls of the authority path: capabilities, agent
//! runs (tasks) and the audit log. [`AuthzStorage`] is a supertrait of
//! [`Storage`](super::Storage) and [`AuditTx`] of [`WriteTx`](super::WriteTx),
//! so every backend provides them.

use ablo_runtime::Timestamp;
use ablo_runtime::wire::{Participant, ParticipantKind};

use super::{ApiKeyRecord, StorageError};
use crate::storage::AuditEntry;

/// A stored capability: only the SHA-256 hash of its token is kept.
///
/// ```
/// use ablo_server::storage::CapabilityRecord;
/// let cap = CapabilityRecord::example();
/// assert!(cap.id.starts_with("cap_"));
/// assert_ne!(cap.token_hash.len(), 0);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CapabilityRecord {
    /// Public id, `cap_...` (never the token).
    pub id: String,
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// The participant the capability acts as.
    pub participant: Participant,
    /// The participant it acts for, if any.
    pub on_behalf_of: Option<Participant>,
    /// Operation patterns (`tasks.read`, `tasks.*`, `*`).
    pub operations: Vec<String>,
    /// Sync-group patterns (`org:org_1`, `deck:*`, `*`).
    pub sync_groups: Vec<String>,
    /// A free-form label, copied into audit rows.
    pub label: Option<String>,
    /// The id of the API key that minted it.
    pub created_by: String,
    /// When it was minted.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

impl CapabilityRecord {
    /// A filled-in record for examples and tests.
    #[doc(hidden)]
    pub fn example() -> CapabilityRecord {
        let now = Timestamp::now();
        CapabilityRecord {
            id: "cap_example".into(),
            // The SHA-256 of the token, as `auth::hash_key` computes it.
            token_hash: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"cap_token")),
            participant: Participant {
                id: "agent_1".into(),
                kind: ablo_runtime::wire::ParticipantKind::Agent,
            },
            on_behalf_of: None,
            operations: vec!["tasks.read".into()],
            sync_groups: vec!["*".into()],
            label: None,
            created_by: "key_1".into(),
            created_at: now,
            expires_at: Timestamp::from_millis(now.as_millis() + 60_000).expect("in range"),
            revoked_at: None,
        }
    }
}

/// A stored agent run (task).
///
/// ```
/// use ablo_server::storage::AgentRunRecord;
/// fn is_open(run: &AgentRunRecord) -> bool { run.status == "open" }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct AgentRunRecord {
    /// `task_...`.
    pub id: String,
    /// Who opened it.
    pub participant: Participant,
    /// For whom.
    pub on_behalf_of: Option<Participant>,
    /// The capability it was opened with, if any.
    pub capability_id: Option<String>,
    /// The prompt the run answers, if given.
    pub prompt: Option<String>,
    /// Where the run was started (an app surface), if given.
    pub surface: Option<String>,
    /// The run that started this one, if any.
    pub parent_task_id: Option<String>,
    /// Free-form JSON metadata.
    pub metadata: Option<serde_json::Value>,
    /// `open`, `done`, `failed` or `cancelled`.
    pub status: String,
    /// When it was opened.
    pub created_at: Timestamp,
    /// When it was closed.
    pub closed_at: Option<Timestamp>,
    /// Model input tokens spent.
    pub cost_input_tokens: u64,
    /// Model output tokens spent.
    pub cost_output_tokens: u64,
    /// Compute time spent, milliseconds.
    pub cost_compute_ms: u64,
}

/// Filters of an audit page or export.
///
/// ```
/// let filter = ablo_server::storage::AuditFilter::default();
/// assert!(filter.model.is_none());
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuditFilter {
    /// `user`, `agent` or `system`.
    pub actor_kind: Option<String>,
    /// The actor's id.
    pub actor_id: Option<String>,
    /// The model written.
    pub model: Option<String>,
    /// Entries at or after this time (milliseconds since the epoch).
    pub since_ms: Option<i64>,
    /// Entries before this time (milliseconds since the epoch).
    pub until_ms: Option<i64>,
}

/// The audit calls of a write transaction: the chain head of a principal
/// and appending an entry, in the commit's own savepoint.
pub trait AuditTx {
    /// The last `(chainSeq, rowHash)` of a principal's chain.
    fn audit_head(&mut self, kind: &str, id: &str) -> Result<Option<(u64, String)>, StorageError>;
    /// Appends a sealed entry.
    fn append_audit(&mut self, entry: &AuditEntry) -> Result<(), StorageError>;
    /// The status of an agent run (`None` when there is no such run).
    fn agent_run_status(&mut self, id: &str) -> Result<Option<String>, StorageError>;
}

/// Capabilities, API keys, agent runs and audit reads.
pub trait AuthzStorage {
    /// Every stored capability (revoked and expired ones included).
    fn capabilities(&self) -> Result<Vec<CapabilityRecord>, StorageError>;
    /// Stores a new capability.
    fn put_capability(&self, record: &CapabilityRecord) -> Result<(), StorageError>;
    /// Marks a capability revoked; `false` when there is no such capability.
    fn revoke_capability(&self, id: &str, at: Timestamp) -> Result<bool, StorageError>;
    /// Removes an API key; `false` when there is no such key.
    fn delete_api_key(&self, id: &str) -> Result<bool, StorageError>;
    /// Every stored API key, oldest first.
    fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StorageError>;
    /// Stores a new agent run.
    fn put_agent_run(&self, run: &AgentRunRecord) -> Result<(), StorageError>;
    /// One agent run.
    fn agent_run(&self, id: &str) -> Result<Option<AgentRunRecord>, StorageError>;
    /// Replaces an agent run's status, closing time and costs.
    fn close_agent_run(&self, run: &AgentRunRecord) -> Result<(), StorageError>;
    /// Audit entries after the storage position `after`, oldest first, with
    /// their positions.
    fn audit_page(
        &self,
        filter: &AuditFilter,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, AuditEntry)>, StorageError>;
    /// A principal's chain in storage order.
    fn audit_chain(&self, kind: &str, id: &str) -> Result<Vec<AuditEntry>, StorageError>;
}

// Decoding shared by the backends: stored columns back into records.

/// A stored participant kind (`user`, `agent`, `system`).
pub(super) fn parse_kind(text: &str) -> Result<ParticipantKind, StorageError> {
    match text {
        "user" => Ok(ParticipantKind::User),
        "agent" => Ok(ParticipantKind::Agent),
        "system" => Ok(ParticipantKind::System),
        other => Err(StorageError::Corrupt(format!("participant kind `{other}`"))),
    }
}

/// A stored participant (kind and id columns), if both are set.
pub(super) fn participant(
    kind: Option<String>,
    id: Option<String>,
) -> Result<Option<Participant>, StorageError> {
    match (kind, id) {
        (Some(kind), Some(id)) => Ok(Some(Participant {
            id,
            kind: parse_kind(&kind)?,
        })),
        _ => Ok(None),
    }
}

/// A stored time in milliseconds.
pub(super) fn timestamp(ms: i64) -> Result<Timestamp, StorageError> {
    Timestamp::from_millis(ms).ok_or_else(|| StorageError::Corrupt(format!("time {ms}")))
}
