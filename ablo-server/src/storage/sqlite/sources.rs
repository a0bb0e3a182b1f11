//! SQLite tables of Data Sources: `sources`, `source_events`,
//! `source_commits`.

use ablo_runtime::{Json, Timestamp};
use rusqlite::{OptionalExtension, params};

use super::SqliteStorage;
use crate::storage::{SourceRecord, SourceStorage, StorageError};

pub(super) const SCHEMA_SQL: &str = "
CREATE TABLE IF NOT EXISTS sources (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    models TEXT NOT NULL,
    events_cursor TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS source_events (
    source TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (source, event_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS source_commits (
    client_tx_id TEXT PRIMARY KEY
) WITHOUT ROWID;
";

impl SourceStorage for SqliteStorage {
    fn sources(&self) -> Result<Vec<SourceRecord>, StorageError> {
        self.read(|conn| {
            let mut statement = conn.prepare(
                "SELECT name, url, secret, models, events_cursor, updated_at FROM sources ORDER BY name",
            )?;
            let rows = statement.query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                ))
            })?;
            let mut records = Vec::new();
            for row in rows {
                let (name, url, secret, models, cursor, updated_at) = row?;
                records.push(SourceRecord {
                    name,
                    url,
                    secret,
                    models: serde_json::from_str(&models)?,
                    events_cursor: serde_json::from_str(&cursor)?,
                    updated_at: Timestamp::parse(&updated_at)
                        .map_err(|e| StorageError::Corrupt(format!("source time: {e}")))?,
                });
            }
            Ok(records)
        })
    }

    fn put_source(&self, record: &SourceRecord) -> Result<(), StorageError> {
        let conn = self.write_connection();
        conn.execute(
            "INSERT INTO sources (name, url, secret, models, events_cursor, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (name) DO UPDATE SET url = ?2, secret = ?3, models = ?4,
                 events_cursor = ?5, updated_at = ?6",
            params![
                record.name,
                record.url,
                record.secret,
                serde_json::to_string(&record.models)?,
                serde_json::to_string(&record.events_cursor)?,
                record.updated_at.to_string(),
            ],
        )?;
        Ok(())
    }

    fn put_events_cursor(&self, source: &str, cursor: &Json) -> Result<(), StorageError> {
        let conn = self.write_connection();
        conn.execute(
            "UPDATE sources SET events_cursor = ?2 WHERE name = ?1",
            params![source, serde_json::to_string(cursor)?],
        )?;
        Ok(())
    }

    fn event_applied(&self, source: &str, event_id: &str) -> Result<bool, StorageError> {
        self.read(|conn| {
            Ok(conn
                .query_row(
                    "SELECT 1 FROM source_events WHERE source = ?1 AND event_id = ?2",
                    params![source, event_id],
                    |_| Ok(()),
                )
                .optional()?
                .is_some())
        })
    }

    fn mark_event_applied(&self, source: &str, event_id: &str) -> Result<(), StorageError> {
        let conn = self.write_connection();
        conn.execute(
            "INSERT INTO source_events (source, event_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![source, event_id],
        )?;
        Ok(())
    }

    fn commit_remembered(&self, principal: &str, client_tx_id: &str) -> Result<bool, StorageError> {
        self.read(|conn| {
            Ok(conn
                .query_row(
                    "SELECT 1 FROM idempotency_records WHERE principal = ?1 AND client_tx_id = ?2",
                    params![principal, client_tx_id],
                    |_| Ok(()),
                )
                .optional()?
                .is_some())
        })
    }

    fn is_source_commit(&self, client_tx_id: &str) -> Result<bool, StorageError> {
        self.read(|conn| {
            Ok(conn
                .query_row(
                    "SELECT 1 FROM source_commits WHERE client_tx_id = ?1",
                    params![client_tx_id],
                    |_| Ok(()),
                )
                .optional()?
                .is_some())
        })
    }
}
