//! Bulk reading and writing of the PostgreSQL store: the whole store from
//! one `REPEATABLE READ` snapshot read through portals (a page at a time,
//! never the whole table in memory), an import in one transaction holding
//! the `sync_head` row lock. Rows and deltas are inserted a batch at a time
//! (`unnest` of arrays), the other tables by prepared statements.

use std::collections::HashMap;

use ablo_runtime::wire::{CommitReceipt, Delta};
use ablo_runtime::{Json, SyncId, Timestamp};
use postgres::types::ToSql;
use postgres::{Statement, Transaction};

use super::authz::{
    AUDIT_COLUMNS, CAPABILITY_COLUMNS, RUN_COLUMNS, decode_audit, decode_capability, decode_run,
};
use super::rows::{ROW_COLUMNS, decode_row};
use super::{PostgresStorage, head_of, store_schema, timestamp};
use crate::storage::{
    ApiKeyRecord, IdempotencyRecord, ImportError, ImportTx, SourceRecord, StorageError,
    StoreContents, StoreRecord, StoredRow, TransferStorage, record_time,
};

/// Rows fetched from a portal at a time.
const PAGE: i32 = 1000;
/// Rows or deltas inserted by one statement.
const BATCH: usize = 1000;

fn contents_of(tx: &mut Transaction<'_>) -> Result<StoreContents, StorageError> {
    let r = tx.query_one(
        "SELECT (SELECT COUNT(*) FROM pushed_schema), (SELECT COUNT(*) FROM rows),
                (SELECT COUNT(*) FROM sync_log), (SELECT COUNT(*) FROM audit_log),
                (SELECT COUNT(*) FROM idempotency_records), (SELECT COUNT(*) FROM capabilities),
                (SELECT COUNT(*) FROM agent_runs), (SELECT COUNT(*) FROM api_keys),
                (SELECT COUNT(*) FROM server_secrets), (SELECT COUNT(*) FROM sources),
                (SELECT COUNT(*) FROM source_events), (SELECT COUNT(*) FROM source_commits)",
        &[],
    )?;
    let n = |i: usize| r.get::<_, i64>(i) as u64;
    Ok(StoreContents {
        head: head_of(tx)?,
        schema: n(0) > 0,
        rows: n(1),
        deltas: n(2),
        audit: n(3),
        idempotency: n(4),
        capabilities: n(5),
        agent_runs: n(6),
        api_keys: n(7),
        server_secrets: n(8),
        sources: n(9),
        source_events: n(10),
        source_commits: n(11),
    })
}

/// Runs `sql` through a portal and hands each decoded row to `visit`.
fn each(
    tx: &mut Transaction<'_>,
    sql: &str,
    decode: impl Fn(&postgres::Row) -> Result<StoreRecord, StorageError>,
    visit: &mut dyn FnMut(StoreRecord) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    let portal = tx.bind(sql, &[])?;
    loop {
        let page = tx.query_portal(&portal, PAGE)?;
        if page.is_empty() {
            return Ok(());
        }
        for row in &page {
            visit(decode(row)?)?;
        }
    }
}

fn export(
    tx: &mut Transaction<'_>,
    begin: &mut dyn FnMut(&StoreContents) -> Result<(), StorageError>,
    visit: &mut dyn FnMut(StoreRecord) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    begin(&contents_of(tx)?)?;
    each(
        tx,
        "SELECT descriptor FROM pushed_schema",
        |r| Ok(StoreRecord::Schema(serde_json::from_str(r.get(0))?)),
        visit,
    )?;
    each(
        tx,
        "SELECT name, secret FROM server_secrets ORDER BY name",
        |r| {
            Ok(StoreRecord::ServerSecret {
                name: r.get(0),
                secret: r.get(1),
            })
        },
        visit,
    )?;
    each(
        tx,
        "SELECT id, key_hash, label, created_at FROM api_keys ORDER BY id",
        |r| {
            Ok(StoreRecord::ApiKey(ApiKeyRecord {
                id: r.get(0),
                key_hash: r.get(1),
                label: r.get(2),
                created_at: timestamp(r.get(3))?,
            }))
        },
        visit,
    )?;
    each(
        tx,
        &format!("SELECT {CAPABILITY_COLUMNS} FROM capabilities ORDER BY id"),
        |r| Ok(StoreRecord::Capability(decode_capability(r)?)),
        visit,
    )?;
    each(
        tx,
        &format!("SELECT {RUN_COLUMNS} FROM agent_runs ORDER BY id"),
        |r| Ok(StoreRecord::AgentRun(decode_run(r)?)),
        visit,
    )?;
    each(
        tx,
        "SELECT name, url, secret, models, events_cursor, updated_at FROM sources ORDER BY name",
        |r| {
            Ok(StoreRecord::Source(SourceRecord {
                name: r.get(0),
                url: r.get(1),
                secret: r.get(2),
                models: serde_json::from_str(r.get(3))?,
                events_cursor: serde_json::from_str(r.get(4))?,
                updated_at: timestamp(r.get(5))?,
            }))
        },
        visit,
    )?;
    each(
        tx,
        "SELECT source, event_id, at_ms FROM source_events ORDER BY source, event_id",
        |r| {
            Ok(StoreRecord::SourceEvent {
                source: r.get(0),
                event_id: r.get(1),
                at: record_time(r.get(2)),
            })
        },
        visit,
    )?;
    each(
        tx,
        "SELECT client_tx_id, at_ms FROM source_commits ORDER BY client_tx_id",
        |r| {
            Ok(StoreRecord::SourceCommit {
                client_tx_id: r.get(0),
                at: record_time(r.get(1)),
            })
        },
        visit,
    )?;
    each(
        tx,
        &format!("SELECT {ROW_COLUMNS} FROM rows ORDER BY model, id"),
        |r| Ok(StoreRecord::Row(decode_row(r)?.0)),
        visit,
    )?;
    each(
        tx,
        "SELECT position, delta FROM sync_log ORDER BY sync_id, position",
        |r| {
            Ok(StoreRecord::Delta {
                position: r.get::<_, i32>(0) as u32,
                delta: serde_json::from_str::<Delta>(r.get(1))?,
            })
        },
        visit,
    )?;
    each(
        tx,
        &format!("SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY position"),
        |r| {
            let (position, entry) = decode_audit(r)?;
            Ok(StoreRecord::Audit { position, entry })
        },
        visit,
    )?;
    each(
        tx,
        "SELECT principal, client_tx_id, body_hash, receipt, created_at_ms FROM idempotency_records
         ORDER BY principal, client_tx_id",
        |r| {
            Ok(StoreRecord::Idempotency(IdempotencyRecord {
                principal: r.get(0),
                client_tx_id: r.get(1),
                body_hash: r.get(2),
                receipt: serde_json::from_str::<CommitReceipt>(r.get(3))?,
                created_at: Timestamp::from_millis(r.get(4))
                    .ok_or_else(|| StorageError::Corrupt("idempotency time".into()))?,
            }))
        },
        visit,
    )?;
    Ok(())
}

/// The writes of an import inside its transaction; rows and deltas wait in
/// a batch until [`BATCH`] are pending or another kind of record comes.
struct PgImport<'t, 'c> {
    txn: &'t mut Transaction<'c>,
    statements: HashMap<&'static str, Statement>,
    rows: Vec<StoredRow>,
    deltas: Vec<(u32, Delta)>,
    max_audit_position: i64,
    imported_schema: Option<ablo_runtime::SchemaDescriptor>,
}

const INSERT_ROWS: &str = "INSERT INTO rows (model, id, data, field_stamps, stamp, created_at, updated_at, sync_groups)
     SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::jsonb[], $5::int8[], $6::text[], $7::text[], $8::jsonb[])";
const INSERT_DELTAS: &str = "INSERT INTO sync_log (sync_id, position, delta)
     SELECT * FROM unnest($1::int8[], $2::int4[], $3::text[])";

impl PgImport<'_, '_> {
    fn execute(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<(), StorageError> {
        let statement = match self.statements.get(sql) {
            Some(statement) => statement.clone(),
            None => {
                let statement = self.txn.prepare(sql)?;
                self.statements.insert(sql, statement.clone());
                statement
            }
        };
        self.txn.execute(&statement, params)?;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StorageError> {
        if !self.rows.is_empty() {
            let rows = std::mem::take(&mut self.rows);
            let n = rows.len();
            let (mut models, mut ids) = (Vec::with_capacity(n), Vec::with_capacity(n));
            let (mut data, mut field_stamps) = (Vec::with_capacity(n), Vec::with_capacity(n));
            let mut stamps = Vec::with_capacity(n);
            let (mut created, mut updated) = (Vec::with_capacity(n), Vec::with_capacity(n));
            let mut groups = Vec::with_capacity(n);
            for row in &rows {
                models.push(row.model.as_str());
                ids.push(row.id.as_str());
                data.push(Json::Object(row.data.clone()));
                field_stamps.push(serde_json::to_value(&row.field_stamps)?);
                stamps.push(row.stamp.0 as i64);
                created.push(row.created_at.to_string());
                updated.push(row.updated_at.to_string());
                groups.push(serde_json::to_value(&row.sync_groups)?);
            }
            self.execute(
                INSERT_ROWS,
                &[
                    &models,
                    &ids,
                    &data,
                    &field_stamps,
                    &stamps,
                    &created,
                    &updated,
                    &groups,
                ],
            )?;
        }
        if !self.deltas.is_empty() {
            let deltas = std::mem::take(&mut self.deltas);
            let mut ids = Vec::with_capacity(deltas.len());
            let mut positions = Vec::with_capacity(deltas.len());
            let mut texts = Vec::with_capacity(deltas.len());
            for (position, delta) in &deltas {
                ids.push(delta.sync_id.0 as i64);
                positions.push(*position as i32);
                texts.push(serde_json::to_string(delta)?);
            }
            self.execute(INSERT_DELTAS, &[&ids, &positions, &texts])?;
        }
        Ok(())
    }
}

impl ImportTx for PgImport<'_, '_> {
    fn put(&mut self, record: &StoreRecord) -> Result<(), StorageError> {
        match record {
            StoreRecord::Row(row) => {
                self.rows.push(row.clone());
                if self.rows.len() >= BATCH {
                    self.flush()?;
                }
                return Ok(());
            }
            StoreRecord::Delta { position, delta } => {
                self.deltas.push((*position, delta.clone()));
                if self.deltas.len() >= BATCH {
                    self.flush()?;
                }
                return Ok(());
            }
            _ => self.flush()?,
        }
        match record {
            StoreRecord::Schema(schema) => {
                store_schema(self.txn, schema)?;
                self.imported_schema = Some(schema.clone());
            }
            StoreRecord::ServerSecret { name, secret } => self.execute(
                "INSERT INTO server_secrets (name, secret) VALUES ($1, $2)",
                &[name, secret],
            )?,
            StoreRecord::ApiKey(key) => self.execute(
                "INSERT INTO api_keys (id, key_hash, label, created_at) VALUES ($1, $2, $3, $4)",
                &[&key.id, &key.key_hash, &key.label, &key.created_at.to_string()],
            )?,
            StoreRecord::Capability(c) => self.execute(
                "INSERT INTO capabilities (id, token_hash, participant_kind, participant_id,
                   on_behalf_of_kind, on_behalf_of_id, operations, sync_groups, label, created_by,
                   created_at_ms, expires_at_ms, revoked_at_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                &[
                    &c.id,
                    &c.token_hash,
                    &c.participant.kind.as_str(),
                    &c.participant.id,
                    &c.on_behalf_of.as_ref().map(|p| p.kind.as_str()),
                    &c.on_behalf_of.as_ref().map(|p| p.id.clone()),
                    &serde_json::to_string(&c.operations)?,
                    &serde_json::to_string(&c.sync_groups)?,
                    &c.label,
                    &c.created_by,
                    &c.created_at.as_millis(),
                    &c.expires_at.as_millis(),
                    &c.revoked_at.map(|t| t.as_millis()),
                ],
            )?,
            StoreRecord::AgentRun(run) => self.execute(
                "INSERT INTO agent_runs (id, participant_kind, participant_id, on_behalf_of_kind,
                   on_behalf_of_id, capability_id, prompt, surface, parent_task_id, metadata, status,
                   created_at_ms, closed_at_ms, cost_input_tokens, cost_output_tokens, cost_compute_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                &[
                    &run.id,
                    &run.participant.kind.as_str(),
                    &run.participant.id,
                    &run.on_behalf_of.as_ref().map(|p| p.kind.as_str()),
                    &run.on_behalf_of.as_ref().map(|p| p.id.clone()),
                    &run.capability_id,
                    &run.prompt,
                    &run.surface,
                    &run.parent_task_id,
                    &run.metadata.as_ref().map(|m| m.to_string()),
                    &run.status,
                    &run.created_at.as_millis(),
                    &run.closed_at.map(|t| t.as_millis()),
                    &(run.cost_input_tokens as i64),
                    &(run.cost_output_tokens as i64),
                    &(run.cost_compute_ms as i64),
                ],
            )?,
            StoreRecord::Source(source) => self.execute(
                "INSERT INTO sources (name, url, secret, models, events_cursor, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &source.name,
                    &source.url,
                    &source.secret,
                    &serde_json::to_string(&source.models)?,
                    &serde_json::to_string(&source.events_cursor)?,
                    &source.updated_at.to_string(),
                ],
            )?,
            StoreRecord::SourceEvent {
                source,
                event_id,
                at,
            } => self.execute(
                "INSERT INTO source_events (source, event_id, at_ms) VALUES ($1, $2, $3)",
                &[source, event_id, &at.as_millis()],
            )?,
            StoreRecord::SourceCommit { client_tx_id, at } => self.execute(
                "INSERT INTO source_commits (client_tx_id, at_ms) VALUES ($1, $2)",
                &[client_tx_id, &at.as_millis()],
            )?,
            StoreRecord::Audit { position, entry: e } => {
                let position = *position as i64;
                self.max_audit_position = self.max_audit_position.max(position);
                self.execute(
                    "INSERT INTO audit_log (position, principal_kind, principal_id, chain_seq, at_ms,
                       on_behalf_of_kind, on_behalf_of_id, capability_id, capability_label, task_id,
                       model, action, row_ids, sync_id, flagged, changed_fields, prev_hash, row_hash)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
                    &[
                        &position,
                        &e.actor.kind.as_str(),
                        &e.actor.id,
                        &(e.chain_seq as i64),
                        &e.at_ms,
                        &e.on_behalf_of.as_ref().map(|p| p.kind.as_str()),
                        &e.on_behalf_of.as_ref().map(|p| p.id.clone()),
                        &e.capability_id,
                        &e.capability_label,
                        &e.task_id,
                        &e.model,
                        &e.action,
                        &serde_json::to_string(&e.row_ids)?,
                        &(e.sync_id as i64),
                        &e.flagged,
                        &serde_json::to_string(&e.changed_fields)?,
                        &e.prev_hash,
                        &e.row_hash,
                    ],
                )?
            }
            StoreRecord::Idempotency(record) => self.execute(
                "INSERT INTO idempotency_records (principal, client_tx_id, body_hash, receipt, created_at_ms)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &record.principal,
                    &record.client_tx_id,
                    &record.body_hash,
                    &serde_json::to_string(&record.receipt)?,
                    &record.created_at.as_millis(),
                ],
            )?,
            StoreRecord::Row(_) | StoreRecord::Delta { .. } => unreachable!("batched above"),
        }
        Ok(())
    }

    fn contents(&mut self) -> Result<StoreContents, StorageError> {
        self.flush()?;
        contents_of(self.txn)
    }

    fn set_head(&mut self, head: SyncId) -> Result<(), StorageError> {
        self.flush()?;
        self.txn
            .execute("UPDATE sync_head SET head = $1", &[&(head.0 as i64)])?;
        // The log arrived as it was kept: every commit after the one
        // before its first entry (all of them, if it is empty) is there.
        self.txn.execute(
            "UPDATE sync_floor SET floor = COALESCE((SELECT MIN(sync_id) - 1 FROM sync_log), $1)",
            &[&(head.0 as i64)],
        )?;
        Ok(())
    }
}

impl TransferStorage for PostgresStorage {
    fn contents(&self) -> Result<StoreContents, StorageError> {
        self.read(contents_of)
    }

    fn export_all(
        &self,
        begin: &mut dyn FnMut(&StoreContents) -> Result<(), StorageError>,
        visit: &mut dyn FnMut(StoreRecord) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        self.read(|tx| export(tx, begin, visit))
    }

    fn import_all(
        &self,
        load: &mut dyn FnMut(&mut dyn ImportTx) -> Result<(), ImportError>,
    ) -> Result<(), ImportError> {
        let mut client = self.client()?;
        let mut txn = client.transaction().map_err(StorageError::from)?;
        // Held to the end: no node commits while the store is filled.
        txn.query_one("SELECT head FROM sync_head FOR UPDATE", &[])
            .map_err(StorageError::from)?;
        let found = contents_of(&mut txn)?;
        if !found.is_empty() {
            return Err(ImportError::NotEmpty(found));
        }
        let (max_audit_position, schema) = {
            let mut import = PgImport {
                txn: &mut txn,
                statements: HashMap::new(),
                rows: Vec::new(),
                deltas: Vec::new(),
                max_audit_position: 0,
                imported_schema: None,
            };
            load(&mut import)?;
            import.flush()?;
            (import.max_audit_position, import.imported_schema)
        };
        if max_audit_position > 0 {
            // Explicit positions do not move the sequence; the next entry
            // must come after the imported ones.
            txn.execute(
                "SELECT setval(pg_get_serial_sequence('audit_log', 'position'), $1)",
                &[&max_audit_position],
            )
            .map_err(StorageError::from)?;
        }
        txn.commit().map_err(StorageError::from)?;
        if let Some(schema) = schema {
            self.remember_kinds(&schema);
        }
        Ok(())
    }
}
