//! SQLite tables and calls of the authority path: `capabilities`,
//! `agent_runs` and `audit_log`.

use ablo_runtime::Timestamp;
use ablo_runtime::wire::{Actor, Participant};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::{SqliteStorage, SqliteTx};
use crate::storage::AuditEntry;
use crate::storage::authz::{parse_kind, participant, timestamp};
use crate::storage::{
    AgentRunRecord, ApiKeyRecord, AuditFilter, AuditTx, AuthzStorage, CapabilityRecord,
    StorageError,
};

pub(super) const SCHEMA_SQL: &str = "
CREATE TABLE IF NOT EXISTS capabilities (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    participant_kind TEXT NOT NULL,
    participant_id TEXT NOT NULL,
    on_behalf_of_kind TEXT,
    on_behalf_of_id TEXT,
    operations TEXT NOT NULL,
    sync_groups TEXT NOT NULL,
    label TEXT,
    created_by TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER
);
CREATE TABLE IF NOT EXISTS agent_runs (
    id TEXT PRIMARY KEY,
    participant_kind TEXT NOT NULL,
    participant_id TEXT NOT NULL,
    on_behalf_of_kind TEXT,
    on_behalf_of_id TEXT,
    capability_id TEXT,
    prompt TEXT,
    surface TEXT,
    parent_task_id TEXT,
    metadata TEXT,
    status TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    closed_at_ms INTEGER,
    cost_input_tokens INTEGER NOT NULL DEFAULT 0,
    cost_output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_compute_ms INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS audit_log (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    principal_kind TEXT NOT NULL,
    principal_id TEXT NOT NULL,
    chain_seq INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    on_behalf_of_kind TEXT,
    on_behalf_of_id TEXT,
    capability_id TEXT,
    capability_label TEXT,
    task_id TEXT,
    model TEXT NOT NULL,
    action TEXT NOT NULL,
    row_ids TEXT NOT NULL,
    sync_id INTEGER NOT NULL,
    flagged INTEGER NOT NULL,
    changed_fields TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL,
    UNIQUE (principal_kind, principal_id, chain_seq)
);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit_log (at_ms);
";

pub(super) const CAPABILITY_COLUMNS: &str = "id, token_hash, participant_kind, participant_id, on_behalf_of_kind, \
    on_behalf_of_id, operations, sync_groups, label, created_by, created_at_ms, expires_at_ms, revoked_at_ms";

fn text(value: &SqlValue) -> Option<String> {
    match value {
        SqlValue::Text(t) => Some(t.clone()),
        _ => None,
    }
}

fn int(value: &SqlValue) -> Option<i64> {
    match value {
        SqlValue::Integer(i) => Some(*i),
        _ => None,
    }
}

fn required<T>(value: Option<T>, what: &str) -> Result<T, StorageError> {
    value.ok_or_else(|| StorageError::Corrupt(format!("missing {what}")))
}

pub(super) fn decode_capability(v: [SqlValue; 13]) -> Result<CapabilityRecord, StorageError> {
    Ok(CapabilityRecord {
        id: required(text(&v[0]), "capability id")?,
        token_hash: required(text(&v[1]), "token hash")?,
        participant: Participant {
            kind: parse_kind(&required(text(&v[2]), "participant kind")?)?,
            id: required(text(&v[3]), "participant id")?,
        },
        on_behalf_of: participant(text(&v[4]), text(&v[5]))?,
        operations: serde_json::from_str(&required(text(&v[6]), "operations")?)?,
        sync_groups: serde_json::from_str(&required(text(&v[7]), "sync groups")?)?,
        label: text(&v[8]),
        created_by: required(text(&v[9]), "created by")?,
        created_at: timestamp(required(int(&v[10]), "created at")?)?,
        expires_at: timestamp(required(int(&v[11]), "expires at")?)?,
        revoked_at: int(&v[12]).map(timestamp).transpose()?,
    })
}

pub(super) const RUN_COLUMNS: &str = "id, participant_kind, participant_id, on_behalf_of_kind, on_behalf_of_id, \
    capability_id, prompt, surface, parent_task_id, metadata, status, created_at_ms, closed_at_ms, \
    cost_input_tokens, cost_output_tokens, cost_compute_ms";

pub(super) fn decode_run(v: [SqlValue; 16]) -> Result<AgentRunRecord, StorageError> {
    let count = |i: usize| int(&v[i]).unwrap_or(0).max(0) as u64;
    Ok(AgentRunRecord {
        id: required(text(&v[0]), "task id")?,
        participant: Participant {
            kind: parse_kind(&required(text(&v[1]), "participant kind")?)?,
            id: required(text(&v[2]), "participant id")?,
        },
        on_behalf_of: participant(text(&v[3]), text(&v[4]))?,
        capability_id: text(&v[5]),
        prompt: text(&v[6]),
        surface: text(&v[7]),
        parent_task_id: text(&v[8]),
        metadata: text(&v[9]).map(|t| serde_json::from_str(&t)).transpose()?,
        status: required(text(&v[10]), "status")?,
        created_at: timestamp(required(int(&v[11]), "created at")?)?,
        closed_at: int(&v[12]).map(timestamp).transpose()?,
        cost_input_tokens: count(13),
        cost_output_tokens: count(14),
        cost_compute_ms: count(15),
    })
}

pub(super) const AUDIT_COLUMNS: &str = "position, principal_kind, principal_id, chain_seq, at_ms, on_behalf_of_kind, \
    on_behalf_of_id, capability_id, capability_label, task_id, model, action, row_ids, sync_id, flagged, \
    changed_fields, prev_hash, row_hash";

pub(super) fn decode_audit(v: [SqlValue; 18]) -> Result<(u64, AuditEntry), StorageError> {
    let position = required(int(&v[0]), "position")? as u64;
    Ok((
        position,
        AuditEntry {
            actor: Actor {
                kind: parse_kind(&required(text(&v[1]), "principal kind")?)?,
                id: required(text(&v[2]), "principal id")?,
            },
            chain_seq: required(int(&v[3]), "chain seq")? as u64,
            at_ms: required(int(&v[4]), "time")?,
            on_behalf_of: participant(text(&v[5]), text(&v[6]))?,
            capability_id: text(&v[7]),
            capability_label: text(&v[8]),
            task_id: text(&v[9]),
            model: required(text(&v[10]), "model")?,
            action: required(text(&v[11]), "action")?,
            row_ids: serde_json::from_str(&required(text(&v[12]), "row ids")?)?,
            sync_id: required(int(&v[13]), "sync id")? as u64,
            flagged: required(int(&v[14]), "flagged")? != 0,
            changed_fields: serde_json::from_str(&required(text(&v[15]), "changed fields")?)?,
            prev_hash: required(text(&v[16]), "prev hash")?,
            row_hash: required(text(&v[17]), "row hash")?,
        },
    ))
}

pub(super) fn values<const N: usize>(row: &Row<'_>) -> rusqlite::Result<[SqlValue; N]> {
    let mut out: [SqlValue; N] = std::array::from_fn(|_| SqlValue::Null);
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = row.get(i)?;
    }
    Ok(out)
}

fn query_all<const N: usize>(
    conn: &Connection,
    sql: &str,
    args: Vec<SqlValue>,
) -> Result<Vec<[SqlValue; N]>, StorageError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt
        .query_map(params_from_iter(args), values::<N>)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

impl AuthzStorage for SqliteStorage {
    fn capabilities(&self) -> Result<Vec<CapabilityRecord>, StorageError> {
        self.read(|conn| {
            query_all::<13>(
                conn,
                &format!("SELECT {CAPABILITY_COLUMNS} FROM capabilities"),
                Vec::new(),
            )?
            .into_iter()
            .map(decode_capability)
            .collect()
        })
    }

    fn put_capability(&self, c: &CapabilityRecord) -> Result<(), StorageError> {
        let conn = self.write_connection();
        conn.execute(
            &format!(
                "INSERT INTO capabilities ({CAPABILITY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
            ),
            params![
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
            ],
        )?;
        Ok(())
    }

    fn revoke_capability(&self, id: &str, at: Timestamp) -> Result<bool, StorageError> {
        let conn = self.write_connection();
        let exists: Option<String> = conn
            .query_row(
                "SELECT id FROM capabilities WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()?;
        conn.execute(
            "UPDATE capabilities SET revoked_at_ms = ?2 WHERE id = ?1 AND revoked_at_ms IS NULL",
            params![id, at.as_millis()],
        )?;
        Ok(exists.is_some())
    }

    fn delete_api_key(&self, id: &str) -> Result<bool, StorageError> {
        let conn = self.write_connection();
        Ok(conn.execute("DELETE FROM api_keys WHERE id = ?1", params![id])? > 0)
    }

    fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StorageError> {
        let mut keys = crate::storage::Storage::api_keys(self)?;
        keys.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(keys)
    }

    fn put_agent_run(&self, run: &AgentRunRecord) -> Result<(), StorageError> {
        let conn = self.write_connection();
        conn.execute(
            &format!(
                "INSERT INTO agent_runs ({RUN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
            ),
            params![
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
            ],
        )?;
        Ok(())
    }

    fn agent_run(&self, id: &str) -> Result<Option<AgentRunRecord>, StorageError> {
        self.read(|conn| {
            let rows = query_all::<16>(
                conn,
                &format!("SELECT {RUN_COLUMNS} FROM agent_runs WHERE id = ?1"),
                vec![SqlValue::Text(id.to_owned())],
            )?;
            rows.into_iter().next().map(decode_run).transpose()
        })
    }

    fn close_agent_run(&self, run: &AgentRunRecord) -> Result<(), StorageError> {
        let conn = self.write_connection();
        conn.execute(
            "UPDATE agent_runs SET status = ?2, closed_at_ms = ?3, cost_input_tokens = ?4,
               cost_output_tokens = ?5, cost_compute_ms = ?6 WHERE id = ?1",
            params![
                run.id,
                run.status,
                run.closed_at.map(|t| t.as_millis()),
                run.cost_input_tokens as i64,
                run.cost_output_tokens as i64,
                run.cost_compute_ms as i64,
            ],
        )?;
        Ok(())
    }

    fn audit_page(
        &self,
        filter: &AuditFilter,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, AuditEntry)>, StorageError> {
        let mut sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE position > ?");
        let mut args = vec![SqlValue::Integer(after as i64)];
        let mut text_filter = |column: &str, value: &Option<String>| {
            if let Some(value) = value {
                sql.push_str(&format!(" AND {column} = ?"));
                args.push(SqlValue::Text(value.clone()));
            }
        };
        text_filter("principal_kind", &filter.actor_kind);
        text_filter("principal_id", &filter.actor_id);
        text_filter("model", &filter.model);
        if let Some(since) = filter.since_ms {
            sql.push_str(" AND at_ms >= ?");
            args.push(SqlValue::Integer(since));
        }
        if let Some(until) = filter.until_ms {
            sql.push_str(" AND at_ms < ?");
            args.push(SqlValue::Integer(until));
        }
        sql.push_str(" ORDER BY position LIMIT ?");
        args.push(SqlValue::Integer(limit as i64));
        self.read(|conn| {
            query_all::<18>(conn, &sql, args)?
                .into_iter()
                .map(decode_audit)
                .collect()
        })
    }

    fn audit_chain(&self, kind: &str, id: &str) -> Result<Vec<AuditEntry>, StorageError> {
        self.read(|conn| {
            let rows = query_all::<18>(
                conn,
                &format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE principal_kind = ?1 AND principal_id = ?2 ORDER BY position"
                ),
                vec![SqlValue::Text(kind.to_owned()), SqlValue::Text(id.to_owned())],
            )?;
            rows.into_iter()
                .map(|v| decode_audit(v).map(|(_, entry)| entry))
                .collect()
        })
    }
}

impl AuditTx for SqliteTx<'_> {
    fn audit_head(&mut self, kind: &str, id: &str) -> Result<Option<(u64, String)>, StorageError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT chain_seq, row_hash FROM audit_log WHERE principal_kind = ?1 AND principal_id = ?2
             ORDER BY chain_seq DESC LIMIT 1",
        )?;
        let head: Option<(i64, String)> = stmt
            .query_row(params![kind, id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(head.map(|(seq, hash)| (seq as u64, hash)))
    }

    fn append_audit(&mut self, e: &AuditEntry) -> Result<(), StorageError> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO audit_log (principal_kind, principal_id, chain_seq, at_ms, on_behalf_of_kind,
               on_behalf_of_id, capability_id, capability_label, task_id, model, action, row_ids, sync_id,
               flagged, changed_fields, prev_hash, row_hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        )?;
        stmt.execute(params![
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
        Ok(())
    }

    fn agent_run_status(&mut self, id: &str) -> Result<Option<String>, StorageError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT status FROM agent_runs WHERE id = ?1")?;
        Ok(stmt.query_row(params![id], |r| r.get(0)).optional()?)
    }
}
