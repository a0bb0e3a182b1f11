//! Bulk reading and writing of a whole store, for moving a deployment from
//! one backend to another (`ablo-server export` / `import` / `copy`).
//! [`TransferStorage`] is a supertrait of [`Storage`](super::Storage), so
//! every backend provides it.
//!
//! A backend reads everything from **one snapshot** (so a dump taken while
//! a server still writes is consistent at its head) and writes everything
//! in **one transaction** (an import is atomic: on any error nothing of it
//! is applied), into a store it first checks is empty.

use ablo_runtime::SchemaDescriptor;
use ablo_runtime::wire::Delta;
use ablo_runtime::{SyncId, Timestamp};

use super::{
    AgentRunRecord, ApiKeyRecord, CapabilityRecord, IdempotencyRecord, SourceRecord, StorageError,
    StoredRow,
};
use crate::storage::AuditEntry;

/// What a store holds, table by table, and its head.
///
/// ```
/// use ablo_server::storage::StoreContents;
/// let mut contents = StoreContents::default();
/// assert!(contents.is_empty());
/// contents.rows = 3;
/// contents.api_keys = 1;
/// assert_eq!(contents.summary(), "3 rows, 1 API keys");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreContents {
    /// The newest sync id.
    pub head: SyncId,
    /// Whether a schema was pushed.
    pub schema: bool,
    /// Rows of every model.
    pub rows: u64,
    /// Deltas of the sync log (several per commit of several rows).
    pub deltas: u64,
    /// Audit entries.
    pub audit: u64,
    /// Idempotency records.
    pub idempotency: u64,
    /// Capabilities (revoked and expired ones included).
    pub capabilities: u64,
    /// Agent runs (tasks).
    pub agent_runs: u64,
    /// API key hashes.
    pub api_keys: u64,
    /// Server secrets (the list cursor key).
    pub server_secrets: u64,
    /// Data Source configurations.
    pub sources: u64,
    /// Applied Data Source event ids.
    pub source_events: u64,
    /// Transaction ids of commits sent to a Data Source.
    pub source_commits: u64,
}

impl StoreContents {
    /// Whether the store holds nothing at all (a new database, or a
    /// directory never served from).
    ///
    /// ```
    /// use ablo_server::storage::StoreContents;
    /// let secrets = StoreContents { server_secrets: 1, ..Default::default() };
    /// assert!(!secrets.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.head == SyncId::ZERO && !self.schema && self.counts().iter().all(|(_, n)| *n == 0)
    }

    /// Each table's count with its name, in the order a dump holds them.
    ///
    /// ```
    /// let contents = ablo_server::storage::StoreContents::default();
    /// assert_eq!(contents.counts()[0].0, "server secrets");
    /// ```
    pub fn counts(&self) -> [(&'static str, u64); 11] {
        [
            ("server secrets", self.server_secrets),
            ("API keys", self.api_keys),
            ("capabilities", self.capabilities),
            ("agent runs", self.agent_runs),
            ("sources", self.sources),
            ("source events", self.source_events),
            ("source commits", self.source_commits),
            ("rows", self.rows),
            ("deltas", self.deltas),
            ("audit entries", self.audit),
            ("idempotency records", self.idempotency),
        ]
    }

    /// The non-zero counts, schema and head as one line for messages.
    ///
    /// ```
    /// use ablo_server::storage::StoreContents;
    /// let contents = StoreContents { head: ablo_runtime::SyncId(4), schema: true, ..Default::default() };
    /// assert_eq!(contents.summary(), "a schema, head 4");
    /// ```
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if self.schema {
            parts.push("a schema".into());
        }
        let counts = self.counts();
        // Rows and the log first: what an operator looks for.
        let order = [7, 8, 9, 10, 0, 1, 2, 3, 4, 5, 6];
        for i in order {
            let (name, n) = counts[i];
            if n > 0 {
                parts.push(format!("{n} {name}"));
            }
        }
        if self.head != SyncId::ZERO {
            parts.push(format!("head {}", self.head));
        }
        if parts.is_empty() {
            "nothing".into()
        } else {
            parts.join(", ")
        }
    }
}

/// The time of a Data Source record stored as milliseconds (a value no
/// timestamp can hold reads as now, so the record is kept, not lost).
///
/// ```
/// use ablo_server::storage::record_time;
/// assert_eq!(record_time(1_000).as_millis(), 1_000);
/// ```
pub fn record_time(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms).unwrap_or_else(Timestamp::now)
}

/// One stored record of any table, as [`TransferStorage::export_all`]
/// reads it and [`ImportTx::put`] writes it.
///
/// ```
/// use ablo_server::storage::StoreRecord;
/// let record = StoreRecord::SourceCommit {
///     client_tx_id: "tx_1".into(),
///     at: ablo_runtime::Timestamp::now(),
/// };
/// assert_eq!(record.table(), "source commits");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum StoreRecord {
    /// The pushed schema (its indexes are made on import).
    Schema(SchemaDescriptor),
    /// A server secret by name.
    ServerSecret {
        /// Its name (`list_cursor`).
        name: String,
        /// The secret's bytes.
        secret: Vec<u8>,
    },
    /// An API key hash.
    ApiKey(ApiKeyRecord),
    /// A capability.
    Capability(CapabilityRecord),
    /// An agent run.
    AgentRun(AgentRunRecord),
    /// A Data Source configuration (with its events cursor).
    Source(SourceRecord),
    /// An applied Data Source event.
    SourceEvent {
        /// The source's name.
        source: String,
        /// The event's id.
        event_id: String,
        /// When it was applied (it expires by this).
        at: Timestamp,
    },
    /// A commit sent to a Data Source.
    SourceCommit {
        /// Its transaction id.
        client_tx_id: String,
        /// When it was sent (it expires by this).
        at: Timestamp,
    },
    /// A row.
    Row(StoredRow),
    /// A delta of the sync log at its position within its commit.
    Delta {
        /// Orders the deltas of one commit.
        position: u32,
        /// The delta.
        delta: Delta,
    },
    /// An audit entry at its storage position (kept, so audit page cursors
    /// stay valid).
    Audit {
        /// The storage position.
        position: u64,
        /// The sealed entry.
        entry: AuditEntry,
    },
    /// An idempotency record.
    Idempotency(IdempotencyRecord),
}

impl StoreRecord {
    /// The table's name as [`StoreContents::counts`] gives it (`schema`
    /// for the schema).
    ///
    /// ```
    /// use ablo_server::storage::StoreRecord;
    /// let record = StoreRecord::ServerSecret { name: "list_cursor".into(), secret: vec![0; 32] };
    /// assert_eq!(record.table(), "server secrets");
    /// ```
    pub fn table(&self) -> &'static str {
        match self {
            StoreRecord::Schema(_) => "schema",
            StoreRecord::ServerSecret { .. } => "server secrets",
            StoreRecord::ApiKey(_) => "API keys",
            StoreRecord::Capability(_) => "capabilities",
            StoreRecord::AgentRun(_) => "agent runs",
            StoreRecord::Source(_) => "sources",
            StoreRecord::SourceEvent { .. } => "source events",
            StoreRecord::SourceCommit { .. } => "source commits",
            StoreRecord::Row(_) => "rows",
            StoreRecord::Delta { .. } => "deltas",
            StoreRecord::Audit { .. } => "audit entries",
            StoreRecord::Idempotency(_) => "idempotency records",
        }
    }
}

/// Why an import was not applied. Nothing of it was: an import is one
/// transaction.
///
/// ```
/// use ablo_server::storage::{ImportError, StoreContents};
/// let err = ImportError::NotEmpty(StoreContents { rows: 2, ..Default::default() });
/// assert!(err.to_string().contains("2 rows"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The target already holds data; an import only goes into an empty
    /// store.
    #[error("the target store is not empty: it holds {}", .0.summary())]
    NotEmpty(StoreContents),
    /// The backend failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// What fed the import failed (a malformed or truncated dump).
    #[error("{0}")]
    Input(Box<dyn std::error::Error + Send + Sync>),
}

/// The writes of an import, inside its one transaction.
///
/// ```
/// use ablo_server::storage::{ImportTx, StorageError, StoreRecord};
/// fn load(tx: &mut dyn ImportTx, records: &[StoreRecord]) -> Result<(), StorageError> {
///     for record in records {
///         tx.put(record)?;
///     }
///     tx.set_head(ablo_runtime::SyncId(7))
/// }
/// ```
pub trait ImportTx {
    /// Inserts one record as it was stored (a schema also gets its
    /// indexes). A second row with the same model and id replaces the
    /// first; another record whose key exists already is an error.
    fn put(&mut self, record: &StoreRecord) -> Result<(), StorageError>;
    /// What the store holds so far, as the transaction sees it (to check
    /// an import against what it was meant to hold before it commits).
    fn contents(&mut self) -> Result<StoreContents, StorageError>;
    /// Sets the newest sync id: the next commit takes `head.next()`.
    fn set_head(&mut self, head: SyncId) -> Result<(), StorageError>;
}

/// Reading and writing a whole store.
///
/// ```no_run
/// use ablo_server::storage::{StorageLocation, open};
/// let storage = open(&StorageLocation::parse("./ablo-data").unwrap()).unwrap();
/// let contents = storage.contents().unwrap();
/// println!("{}", contents.summary());
/// ```
pub trait TransferStorage {
    /// What the store holds now.
    fn contents(&self) -> Result<StoreContents, StorageError>;
    /// Reads the whole store from one snapshot: passes its contents to
    /// `begin`, then every record to `visit`, table by table in the order
    /// of [`StoreContents::counts`] (the schema first): rows by model and
    /// id, deltas by sync id and position, audit entries by position,
    /// idempotency records by principal and transaction id, the others by
    /// their ids. An error of either callback ends the read with it.
    fn export_all(
        &self,
        begin: &mut dyn FnMut(&StoreContents) -> Result<(), StorageError>,
        visit: &mut dyn FnMut(StoreRecord) -> Result<(), StorageError>,
    ) -> Result<(), StorageError>;
    /// Runs `load` in one transaction that first checks the store is empty
    /// ([`ImportError::NotEmpty`] otherwise; the check holds the writer
    /// lock, so no commit lands in between) and commits only when `load`
    /// succeeds; on any error nothing is applied.
    fn import_all(
        &self,
        load: &mut dyn FnMut(&mut dyn ImportTx) -> Result<(), ImportError>,
    ) -> Result<(), ImportError>;
}
