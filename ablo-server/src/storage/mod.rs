//! Storage: the [`Storage`] trait every backend implements and the records it
//! holds. The embedded default is [`SqliteStorage`]; several nodes share a
//! [`PostgresStorage`]. [`open`] picks the backend from a location: a
//! directory, or a `postgres://` URL.
//!
//! A backend stores rows (JSON fields plus per-field sync ids for `merge`),
//! the sync log, idempotency records, the pushed schema and API key hashes.
//! Writes go through [`Storage::write_group`]: one durable transaction in
//! which every unit (one commit) runs inside its own savepoint.

mod audit_entry;
mod authz;
mod coordination;
mod location;
mod postgres;
mod sources;
mod sqlite;
mod transfer;
mod wire_text;

use std::collections::BTreeMap;

use ablo_runtime::wire::{CommitReceipt, Delta, JsonObject};
use ablo_runtime::{Json, SchemaDescriptor, SyncId, Timestamp};

pub use ablo_runtime::filter::{FieldFilter, FilterOp};
pub use audit_entry::{AuditEntry, GENESIS_HASH};
pub use authz::{AgentRunRecord, AuditFilter, AuditTx, AuthzStorage, CapabilityRecord};
pub use coordination::{
    CoordinationError, CoordinationEvent, CoordinationEventKind, CoordinationFeed,
    CoordinationLimits, CoordinationNotice, CoordinationRefusal, CoordinationSnapshot,
    CoordinationStorage, EventPage, HeldIntent, NewIntent, Renewed, Taken,
};
pub use location::{StorageLocation, open};
pub use postgres::PostgresStorage;
pub use sources::{SourceRecord, SourceStorage};
pub use sqlite::{SqliteStorage, open_connection};
pub use transfer::{
    ImportError, ImportTx, StoreContents, StoreRecord, TransferStorage, record_time,
};

/// A failure of the storage backend (never caused by a client's input).
///
/// ```
/// let err = ablo_server::storage::StorageError::Corrupt("bad row".into());
/// assert!(err.to_string().contains("bad row"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database failed; `backend` names which (`sqlite`, `postgres`).
    #[error("{backend}: {source}")]
    Database {
        /// The backend that failed.
        backend: &'static str,
        /// The driver's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Stored JSON could not be read back.
    #[error("stored json: {0}")]
    Json(#[from] serde_json::Error),
    /// The data directory could not be created or opened.
    #[error("data directory: {0}")]
    Io(#[from] std::io::Error),
    /// A stored value is not what this server wrote.
    #[error("corrupt storage: {0}")]
    Corrupt(String),
    /// The location names no backend this server has, or is malformed.
    #[error("storage location: {0}")]
    Location(String),
    /// The thread running the call failed before it answered.
    #[error("storage call failed: {0}")]
    CallFailed(String),
}

impl StorageError {
    /// Wraps a driver's error.
    ///
    /// ```
    /// let err = ablo_server::storage::StorageError::database("postgres", std::io::Error::other("down"));
    /// assert!(err.to_string().starts_with("postgres: "));
    /// ```
    pub fn database(
        backend: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> StorageError {
        StorageError::Database {
            backend,
            source: Box::new(source),
        }
    }
}

/// A stored row.
///
/// ```
/// use ablo_server::storage::StoredRow;
/// use ablo_runtime::{SyncId, Timestamp};
/// let now = Timestamp::now();
/// let mut data = serde_json::Map::new();
/// data.insert("title".into(), "Plan".into());
/// let row = StoredRow { model: "tasks".into(), id: "t1".into(), data, field_stamps: Default::default(),
///     stamp: SyncId(3), created_at: now, updated_at: now, sync_groups: vec!["default".into()] };
/// let flat = row.to_wire();
/// assert_eq!(flat["title"], "Plan");
/// assert_eq!(flat["stamp"], 3);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct StoredRow {
    /// The model's wire name.
    pub model: String,
    /// The row's id.
    pub id: String,
    /// The fields (wire names), without `id`, `stamp` and timestamps.
    pub data: JsonObject,
    /// The sync id of each field's last change.
    pub field_stamps: BTreeMap<String, SyncId>,
    /// The sync id of the row's last change.
    pub stamp: SyncId,
    /// When the row was created.
    pub created_at: Timestamp,
    /// When the row last changed.
    pub updated_at: Timestamp,
    /// The row's sync groups.
    pub sync_groups: Vec<String>,
}

impl StoredRow {
    /// The flat JSON object clients see: `id`, `stamp`, `createdAt`,
    /// `updatedAt` and the fields.
    ///
    /// ```
    /// use ablo_server::storage::StoredRow;
    /// use ablo_runtime::{SyncId, Timestamp};
    /// let t = Timestamp::from_millis(0).unwrap();
    /// let row = StoredRow { model: "tasks".into(), id: "t1".into(), data: Default::default(),
    ///     field_stamps: Default::default(), stamp: SyncId(1), created_at: t, updated_at: t,
    ///     sync_groups: vec![] };
    /// assert_eq!(row.to_wire()["createdAt"], "1970-01-01T00:00:00.000Z");
    /// ```
    pub fn to_wire(&self) -> Json {
        let mut flat = self.data.clone();
        flat.insert("id".into(), Json::String(self.id.clone()));
        flat.insert("stamp".into(), Json::from(self.stamp.0));
        flat.insert(
            "createdAt".into(),
            Json::String(self.created_at.to_string()),
        );
        flat.insert(
            "updatedAt".into(),
            Json::String(self.updated_at.to_string()),
        );
        Json::Object(flat)
    }
}

/// A current row as a snapshot sends it: the model, the row's groups (for
/// the subscriber's filter) and the flat wire row ([`StoredRow::to_wire`])
/// already serialized, so a snapshot of many rows is not parsed and
/// re-encoded row by row.
///
/// ```
/// use ablo_server::storage::{SnapshotRow, StoredRow};
/// use ablo_runtime::{SyncId, Timestamp};
/// let t = Timestamp::from_millis(0).unwrap();
/// let row = StoredRow { model: "tasks".into(), id: "t1".into(), data: Default::default(),
///     field_stamps: Default::default(), stamp: SyncId(1), created_at: t, updated_at: t,
///     sync_groups: vec![] };
/// let snap = SnapshotRow::from(&row);
/// let wire: serde_json::Value = serde_json::from_str(&snap.wire).unwrap();
/// assert_eq!(wire, row.to_wire());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SnapshotRow {
    /// The model's wire name.
    pub model: String,
    /// The row's id.
    pub id: String,
    /// The row's sync groups.
    pub sync_groups: Vec<String>,
    /// The flat row as JSON text (`id`, `stamp`, `createdAt`, `updatedAt`
    /// and the fields).
    pub wire: String,
}

impl From<&StoredRow> for SnapshotRow {
    fn from(row: &StoredRow) -> Self {
        SnapshotRow {
            model: row.model.clone(),
            id: row.id.clone(),
            sync_groups: row.sync_groups.clone(),
            wire: row.to_wire().to_string(),
        }
    }
}

/// A remembered commit, for idempotent replay.
///
/// ```
/// use ablo_server::storage::IdempotencyRecord;
/// fn is_same_body(record: &IdempotencyRecord, hash: &str) -> bool { record.body_hash == hash }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct IdempotencyRecord {
    /// Whose record it is ([`crate::auth::Principal::idempotency_key`]):
    /// only the same principal's retry finds it.
    pub principal: String,
    /// The client transaction id.
    pub client_tx_id: String,
    /// Hex SHA-256 of the canonical request body.
    pub body_hash: String,
    /// The receipt first answered.
    pub receipt: CommitReceipt,
    /// When the commit was first accepted.
    pub created_at: Timestamp,
}

/// A stored API key: only its SHA-256 hash is kept.
///
/// ```
/// use ablo_server::storage::ApiKeyRecord;
/// let key = ApiKeyRecord { id: "key_1".into(), key_hash: "ab".into(), label: "bootstrap".into(),
///     created_at: ablo_runtime::Timestamp::now() };
/// assert_eq!(key.id, "key_1");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ApiKeyRecord {
    /// Public id of the key (used as the actor id).
    pub id: String,
    /// Hex SHA-256 of the key text.
    pub key_hash: String,
    /// Where the key came from.
    pub label: String,
    /// When it was stored.
    pub created_at: Timestamp,
}

/// What a list is sorted by.
///
/// ```
/// use ablo_server::storage::SortKey;
/// assert_eq!(SortKey::Field("title".into()).wire_name(), "title");
/// assert_eq!(SortKey::CreatedAt.wire_name(), "createdAt");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SortKey {
    /// The row id (the default: ids the server generates are time-ordered).
    Id,
    /// The row's stamp.
    Stamp,
    /// Creation time.
    CreatedAt,
    /// Last change time.
    UpdatedAt,
    /// A scalar field of the model.
    Field(String),
}

impl SortKey {
    /// The key's name in `orderBy`.
    ///
    /// ```
    /// assert_eq!(ablo_server::storage::SortKey::UpdatedAt.wire_name(), "updatedAt");
    /// ```
    pub fn wire_name(&self) -> &str {
        match self {
            SortKey::Id => "id",
            SortKey::Stamp => "stamp",
            SortKey::CreatedAt => "createdAt",
            SortKey::UpdatedAt => "updatedAt",
            SortKey::Field(name) => name,
        }
    }
}

/// Where the previous page ended: the sort value and id of its last row.
///
/// ```
/// use ablo_server::storage::ListPosition;
/// let p = ListPosition { value: serde_json::json!("Plan"), id: "t1".into() };
/// assert_eq!(p.id, "t1");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ListPosition {
    /// The sort value of the last row (`null` when it had none).
    pub value: Json,
    /// The id of the last row.
    pub id: String,
}

/// A list query: conditions on fields, one sort key (ties broken by id), a
/// page size and where the previous page ended.
///
/// ```
/// use ablo_server::storage::{FieldFilter, FilterOp, ListQuery, SortKey};
/// let q = ListQuery { model: "tasks".into(),
///     filters: vec![FieldFilter::new("priority", FilterOp::Gte, serde_json::json!(3))],
///     sort: SortKey::Id, descending: false, limit: 50, after: None, visible_to: None,
///     max_bytes: None };
/// assert_eq!(q.limit, 50);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ListQuery {
    /// The model's wire name.
    pub model: String,
    /// Conditions that must all hold, already checked against the model
    /// ([`ablo_runtime::filter::parse_where`]). Every backend applies them
    /// by the comparison rules of [`ablo_runtime::filter`] (null-safe `eq`
    /// and `ne`, no range holds for null, numbers by value, strings by code
    /// point), which the client's local pool applies too.
    pub filters: Vec<FieldFilter>,
    /// The sort key.
    pub sort: SortKey,
    /// Descending instead of ascending (`null` sorts first ascending).
    pub descending: bool,
    /// The page size.
    pub limit: usize,
    /// Where the previous page ended.
    pub after: Option<ListPosition>,
    /// Only rows each of whose sync groups matches these patterns (a
    /// capability's read scope); `None` for every row.
    pub visible_to: Option<crate::scope::GroupPatterns>,
    /// Stop once the page holds this many bytes of row data (the row that
    /// crosses it is kept, so a page is never empty); `None` for no bound.
    pub max_bytes: Option<usize>,
}

/// The result of [`Storage::list`].
///
/// ```
/// use ablo_server::storage::RowPage;
/// let page = RowPage { rows: vec![], head: ablo_runtime::SyncId(3), cut_short: false };
/// assert!(page.rows.is_empty());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RowPage {
    /// The rows, in the query's order.
    pub rows: Vec<StoredRow>,
    /// The newest sync id when the page was read.
    pub head: SyncId,
    /// Whether the page ended at `max_bytes` with more rows after it.
    pub cut_short: bool,
}

/// The result of [`Storage::deltas_after`].
///
/// ```
/// use ablo_server::storage::LogPage;
/// let page = LogPage { deltas: vec![], head: ablo_runtime::SyncId(4), has_more: false,
///     floor: ablo_runtime::SyncId::ZERO };
/// assert!(page.deltas.is_empty());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct LogPage {
    /// Deltas in order; never splits a commit.
    pub deltas: Vec<Delta>,
    /// The newest sync id when the page was read.
    pub head: SyncId,
    /// Whether more deltas follow the last one in `deltas`.
    pub has_more: bool,
    /// Every commit after this sync id is in the log (read in the same
    /// snapshot): a page asked for after an older sync id has a gap, and the
    /// reader must take the snapshot path instead.
    pub floor: SyncId,
}

/// Why a unit of [`Storage::write_group`] was rolled back to its savepoint.
///
/// ```
/// let _ = ablo_server::storage::UnitRolledBack;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitRolledBack;

/// The outcome of one unit of a group: applied, or rolled back to its
/// savepoint (the other units are unaffected).
pub type UnitResult = Result<Result<(), UnitRolledBack>, StorageError>;

/// The operations a commit performs inside its savepoint.
///
/// ```
/// use ablo_server::storage::{StorageError, WriteTx};
/// fn exists(tx: &mut dyn WriteTx, model: &str, id: &str) -> Result<bool, StorageError> {
///     Ok(tx.row(model, id)?.is_some())
/// }
/// ```
pub trait WriteTx: AuditTx {
    /// The newest sync id as this transaction sees it: the project's head
    /// when the group began (read under the backend's writer lock, so on
    /// every node it follows the last durable commit) plus what the units
    /// applied so far advanced it to.
    fn head(&self) -> SyncId;
    /// Records that the current unit applied a commit at `sync_id`
    /// (`head().next()`); undone if the unit is rolled back.
    fn advance_head(&mut self, sync_id: SyncId);
    /// Reads a row as the transaction sees it.
    fn row(&mut self, model: &str, id: &str) -> Result<Option<StoredRow>, StorageError>;
    /// Inserts or replaces a row.
    fn put_row(&mut self, row: &StoredRow) -> Result<(), StorageError>;
    /// Removes a row.
    fn delete_row(&mut self, model: &str, id: &str) -> Result<(), StorageError>;
    /// Appends a delta to the sync log (`position` orders deltas of one
    /// commit).
    fn append_delta(&mut self, position: usize, delta: &Delta) -> Result<(), StorageError>;
    /// Looks up a commit `principal` made and asked to be remembered.
    fn idempotency(
        &mut self,
        principal: &str,
        client_tx_id: &str,
    ) -> Result<Option<IdempotencyRecord>, StorageError>;
    /// Remembers a commit.
    fn put_idempotency(&mut self, record: &IdempotencyRecord) -> Result<(), StorageError>;
    /// Records a commit applied by a Data Source, by its transaction id, so
    /// the source's echo of it is recognised.
    fn put_source_commit(&mut self, client_tx_id: &str) -> Result<(), StorageError>;
}

/// A storage backend. Every method blocks; the server calls them from
/// blocking threads.
///
/// ```no_run
/// use ablo_server::storage::{SqliteStorage, Storage};
/// let storage = SqliteStorage::open(std::path::Path::new("./ablo-data")).unwrap();
/// println!("head: {}", storage.head().unwrap());
/// ```
pub trait Storage: AuthzStorage + SourceStorage + TransferStorage + Send + Sync + 'static {
    /// The newest sync id (0 before any commit).
    fn head(&self) -> Result<SyncId, StorageError>;
    /// The pushed schema, if any.
    fn schema(&self) -> Result<Option<SchemaDescriptor>, StorageError>;
    /// Stores the schema (replacing the previous one) and prepares indexes
    /// for its indexed fields.
    fn put_schema(&self, schema: &SchemaDescriptor) -> Result<(), StorageError>;
    /// Every stored API key.
    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StorageError>;
    /// Stores an API key (a key with the same hash is kept as it is).
    fn put_api_key(&self, key: &ApiKeyRecord) -> Result<(), StorageError>;
    /// One row and the head, read from one snapshot.
    fn row(&self, model: &str, id: &str) -> Result<(Option<StoredRow>, SyncId), StorageError>;
    /// A page of rows and the head, read from one snapshot.
    fn list(&self, query: &ListQuery) -> Result<RowPage, StorageError>;
    /// Deltas with sync id above `after`, at most about `limit` (a page
    /// is extended to finish its last commit).
    /// The page also ends at the first commit boundary after `max_bytes`
    /// bytes of deltas.
    fn deltas_after(
        &self,
        after: SyncId,
        limit: usize,
        max_bytes: usize,
    ) -> Result<LogPage, StorageError>;
    /// A random 32-byte secret the server keeps under `name`, created on
    /// first use and the same ever after (and on every node sharing the
    /// store): list cursors are sealed with it.
    fn server_secret(&self, name: &str) -> Result<Vec<u8>, StorageError>;
    /// Removes idempotency records created before `before`; returns how
    /// many.
    fn purge_idempotency(&self, before: Timestamp) -> Result<usize, StorageError>;
    /// Runs `units` units in one durable transaction, unit `i` inside its
    /// own savepoint through `run(i, tx)`. A unit that answers
    /// `Ok(Err(UnitRolledBack))` is rolled back alone. Returns after the
    /// transaction is durable; on `Err` nothing of the group is applied.
    ///
    /// Groups are serialized across every process sharing the store: a
    /// group starts after the previous one is durable and visible, so sync
    /// ids are taken, and become visible, in commit order.
    fn write_group(
        &self,
        units: usize,
        run: &mut dyn FnMut(usize, &mut dyn WriteTx) -> UnitResult,
    ) -> Result<(), StorageError>;
    /// Every commit after this sync id is in the log; 0 until the log is
    /// compacted.
    fn log_floor(&self) -> Result<SyncId, StorageError>;
    /// Removes the log's commits up to `through` (never past the head) and
    /// raises the floor to it; returns how many deltas were removed.
    fn compact_log(&self, through: SyncId) -> Result<usize, StorageError>;
    /// The newest head of a group committed before `at` (0 if none): where
    /// retention by age cuts the log.
    fn head_before(&self, at: Timestamp) -> Result<SyncId, StorageError>;
    /// Streams the current rows (all models, by model and id) from one read
    /// snapshot, `page_rows` at a time, to `sink` with the head of that
    /// snapshot; only rows every group of which `visible_to` allows, when
    /// given. Stops when `sink` answers `false`. Returns the head.
    fn snapshot(
        &self,
        visible_to: Option<&crate::scope::GroupPatterns>,
        page_rows: usize,
        sink: &mut dyn FnMut(SyncId, Vec<SnapshotRow>) -> bool,
    ) -> Result<SyncId, StorageError>;
    /// Which backend this is (`sqlite`, `postgres`).
    fn backend(&self) -> &'static str;
    /// Whether other processes may share the store (several nodes on one
    /// PostgreSQL): the server then follows their commits, capabilities,
    /// schema and sources.
    fn is_shared(&self) -> bool {
        false
    }
    /// A feed that wakes when another process sharing the store commits;
    /// `None` when no other process can (the embedded store).
    fn commit_feed(&self) -> Result<Option<Box<dyn CommitFeed>>, StorageError> {
        Ok(None)
    }
    /// The shared authority for intents and claims on a store several
    /// nodes share; `None` on the embedded store, whose single node keeps
    /// its board in memory.
    fn coordination(&self) -> Option<std::sync::Arc<dyn CoordinationStorage>> {
        None
    }
}

/// Tells a node that other nodes committed (PostgreSQL's `LISTEN`): the
/// node then reads the log after what it has published. A notification may
/// be lost (a dropped connection); the log is the truth, so a caller also
/// reads it when `wait` times out.
///
/// ```
/// use ablo_server::storage::{CommitFeed, StorageError};
/// fn drain(feed: &mut dyn CommitFeed) -> Result<(), StorageError> {
///     while feed.wait(std::time::Duration::from_millis(10))?.is_some() {}
///     Ok(())
/// }
/// ```
pub trait CommitFeed: Send {
    /// Blocks up to `timeout`; `Some(head)` when a commit up to `head` was
    /// announced, `None` on timeout.
    fn wait(&mut self, timeout: std::time::Duration) -> Result<Option<SyncId>, StorageError>;
}
