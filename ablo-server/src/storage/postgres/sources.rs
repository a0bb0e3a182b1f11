//! PostgreSQL tables of Data Sources: `sources`, `source_events`,
//! `source_commits`.

use ablo_runtime::{Json, Timestamp};

use super::PostgresStorage;
use crate::storage::{SourceRecord, SourceStorage, StorageError};

impl SourceStorage for PostgresStorage {
    fn sources(&self) -> Result<Vec<SourceRecord>, StorageError> {
        self.client()?
            .query(
                "SELECT name, url, secret, models, events_cursor, updated_at FROM sources ORDER BY name",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(SourceRecord {
                    name: r.get(0),
                    url: r.get(1),
                    secret: r.get(2),
                    models: serde_json::from_str(r.get(3))?,
                    events_cursor: serde_json::from_str(r.get(4))?,
                    updated_at: Timestamp::parse(r.get(5))
                        .map_err(|e| StorageError::Corrupt(format!("source time: {e}")))?,
                })
            })
            .collect()
    }

    fn put_source(&self, record: &SourceRecord) -> Result<(), StorageError> {
        self.client()?.execute(
            "INSERT INTO sources (name, url, secret, models, events_cursor, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (name) DO UPDATE SET url = $2, secret = $3, models = $4,
                 events_cursor = $5, updated_at = $6",
            &[
                &record.name,
                &record.url,
                &record.secret,
                &serde_json::to_string(&record.models)?,
                &serde_json::to_string(&record.events_cursor)?,
                &record.updated_at.to_string(),
            ],
        )?;
        Ok(())
    }

    fn put_events_cursor(&self, source: &str, cursor: &Json) -> Result<(), StorageError> {
        self.client()?.execute(
            "UPDATE sources SET events_cursor = $2 WHERE name = $1",
            &[&source, &serde_json::to_string(cursor)?],
        )?;
        Ok(())
    }

    fn event_applied(&self, source: &str, event_id: &str) -> Result<bool, StorageError> {
        Ok(self
            .client()?
            .query_opt(
                "SELECT 1 FROM source_events WHERE source = $1 AND event_id = $2",
                &[&source, &event_id],
            )?
            .is_some())
    }

    fn mark_event_applied(&self, source: &str, event_id: &str) -> Result<(), StorageError> {
        self.client()?.execute(
            "INSERT INTO source_events (source, event_id, at_ms) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&source, &event_id, &Timestamp::now().as_millis()],
        )?;
        Ok(())
    }

    fn purge_source_records(&self, before: Timestamp) -> Result<usize, StorageError> {
        let mut client = self.client()?;
        let before = before.as_millis();
        let events = client.execute("DELETE FROM source_events WHERE at_ms < $1", &[&before])?;
        let commits = client.execute("DELETE FROM source_commits WHERE at_ms < $1", &[&before])?;
        Ok((events + commits) as usize)
    }

    fn commit_remembered(&self, principal: &str, client_tx_id: &str) -> Result<bool, StorageError> {
        Ok(self
            .client()?
            .query_opt(
                "SELECT 1 FROM idempotency_records WHERE principal = $1 AND client_tx_id = $2",
                &[&principal, &client_tx_id],
            )?
            .is_some())
    }

    fn is_source_commit(&self, client_tx_id: &str) -> Result<bool, StorageError> {
        Ok(self
            .client()?
            .query_opt(
                "SELECT 1 FROM source_commits WHERE client_tx_id = $1",
                &[&client_tx_id],
            )?
            .is_some())
    }
}
