//! Bulk reading and writing of the SQLite store: the whole store from one
//! read transaction, an import in one `BEGIN IMMEDIATE` transaction on the
//! writer connection.

use ablo_runtime::wire::{CommitReceipt, Delta};
use ablo_runtime::{SyncId, Timestamp};
use rusqlite::{Connection, params};

use super::authz::{
    AUDIT_COLUMNS, CAPABILITY_COLUMNS, RUN_COLUMNS, decode_audit, decode_capability, decode_run,
    values,
};
use super::{
    ROW_COLUMNS, SqliteStorage, SqliteTx, decode_row, head_of, row_from_sql, store_schema,
};
use crate::storage::{
    ApiKeyRecord, IdempotencyRecord, ImportError, ImportTx, SourceRecord, StorageError,
    StoreContents, StoreRecord, TransferStorage, WriteTx, record_time,
};

fn time(text: &str) -> Result<Timestamp, StorageError> {
    Timestamp::parse(text).map_err(|e| StorageError::Corrupt(format!("timestamp {text}: {e}")))
}

fn contents_of(conn: &Connection) -> Result<StoreContents, StorageError> {
    let count = |table: &str| -> Result<u64, StorageError> {
        let n: i64 = conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?;
        Ok(n as u64)
    };
    Ok(StoreContents {
        head: head_of(conn)?,
        schema: count("pushed_schema")? > 0,
        rows: count("rows")?,
        deltas: count("sync_log")?,
        audit: count("audit_log")?,
        idempotency: count("idempotency_records")?,
        capabilities: count("capabilities")?,
        agent_runs: count("agent_runs")?,
        api_keys: count("api_keys")?,
        server_secrets: count("server_secrets")?,
        sources: count("sources")?,
        source_events: count("source_events")?,
        source_commits: count("source_commits")?,
    })
}

/// Runs `sql` and hands each decoded row to `visit`, streaming.
fn each(
    conn: &Connection,
    sql: &str,
    decode: impl Fn(&rusqlite::Row<'_>) -> Result<StoreRecord, StorageError>,
    visit: &mut dyn FnMut(StoreRecord) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    let mut stmt = conn.prepare(sql)?;
    let mut found = stmt.query([])?;
    while let Some(row) = found.next()? {
        visit(decode(row)?)?;
    }
    Ok(())
}

fn export(
    conn: &Connection,
    begin: &mut dyn FnMut(&StoreContents) -> Result<(), StorageError>,
    visit: &mut dyn FnMut(StoreRecord) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    begin(&contents_of(conn)?)?;
    each(
        conn,
        "SELECT descriptor FROM pushed_schema",
        |r| {
            Ok(StoreRecord::Schema(serde_json::from_str(
                &r.get::<_, String>(0)?,
            )?))
        },
        visit,
    )?;
    each(
        conn,
        "SELECT name, secret FROM server_secrets ORDER BY name",
        |r| {
            Ok(StoreRecord::ServerSecret {
                name: r.get(0)?,
                secret: r.get(1)?,
            })
        },
        visit,
    )?;
    each(
        conn,
        "SELECT id, key_hash, label, created_at FROM api_keys ORDER BY id",
        |r| {
            Ok(StoreRecord::ApiKey(ApiKeyRecord {
                id: r.get(0)?,
                key_hash: r.get(1)?,
                label: r.get(2)?,
                created_at: time(&r.get::<_, String>(3)?)?,
            }))
        },
        visit,
    )?;
    each(
        conn,
        &format!("SELECT {CAPABILITY_COLUMNS} FROM capabilities ORDER BY id"),
        |r| Ok(StoreRecord::Capability(decode_capability(values(r)?)?)),
        visit,
    )?;
    each(
        conn,
        &format!("SELECT {RUN_COLUMNS} FROM agent_runs ORDER BY id"),
        |r| Ok(StoreRecord::AgentRun(decode_run(values(r)?)?)),
        visit,
    )?;
    each(
        conn,
        "SELECT name, url, secret, models, events_cursor, updated_at FROM sources ORDER BY name",
        |r| {
            Ok(StoreRecord::Source(SourceRecord {
                name: r.get(0)?,
                url: r.get(1)?,
                secret: r.get(2)?,
                models: serde_json::from_str(&r.get::<_, String>(3)?)?,
                events_cursor: serde_json::from_str(&r.get::<_, String>(4)?)?,
                updated_at: time(&r.get::<_, String>(5)?)?,
            }))
        },
        visit,
    )?;
    each(
        conn,
        "SELECT source, event_id, at_ms FROM source_events ORDER BY source, event_id",
        |r| {
            Ok(StoreRecord::SourceEvent {
                source: r.get(0)?,
                event_id: r.get(1)?,
                at: record_time(r.get(2)?),
            })
        },
        visit,
    )?;
    each(
        conn,
        "SELECT client_tx_id, at_ms FROM source_commits ORDER BY client_tx_id",
        |r| {
            Ok(StoreRecord::SourceCommit {
                client_tx_id: r.get(0)?,
                at: record_time(r.get(1)?),
            })
        },
        visit,
    )?;
    each(
        conn,
        &format!("SELECT {ROW_COLUMNS} FROM rows ORDER BY model, id"),
        |r| Ok(StoreRecord::Row(decode_row(row_from_sql(r)?)?)),
        visit,
    )?;
    each(
        conn,
        "SELECT position, delta FROM sync_log ORDER BY sync_id, position",
        |r| {
            Ok(StoreRecord::Delta {
                position: r.get::<_, i64>(0)? as u32,
                delta: serde_json::from_str::<Delta>(&r.get::<_, String>(1)?)?,
            })
        },
        visit,
    )?;
    each(
        conn,
        &format!("SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY position"),
        |r| {
            let (position, entry) = decode_audit(values(r)?)?;
            Ok(StoreRecord::Audit { position, entry })
        },
        visit,
    )?;
    each(
        conn,
        "SELECT principal, client_tx_id, body_hash, receipt, created_at_ms FROM idempotency_records
         ORDER BY principal, client_tx_id",
        |r| {
            Ok(StoreRecord::Idempotency(IdempotencyRecord {
                principal: r.get(0)?,
                client_tx_id: r.get(1)?,
                body_hash: r.get(2)?,
                receipt: serde_json::from_str::<CommitReceipt>(&r.get::<_, String>(3)?)?,
                created_at: Timestamp::from_millis(r.get(4)?)
                    .ok_or_else(|| StorageError::Corrupt("idempotency time".into()))?,
            }))
        },
        visit,
    )?;
    Ok(())
}

/// The writes of an import, on the writer connection inside its
/// transaction.
struct SqliteImport<'c> {
    tx: SqliteTx<'c>,
}

impl ImportTx for SqliteImport<'_> {
    fn put(&mut self, record: &StoreRecord) -> Result<(), StorageError> {
        let conn = self.tx.conn;
        match record {
            StoreRecord::Schema(schema) => store_schema(conn, schema)?,
            StoreRecord::ServerSecret { name, secret } => {
                conn.prepare_cached("INSERT INTO server_secrets (name, secret) VALUES (?1, ?2)")?
                    .execute(params![name, secret])?;
            }
            StoreRecord::ApiKey(key) => {
                conn.prepare_cached(
                    "INSERT INTO api_keys (id, key_hash, label, created_at) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![
                    key.id,
                    key.key_hash,
                    key.label,
                    key.created_at.to_string()
                ])?;
            }
            StoreRecord::Capability(c) => {
                conn.prepare_cached(&format!(
                    "INSERT INTO capabilities ({CAPABILITY_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
                ))?
                .execute(params![
                    c.id,
                    c.token_hash,
                    c.participant.kind.as_str(),
                    c.participant.id,
                    c.on_behalf_of.as_ref().map(|p| p.kind.as_str()),
                    c.on_behalf_of.as_ref().map(|p| p.id.clone()),
                    serde_json::to_string(&c.operations)?,
                    serde_json::to_string(&c.sync_groups)?,
                    c.label,
                    c.created_by,
                    c.created_at.as_millis(),
                    c.expires_at.as_millis(),
                    c.revoked_at.map(|t| t.as_millis()),
                ])?;
            }
            StoreRecord::AgentRun(run) => {
                conn.prepare_cached(&format!(
                    "INSERT INTO agent_runs ({RUN_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
                ))?
                .execute(params![
                    run.id,
                    run.participant.kind.as_str(),
                    run.participant.id,
                    run.on_behalf_of.as_ref().map(|p| p.kind.as_str()),
                    run.on_behalf_of.as_ref().map(|p| p.id.clone()),
                    run.capability_id,
                    run.prompt,
                    run.surface,
                    run.parent_task_id,
                    run.metadata.as_ref().map(|m| m.to_string()),
                    run.status,
                    run.created_at.as_millis(),
                    run.closed_at.map(|t| t.as_millis()),
                    run.cost_input_tokens as i64,
                    run.cost_output_tokens as i64,
                    run.cost_compute_ms as i64,
                ])?;
            }
            StoreRecord::Source(source) => {
                conn.prepare_cached(
                    "INSERT INTO sources (name, url, secret, models, events_cursor, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    source.name,
                    source.url,
                    source.secret,
                    serde_json::to_string(&source.models)?,
                    serde_json::to_string(&source.events_cursor)?,
                    source.updated_at.to_string(),
                ])?;
            }
            StoreRecord::SourceEvent {
                source,
                event_id,
                at,
            } => {
                conn.prepare_cached(
                    "INSERT INTO source_events (source, event_id, at_ms) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![source, event_id, at.as_millis()])?;
            }
            StoreRecord::SourceCommit { client_tx_id, at } => {
                conn.prepare_cached(
                    "INSERT INTO source_commits (client_tx_id, at_ms) VALUES (?1, ?2)",
                )?
                .execute(params![client_tx_id, at.as_millis()])?;
            }
            StoreRecord::Row(row) => self.tx.put_row(row)?,
            StoreRecord::Delta { position, delta } => {
                self.tx.append_delta(*position as usize, delta)?;
            }
            StoreRecord::Audit { position, entry: e } => {
                conn.prepare_cached(&format!(
                    "INSERT INTO audit_log ({AUDIT_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
                ))?
                .execute(params![
                    *position as i64,
                    e.actor.kind.as_str(),
                    e.actor.id,
                    e.chain_seq as i64,
                    e.at_ms,
                    e.on_behalf_of.as_ref().map(|p| p.kind.as_str()),
                    e.on_behalf_of.as_ref().map(|p| p.id.clone()),
                    e.capability_id,
                    e.capability_label,
                    e.task_id,
                    e.model,
                    e.action,
                    serde_json::to_string(&e.row_ids)?,
                    e.sync_id as i64,
                    e.flagged as i64,
                    serde_json::to_string(&e.changed_fields)?,
                    e.prev_hash,
                    e.row_hash,
                ])?;
            }
            StoreRecord::Idempotency(record) => self.tx.put_idempotency(record)?,
        }
        Ok(())
    }

    fn contents(&mut self) -> Result<StoreContents, StorageError> {
        contents_of(self.tx.conn)
    }

    fn set_head(&mut self, head: SyncId) -> Result<(), StorageError> {
        self.tx
            .conn
            .prepare_cached("UPDATE sync_head SET head = ?1")?
            .execute(params![head.0 as i64])?;
        // The log arrived as it was kept: every commit after the one
        // before its first entry (all of them, if it is empty) is there.
        self.tx.conn.execute(
            "UPDATE sync_floor SET floor = COALESCE((SELECT MIN(sync_id) - 1 FROM sync_log), ?1)",
            params![head.0 as i64],
        )?;
        self.tx.head = head;
        Ok(())
    }
}

impl TransferStorage for SqliteStorage {
    fn contents(&self) -> Result<StoreContents, StorageError> {
        self.read(contents_of)
    }

    fn export_all(
        &self,
        begin: &mut dyn FnMut(&StoreContents) -> Result<(), StorageError>,
        visit: &mut dyn FnMut(StoreRecord) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        self.read(|conn| export(conn, begin, visit))
    }

    fn import_all(
        &self,
        load: &mut dyn FnMut(&mut dyn ImportTx) -> Result<(), ImportError>,
    ) -> Result<(), ImportError> {
        let conn = self.write_connection();
        conn.execute_batch("BEGIN IMMEDIATE")
            .map_err(StorageError::from)?;
        let guard = super::RollbackUnlessDone(&conn);
        let outcome = (|| {
            let found = contents_of(&conn)?;
            if !found.is_empty() {
                return Err(ImportError::NotEmpty(found));
            }
            let mut import = SqliteImport {
                tx: SqliteTx {
                    conn: &conn,
                    head: SyncId::ZERO,
                },
            };
            load(&mut import)?;
            conn.execute_batch("COMMIT").map_err(StorageError::from)?;
            Ok(())
        })();
        // Nothing of a failed import applies.
        drop(guard);
        outcome
    }
}
