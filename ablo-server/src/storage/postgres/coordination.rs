//! Intents and claims on PostgreSQL: the authority every node shares.
//!
//! `coordination_intents` holds every active intent and waiting claim; a
//! row's wait line is its waiting claims in `seq` (arrival) order. Every
//! change runs in one transaction that first takes an advisory lock on a
//! hash of the target row, so the changes of one row are serialized across
//! nodes and its line is granted first-in-first-out. The transaction
//! records its events in `coordination_events` under one more advisory
//! lock, held until commit, so event numbers are taken in commit order (a
//! reader that has seen event `n` has seen every event before it), then
//! `NOTIFY ablo_coordination` tells the nodes to read them.
//!
//! Leases are decided on the database's clock. Any node's sweep expires
//! lapsed leases and ends the intents of revoked credentials.
//!
//! Presence is not stored: `NOTIFY ablo_presence` carries it to the nodes.

use std::time::Duration;

use ablo_runtime::SyncId;
use ablo_runtime::wire::{Intent, Participant};
use postgres::IsolationLevel;

mod line;
mod listen;

use super::Pool;
use crate::storage::{
    CoordinationError, CoordinationEvent, CoordinationEventKind, CoordinationFeed,
    CoordinationLimits, CoordinationRefusal, CoordinationSnapshot, CoordinationStorage, EventPage,
    HeldIntent, NewIntent, Renewed, StorageError, Taken,
};
use line::{
    Stored, conflicting, deadline, decode, expire_row, grant_waiters, locate, lock_row, now_ms,
    record, refused, row_intents, row_stamp,
};
use listen::PgCoordinationFeed;

/// The channel new coordination events are announced on.
const CHANGES_CHANNEL: &str = "ablo_coordination";
/// The channel presence travels on.
const PRESENCE_CHANNEL: &str = "ablo_presence";
/// First key of the per-row advisory locks (the second is the row's hash).
const ROW_LOCK_SPACE: i32 = 0x6162_6c6f;
/// The advisory lock under which events are numbered and committed.
const EVENTS_LOCK: i64 = 0x6162_6c6f_6576;
/// How long events are kept for nodes catching up.
const EVENT_RETENTION_MS: i64 = 10 * 60 * 1000;
/// Largest presence message a notification carries.
const MAX_PRESENCE_BYTES: usize = 7900;
/// Rows handled by one sweep.
const SWEEP_ROWS: i64 = 200;

const COLUMNS: &str = "id, model, row_id, field, participant_kind, participant_id, action, \
     exclusive, waiting, seq, ttl_ms, created_at_ms, expires_at_ms, sync_groups, guard_stamp";

/// The database's clock, in milliseconds.
const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// The coordination tables of one PostgreSQL database.
pub(super) struct PgCoordination {
    /// Always `Some` until dropped (see the `Drop` impl).
    pool: Option<Pool>,
    config: postgres::Config,
}

impl Drop for PgCoordination {
    /// Closing connections blocks on the driver's runtime: on a thread of
    /// its own, as `PostgresStorage` does.
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            let _ = std::thread::spawn(move || drop(pool)).join();
        }
    }
}

impl PgCoordination {
    pub(super) fn new(pool: Pool, config: postgres::Config) -> PgCoordination {
        PgCoordination {
            pool: Some(pool),
            config,
        }
    }

    fn client(&self) -> Result<super::PooledClient, StorageError> {
        Ok(self.pool.as_ref().expect("pool until dropped").get()?)
    }

    /// Expires, ends and grants on one row, in its own transaction.
    fn sweep_row(&self, model: &str, id: &str) -> Result<usize, StorageError> {
        let mut client = self.client()?;
        let mut tx = client.transaction()?;
        lock_row(&mut tx, model, id)?;
        let now = now_ms(&mut tx)?;
        let mut events = Vec::new();
        let mut ended = expire_row(&mut tx, model, id, now, &mut events)?;
        let revoked = tx.query(
            &format!(
                "DELETE FROM coordination_intents i WHERE model = $1 AND row_id = $2 AND {ENDED} \
                 RETURNING {COLUMNS}"
            ),
            &[&model, &id, &now],
        )?;
        let mut revoked = revoked.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        revoked.sort_by_key(|s| s.seq);
        ended += revoked.len();
        events.extend(
            revoked
                .iter()
                .map(|s| s.event(CoordinationEventKind::Released, None)),
        );
        if ended > 0 {
            grant_waiters(&mut tx, model, id, now, &mut events)?;
        }
        record(&mut tx, now, &mut events)?;
        tx.commit()?;
        Ok(ended)
    }
}

/// An intent whose credential ended: a revoked or expired capability, or
/// an id that is neither a capability nor an API key (a deleted key). `$3`
/// is the database's time.
const ENDED: &str = "i.credential IS NOT NULL AND (\
    EXISTS (SELECT 1 FROM capabilities c WHERE c.id = i.credential \
            AND (c.revoked_at_ms IS NOT NULL OR c.expires_at_ms <= $3)) \
    OR (NOT EXISTS (SELECT 1 FROM capabilities c WHERE c.id = i.credential) \
        AND NOT EXISTS (SELECT 1 FROM api_keys k WHERE k.id = i.credential)))";

impl CoordinationStorage for PgCoordination {
    fn take(
        &self,
        new: &NewIntent,
        limits: &CoordinationLimits,
    ) -> Result<Taken, CoordinationError> {
        let target = &new.intent.target;
        let mut client = self.client()?;
        let mut tx = client.transaction().map_err(StorageError::from)?;
        lock_row(&mut tx, &target.model, &target.id)?;
        let now = now_ms(&mut tx)?;
        let mut events = Vec::new();
        if expire_row(&mut tx, &target.model, &target.id, now, &mut events)? > 0 {
            grant_waiters(&mut tx, &target.model, &target.id, now, &mut events)?;
        }
        let who = &new.intent.participant;
        let held: i64 = tx
            .query_one(
                "SELECT count(*) FROM coordination_intents \
                 WHERE participant_kind = $1 AND participant_id = $2",
                &[&who.kind.as_str(), &who.id],
            )
            .map_err(StorageError::from)?
            .get(0);
        if held as usize >= limits.max_per_participant {
            return Err(refused(CoordinationRefusal::ParticipantLimit {
                limit: limits.max_per_participant,
            }));
        }
        let on_row = row_intents(&mut tx, &target.model, &target.id)?;
        let (active, waiting): (Vec<Stored>, Vec<Stored>) =
            on_row.into_iter().partition(|s| !s.waiting);
        if active.len() >= limits.max_per_row {
            return Err(refused(CoordinationRefusal::RowLimit {
                limit: limits.max_per_row,
            }));
        }
        let ttl_ms = new.ttl.as_millis() as i64;
        let mut stored = Stored {
            intent: Intent {
                created_at: crate::storage::authz::timestamp(now)?,
                expires_at: deadline(now, ttl_ms)?,
                ..new.intent.clone()
            },
            waiting: false,
            seq: 0,
            ttl_ms,
            sync_groups: new.sync_groups.clone(),
            guard_stamp: None,
        };
        let mut position = None;
        if stored.intent.exclusive {
            let holders = conflicting(&active, &stored.intent);
            let ahead: Vec<Intent> = waiting
                .iter()
                .filter(|w| w.intent.target.overlaps(target))
                .map(|w| w.intent.clone())
                .collect();
            if holders.is_empty() && ahead.is_empty() {
                stored.guard_stamp = row_stamp(&mut tx, &target.model, &target.id)?;
            } else if !new.wait {
                let holders = if holders.is_empty() { ahead } else { holders };
                return Err(refused(CoordinationRefusal::EntityClaimed { holders }));
            } else if waiting.len() >= limits.max_queue_depth {
                return Err(refused(CoordinationRefusal::QueueFull {
                    depth: waiting.len(),
                }));
            } else {
                stored.waiting = true;
                position = Some(waiting.len() + 1);
            }
        }
        let groups = serde_json::to_string(&stored.sync_groups).map_err(StorageError::from)?;
        let created = stored.intent.created_at.as_millis();
        let expires = stored.intent.expires_at.as_millis();
        tx.execute(
            "INSERT INTO coordination_intents (id, model, row_id, field, participant_kind, \
             participant_id, action, exclusive, waiting, ttl_ms, created_at_ms, expires_at_ms, \
             sync_groups, guard_stamp, credential, node) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            &[
                &stored.intent.id,
                &target.model,
                &target.id,
                &target.field,
                &who.kind.as_str(),
                &who.id,
                &stored.intent.action,
                &stored.intent.exclusive,
                &stored.waiting,
                &ttl_ms,
                &created,
                &expires,
                &groups,
                &stored.guard_stamp,
                &new.credential,
                &new.node,
            ],
        )
        .map_err(StorageError::from)?;
        let kind = if stored.waiting {
            CoordinationEventKind::Queued
        } else {
            CoordinationEventKind::Created
        };
        events.push(stored.event(kind, position));
        let seq = record(&mut tx, now, &mut events)?;
        tx.commit().map_err(StorageError::from)?;
        Ok(Taken {
            intent: stored.intent,
            position,
            seq,
        })
    }

    fn heartbeat(&self, id: &str, participant: &Participant) -> Result<Renewed, CoordinationError> {
        let mut client = self.client()?;
        let mut tx = client.transaction().map_err(StorageError::from)?;
        let mut events = Vec::new();
        let (found, now) = locate(&mut tx, id, &mut events)?;
        let Some(mut found) = found else {
            record(&mut tx, now, &mut events)?;
            tx.commit().map_err(StorageError::from)?;
            return Err(refused(CoordinationRefusal::NotFound { id: id.to_owned() }));
        };
        if &found.intent.participant != participant {
            return Err(refused(CoordinationRefusal::NotHolder {
                id: id.to_owned(),
            }));
        }
        let expires = now + found.ttl_ms;
        tx.execute(
            "UPDATE coordination_intents SET expires_at_ms = $2 WHERE id = $1",
            &[&id, &expires],
        )
        .map_err(StorageError::from)?;
        found.intent.expires_at = deadline(now, found.ttl_ms)?;
        let position = if found.waiting {
            let (model, row) = (&found.intent.target.model, &found.intent.target.id);
            let ahead: i64 = tx
                .query_one(
                    "SELECT count(*) FROM coordination_intents \
                     WHERE model = $1 AND row_id = $2 AND waiting AND seq <= $3",
                    &[model, row, &found.seq],
                )
                .map_err(StorageError::from)?
                .get(0);
            Some(ahead as usize)
        } else {
            None
        };
        events.push(found.event(CoordinationEventKind::Renewed, None));
        let seq = record(&mut tx, now, &mut events)?;
        tx.commit().map_err(StorageError::from)?;
        Ok(Renewed {
            guard_stamp: found.guard_stamp.map(|s| SyncId(s as u64)),
            intent: found.intent,
            position,
            seq,
        })
    }

    fn release(
        &self,
        id: &str,
        participant: &Participant,
    ) -> Result<(Option<Intent>, u64), CoordinationError> {
        let mut client = self.client()?;
        let mut tx = client.transaction().map_err(StorageError::from)?;
        let mut events = Vec::new();
        let (found, now) = locate(&mut tx, id, &mut events)?;
        let released = match found {
            None => None,
            Some(found) if &found.intent.participant != participant => {
                return Err(refused(CoordinationRefusal::NotHolder {
                    id: id.to_owned(),
                }));
            }
            Some(found) => {
                tx.execute("DELETE FROM coordination_intents WHERE id = $1", &[&id])
                    .map_err(StorageError::from)?;
                events.push(found.event(CoordinationEventKind::Released, None));
                let target = &found.intent.target;
                grant_waiters(&mut tx, &target.model, &target.id, now, &mut events)?;
                Some(found.intent)
            }
        };
        let seq = record(&mut tx, now, &mut events)?;
        tx.commit().map_err(StorageError::from)?;
        Ok((released, seq))
    }

    fn sweep(&self) -> Result<usize, StorageError> {
        let rows = {
            let mut client = self.client()?;
            client.query(
                &format!(
                    "WITH now AS (SELECT {NOW_MS} AS ms) \
                     SELECT DISTINCT i.model, i.row_id FROM coordination_intents i, now \
                     WHERE i.expires_at_ms <= now.ms OR {} LIMIT $1",
                    ENDED.replace("$3", "now.ms")
                ),
                &[&SWEEP_ROWS],
            )?
        };
        let mut ended = 0;
        for row in &rows {
            let (model, id): (String, String) = (row.get(0), row.get(1));
            ended += self.sweep_row(&model, &id)?;
        }
        let mut client = self.client()?;
        client.execute(
            &format!(
                "WITH pruned AS (DELETE FROM coordination_events \
                 WHERE at_ms < {NOW_MS} - $1 RETURNING seq) \
                 UPDATE coordination_floor SET floor = GREATEST(floor, (SELECT max(seq) FROM pruned)) \
                 WHERE EXISTS (SELECT 1 FROM pruned)"
            ),
            &[&EVENT_RETENTION_MS],
        )?;
        Ok(ended)
    }

    fn claims_on(&self, model: &str, id: &str) -> Result<Vec<Intent>, StorageError> {
        let mut client = self.client()?;
        client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM coordination_intents WHERE model = $1 AND row_id = $2 \
                     AND exclusive AND NOT waiting AND expires_at_ms > {NOW_MS} ORDER BY seq"
                ),
                &[&model, &id],
            )?
            .iter()
            .map(|row| decode(row).map(|s| s.intent))
            .collect()
    }

    fn snapshot(&self) -> Result<CoordinationSnapshot, StorageError> {
        let mut client = self.client()?;
        let mut tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let intents = tx
            .query(
                &format!("SELECT {COLUMNS} FROM coordination_intents ORDER BY seq"),
                &[],
            )?
            .iter()
            .map(|row| {
                decode(row).map(|s| HeldIntent {
                    waiting: s.waiting,
                    guard_stamp: s.guard_stamp.map(|g| SyncId(g as u64)),
                    ttl: Duration::from_millis(s.ttl_ms as u64),
                    sync_groups: s.sync_groups,
                    intent: s.intent,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let seq: i64 = tx
            .query_one(
                "SELECT GREATEST((SELECT COALESCE(max(seq), 0) FROM coordination_events), \
                 (SELECT floor FROM coordination_floor))",
                &[],
            )?
            .get(0);
        tx.commit()?;
        Ok(CoordinationSnapshot {
            intents,
            seq: seq as u64,
        })
    }

    fn events_after(&self, seq: u64, limit: usize) -> Result<EventPage, StorageError> {
        let mut client = self.client()?;
        let mut tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let floor: i64 = tx
            .query_one("SELECT floor FROM coordination_floor", &[])?
            .get(0);
        let events = tx
            .query(
                "SELECT seq, event FROM coordination_events WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&(seq as i64), &(limit as i64)],
            )?
            .iter()
            .map(|row| {
                let text: String = row.get(1);
                let mut event: CoordinationEvent = serde_json::from_str(&text)?;
                event.seq = row.get::<_, i64>(0) as u64;
                Ok(event)
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        tx.commit()?;
        Ok(EventPage {
            events,
            floor: floor as u64,
        })
    }

    fn feed(&self) -> Result<Box<dyn CoordinationFeed>, StorageError> {
        Ok(Box::new(PgCoordinationFeed {
            config: self.config.clone(),
            client: None,
        }))
    }

    fn publish_presence(&self, message: &str) -> Result<(), StorageError> {
        if message.len() > MAX_PRESENCE_BYTES {
            return Err(StorageError::Corrupt(format!(
                "a presence message of {} bytes is longer than a notification carries",
                message.len()
            )));
        }
        self.client()?
            .execute("SELECT pg_notify($1, $2)", &[&PRESENCE_CHANNEL, &message])?;
        Ok(())
    }
}
