//! Records and storage calls of Data Sources: their configuration, the
//! events cursor, the ids of applied events and the transaction ids of the
//! commits sent to a source (to recognise their echoes).

use ablo_runtime::{Json, Timestamp};

use super::StorageError;

/// A configured Data Source.
///
/// ```
/// let record = ablo_server::storage::SourceRecord {
///     name: "app".into(), url: "http://127.0.0.1:9/source".into(),
///     secret: "whsec_x".into(), models: vec!["tasks".into()],
///     events_cursor: serde_json::Value::Null, updated_at: ablo_runtime::Timestamp::now() };
/// assert_eq!(record.models, ["tasks"]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SourceRecord {
    /// Its name, in `/v1/sources/{name}`.
    pub name: String,
    /// The Data Source URL.
    pub url: String,
    /// The signing secret (`whsec_...`).
    pub secret: String,
    /// Model wire names it backs.
    pub models: Vec<String>,
    /// Where the next events poll continues.
    pub events_cursor: Json,
    /// When the configuration last changed.
    pub updated_at: Timestamp,
}

/// Data Source configuration and event bookkeeping.
pub trait SourceStorage {
    /// Every configured source.
    fn sources(&self) -> Result<Vec<SourceRecord>, StorageError>;
    /// Creates or replaces a source's configuration.
    fn put_source(&self, record: &SourceRecord) -> Result<(), StorageError>;
    /// Stores where the next events poll of `source` continues.
    fn put_events_cursor(&self, source: &str, cursor: &Json) -> Result<(), StorageError>;
    /// Whether event `event_id` of `source` was applied before.
    fn event_applied(&self, source: &str, event_id: &str) -> Result<bool, StorageError>;
    /// Records event `event_id` of `source` as applied.
    fn mark_event_applied(&self, source: &str, event_id: &str) -> Result<(), StorageError>;
    /// Whether a commit with this transaction id was sent to a source.
    fn is_source_commit(&self, client_tx_id: &str) -> Result<bool, StorageError>;
    /// Whether a commit with this transaction id is remembered for replay.
    fn commit_remembered(&self, principal: &str, client_tx_id: &str) -> Result<bool, StorageError>;
    /// Forgets applied events and sent commits recorded before `before`
    /// (an event delivered again after that is applied again); returns how
    /// many records went.
    fn purge_source_records(&self, before: Timestamp) -> Result<usize, StorageError>;
}
