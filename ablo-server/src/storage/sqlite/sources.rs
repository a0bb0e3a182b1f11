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
    at_ms INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (source, event_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS source_commits (
    client_tx_id TEXT PRIMARY KEY,
    at_ms INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
";

/// Brings the tables of a data directory made before records expired up to
/// date: their records get the upgrade's time, so each is kept for the
/// whole retention from then.
pub(super) fn upgrade(conn: &rusqlite::Connection) -> Result<(), StorageError> {
    let now = Timestamp::now().as_millis();
    for table in ["source_events", "source_commits"] {
        let has_time: bool = conn.query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info(?1) WHERE name = 'at_ms'",
            params![table],
            |r| r.get(0),
        )?;
        if !has_time {
            conn.execute_batch(&format!(
                "ALTER TABLE {table} ADD COLUMN at_ms INTEGER NOT NULL DEFAULT 0;
                 UPDATE {table} SET at_ms = {now};"
            ))?;
        }
    }
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS source_events_by_time ON source_events (at_ms);
         CREATE INDEX IF NOT EXISTS source_commits_by_time ON source_commits (at_ms);",
    )?;
    Ok(())
}

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
            "INSERT INTO source_events (source, event_id, at_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
            params![source, event_id, Timestamp::now().as_millis()],
        )?;
        Ok(())
    }

    fn purge_source_records(&self, before: Timestamp) -> Result<usize, StorageError> {
        let conn = self.write_connection();
        let before = before.as_millis();
        let events = conn.execute(
            "DELETE FROM source_events WHERE at_ms < ?1",
            params![before],
        )?;
        let commits = conn.execute(
            "DELETE FROM source_commits WHERE at_ms < ?1",
            params![before],
        )?;
        Ok(events + commits)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Storage;

    #[test]
    fn records_of_a_directory_made_before_expiry_are_kept_for_the_whole_retention() {
        let dir = tempfile::tempdir().unwrap();
        {
            let old = rusqlite::Connection::open(dir.path().join("ablo.db")).unwrap();
            old.execute_batch(
                "CREATE TABLE source_events (
                     source TEXT NOT NULL,
                     event_id TEXT NOT NULL,
                     PRIMARY KEY (source, event_id)
                 ) WITHOUT ROWID;
                 CREATE TABLE source_commits (client_tx_id TEXT PRIMARY KEY) WITHOUT ROWID;
                 INSERT INTO source_events VALUES ('crm', 'ev_1');
                 INSERT INTO source_commits VALUES ('tx_1');",
            )
            .unwrap();
        }
        let before_upgrade = Timestamp::from_millis(Timestamp::now().as_millis() - 1000).unwrap();
        let storage = SqliteStorage::open(dir.path()).unwrap();
        assert!(storage.event_applied("crm", "ev_1").unwrap());
        assert_eq!(storage.purge_source_records(before_upgrade).unwrap(), 0);
        assert!(storage.is_source_commit("tx_1").unwrap());
        // Opening again does not upgrade twice.
        drop(storage);
        let storage = SqliteStorage::open(dir.path()).unwrap();
        assert!(storage.event_applied("crm", "ev_1").unwrap());
        assert!(storage.head().is_ok());
    }
}
