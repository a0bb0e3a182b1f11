//! PostgreSQL tables and calls of the authority path: `capabilities`,
//! `agent_runs` and `audit_log`.

use ablo_runtime::Timestamp;
use ablo_runtime::wire::{Actor, Participant};
use postgres::Row;
use postgres::types::ToSql;

use super::{PgTx, PostgresStorage};
use crate::storage::AuditEntry;
use crate::storage::authz::{parse_kind, participant, timestamp};
use crate::storage::{
    AgentRunRecord, ApiKeyRecord, AuditFilter, AuditTx, AuthzStorage, CapabilityRecord,
    StorageError,
};

pub(super) const CAPABILITY_COLUMNS: &str = "id, token_hash, participant_kind, participant_id, on_behalf_of_kind, \
    on_behalf_of_id, operations, sync_groups, label, created_by, created_at_ms, expires_at_ms, revoked_at_ms";

pub(super) fn decode_capability(r: &Row) -> Result<CapabilityRecord, StorageError> {
    Ok(CapabilityRecord {
        id: r.get(0),
        token_hash: r.get(1),
        participant: Participant {
            kind: parse_kind(r.get(2))?,
            id: r.get(3),
        },
        on_behalf_of: participant(r.get(4), r.get(5))?,
        operations: serde_json::from_str(r.get(6))?,
        sync_groups: serde_json::from_str(r.get(7))?,
        label: r.get(8),
        created_by: r.get(9),
        created_at: timestamp(r.get(10))?,
        expires_at: timestamp(r.get(11))?,
        revoked_at: r.get::<_, Option<i64>>(12).map(timestamp).transpose()?,
    })
}

pub(super) const RUN_COLUMNS: &str = "id, participant_kind, participant_id, on_behalf_of_kind, on_behalf_of_id, \
    capability_id, prompt, surface, parent_task_id, metadata, status, created_at_ms, closed_at_ms, \
    cost_input_tokens, cost_output_tokens, cost_compute_ms";

pub(super) fn decode_run(r: &Row) -> Result<AgentRunRecord, StorageError> {
    let count = |i: usize| r.get::<_, i64>(i).max(0) as u64;
    Ok(AgentRunRecord {
        id: r.get(0),
        participant: Participant {
            kind: parse_kind(r.get(1))?,
            id: r.get(2),
        },
        on_behalf_of: participant(r.get(3), r.get(4))?,
        capability_id: r.get(5),
        prompt: r.get(6),
        surface: r.get(7),
        parent_task_id: r.get(8),
        metadata: r
            .get::<_, Option<String>>(9)
            .map(|t| serde_json::from_str(&t))
            .transpose()?,
        status: r.get(10),
        created_at: timestamp(r.get(11))?,
        closed_at: r.get::<_, Option<i64>>(12).map(timestamp).transpose()?,
        cost_input_tokens: count(13),
        cost_output_tokens: count(14),
        cost_compute_ms: count(15),
    })
}

pub(super) const AUDIT_COLUMNS: &str = "position, principal_kind, principal_id, chain_seq, at_ms, on_behalf_of_kind, \
    on_behalf_of_id, capability_id, capability_label, task_id, model, action, row_ids, sync_id, flagged, \
    changed_fields, prev_hash, row_hash";

pub(super) fn decode_audit(r: &Row) -> Result<(u64, AuditEntry), StorageError> {
    let position: i64 = r.get(0);
    Ok((
        position as u64,
        AuditEntry {
            actor: Actor {
                kind: parse_kind(r.get(1))?,
                id: r.get(2),
            },
            chain_seq: r.get::<_, i64>(3) as u64,
            at_ms: r.get(4),
            on_behalf_of: participant(r.get(5), r.get(6))?,
            capability_id: r.get(7),
            capability_label: r.get(8),
            task_id: r.get(9),
            model: r.get(10),
            action: r.get(11),
            row_ids: serde_json::from_str(r.get(12))?,
            sync_id: r.get::<_, i64>(13) as u64,
            flagged: r.get(14),
            changed_fields: serde_json::from_str(r.get(15))?,
            prev_hash: r.get(16),
            row_hash: r.get(17),
        },
    ))
}

impl AuthzStorage for PostgresStorage {
    fn capabilities(&self) -> Result<Vec<CapabilityRecord>, StorageError> {
        self.client()?
            .query(
                &format!("SELECT {CAPABILITY_COLUMNS} FROM capabilities"),
                &[],
            )?
            .iter()
            .map(decode_capability)
            .collect()
    }

    fn put_capability(&self, c: &CapabilityRecord) -> Result<(), StorageError> {
        self.client()?.execute(
            &format!(
                "INSERT INTO capabilities ({CAPABILITY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
            ),
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
        )?;
        Ok(())
    }

    fn revoke_capability(&self, id: &str, at: Timestamp) -> Result<bool, StorageError> {
        let mut client = self.client()?;
        let exists = client
            .query_opt("SELECT id FROM capabilities WHERE id = $1", &[&id])?
            .is_some();
        client.execute(
            "UPDATE capabilities SET revoked_at_ms = $2 WHERE id = $1 AND revoked_at_ms IS NULL",
            &[&id, &at.as_millis()],
        )?;
        Ok(exists)
    }

    fn delete_api_key(&self, id: &str) -> Result<bool, StorageError> {
        Ok(self
            .client()?
            .execute("DELETE FROM api_keys WHERE id = $1", &[&id])?
            > 0)
    }

    fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StorageError> {
        let mut keys = crate::storage::Storage::api_keys(self)?;
        keys.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(keys)
    }

    fn put_agent_run(&self, run: &AgentRunRecord) -> Result<(), StorageError> {
        self.client()?.execute(
            &format!(
                "INSERT INTO agent_runs ({RUN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
            ),
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
        )?;
        Ok(())
    }

    fn agent_run(&self, id: &str) -> Result<Option<AgentRunRecord>, StorageError> {
        self.client()?
            .query_opt(
                &format!("SELECT {RUN_COLUMNS} FROM agent_runs WHERE id = $1"),
                &[&id],
            )?
            .as_ref()
            .map(decode_run)
            .transpose()
    }

    fn close_agent_run(&self, run: &AgentRunRecord) -> Result<(), StorageError> {
        self.client()?.execute(
            "UPDATE agent_runs SET status = $2, closed_at_ms = $3, cost_input_tokens = $4,
               cost_output_tokens = $5, cost_compute_ms = $6 WHERE id = $1",
            &[
                &run.id,
                &run.status,
                &run.closed_at.map(|t| t.as_millis()),
                &(run.cost_input_tokens as i64),
                &(run.cost_output_tokens as i64),
                &(run.cost_compute_ms as i64),
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
        let mut sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE position > $1");
        let mut args: Vec<Box<dyn ToSql + Sync>> = vec![Box::new(after as i64)];
        let mut push = |sql: &mut String, clause: &str, value: Box<dyn ToSql + Sync>| {
            args.push(value);
            sql.push_str(&format!(" AND {clause} ${}", args.len()));
        };
        for (column, value) in [
            ("principal_kind =", &filter.actor_kind),
            ("principal_id =", &filter.actor_id),
            ("model =", &filter.model),
        ] {
            if let Some(value) = value {
                push(&mut sql, column, Box::new(value.clone()));
            }
        }
        if let Some(since) = filter.since_ms {
            push(&mut sql, "at_ms >=", Box::new(since));
        }
        if let Some(until) = filter.until_ms {
            push(&mut sql, "at_ms <", Box::new(until));
        }
        args.push(Box::new(limit as i64));
        sql.push_str(&format!(" ORDER BY position LIMIT ${}", args.len()));
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| &**a).collect();
        self.client()?
            .query(sql.as_str(), &params)?
            .iter()
            .map(decode_audit)
            .collect()
    }

    fn audit_chain(&self, kind: &str, id: &str) -> Result<Vec<AuditEntry>, StorageError> {
        self.client()?
            .query(
                &format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE principal_kind = $1 AND principal_id = $2 ORDER BY position"
                ),
                &[&kind, &id],
            )?
            .iter()
            .map(|r| decode_audit(r).map(|(_, entry)| entry))
            .collect()
    }
}

impl AuditTx for PgTx<'_, '_> {
    fn audit_head(&mut self, kind: &str, id: &str) -> Result<Option<(u64, String)>, StorageError> {
        let statement = self.statement(
            "SELECT chain_seq, row_hash FROM audit_log WHERE principal_kind = $1 AND principal_id = $2
             ORDER BY chain_seq DESC LIMIT 1",
        )?;
        let head = self.txn.query_opt(&statement, &[&kind, &id])?;
        Ok(head.map(|r| (r.get::<_, i64>(0) as u64, r.get(1))))
    }

    fn append_audit(&mut self, e: &AuditEntry) -> Result<(), StorageError> {
        let statement = self.statement(
            "INSERT INTO audit_log (principal_kind, principal_id, chain_seq, at_ms, on_behalf_of_kind,
               on_behalf_of_id, capability_id, capability_label, task_id, model, action, row_ids, sync_id,
               flagged, changed_fields, prev_hash, row_hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        )?;
        self.txn.execute(
            &statement,
            &[
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
        )?;
        Ok(())
    }

    fn agent_run_status(&mut self, id: &str) -> Result<Option<String>, StorageError> {
        Ok(self
            .txn
            .query_opt("SELECT status FROM agent_runs WHERE id = $1", &[&id])?
            .map(|r| r.get(0)))
    }
}
