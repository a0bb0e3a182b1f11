//! One row's wait line inside a coordination transaction: reading the
//! row's intents, expiring lapsed ones, granting waiters in order and
//! numbering the transaction's events.

use ablo_runtime::wire::{Intent, Participant, Target};
use ablo_runtime::{SyncId, Timestamp};
use postgres::Transaction;

use super::{CHANGES_CHANNEL, COLUMNS, EVENTS_LOCK, NOW_MS, ROW_LOCK_SPACE};
use crate::storage::authz::parse_kind;
use crate::storage::{
    CoordinationError, CoordinationEvent, CoordinationEventKind, CoordinationRefusal, StorageError,
};

/// One stored intent.
#[derive(Clone, Debug)]
pub(super) struct Stored {
    pub(super) intent: Intent,
    pub(super) waiting: bool,
    pub(super) seq: i64,
    pub(super) ttl_ms: i64,
    pub(super) sync_groups: Vec<String>,
    pub(super) guard_stamp: Option<i64>,
}

impl Stored {
    pub(super) fn event(
        &self,
        kind: CoordinationEventKind,
        position: Option<usize>,
    ) -> CoordinationEvent {
        CoordinationEvent {
            seq: 0,
            kind,
            intent: self.intent.clone(),
            sync_groups: self.sync_groups.clone(),
            position,
            guard_stamp: self.guard_stamp.map(|s| SyncId(s as u64)),
            ttl_ms: self.ttl_ms as u64,
        }
    }
}

pub(super) fn decode(row: &postgres::Row) -> Result<Stored, StorageError> {
    let time = |ms: i64| crate::storage::authz::timestamp(ms);
    let groups: String = row.get(13);
    Ok(Stored {
        intent: Intent {
            id: row.get(0),
            participant: Participant {
                kind: parse_kind(row.get(4))?,
                id: row.get(5),
            },
            target: Target {
                model: row.get(1),
                id: row.get(2),
                field: row.get(3),
            },
            action: row.get(6),
            exclusive: row.get(7),
            created_at: time(row.get(11))?,
            expires_at: time(row.get(12))?,
        },
        waiting: row.get(8),
        seq: row.get(9),
        ttl_ms: row.get(10),
        sync_groups: serde_json::from_str(&groups)?,
        guard_stamp: row.get(14),
    })
}

pub(super) fn refused(refusal: CoordinationRefusal) -> CoordinationError {
    CoordinationError::Refused(refusal)
}

pub(super) fn now_ms(tx: &mut Transaction<'_>) -> Result<i64, StorageError> {
    Ok(tx.query_one(&format!("SELECT {NOW_MS}"), &[])?.get(0))
}

/// Serializes every change of one row across nodes until the transaction ends.
pub(super) fn lock_row(
    tx: &mut Transaction<'_>,
    model: &str,
    id: &str,
) -> Result<(), StorageError> {
    let key = format!("{model}\u{1f}{id}");
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[&ROW_LOCK_SPACE, &key],
    )?;
    Ok(())
}

pub(super) fn row_intents(
    tx: &mut Transaction<'_>,
    model: &str,
    id: &str,
) -> Result<Vec<Stored>, StorageError> {
    tx.query(
        &format!(
            "SELECT {COLUMNS} FROM coordination_intents WHERE model = $1 AND row_id = $2 ORDER BY seq"
        ),
        &[&model, &id],
    )?
    .iter()
    .map(decode)
    .collect()
}

pub(super) fn by_id(tx: &mut Transaction<'_>, id: &str) -> Result<Option<Stored>, StorageError> {
    tx.query_opt(
        &format!("SELECT {COLUMNS} FROM coordination_intents WHERE id = $1"),
        &[&id],
    )?
    .as_ref()
    .map(decode)
    .transpose()
}

pub(super) fn row_stamp(
    tx: &mut Transaction<'_>,
    model: &str,
    id: &str,
) -> Result<Option<i64>, StorageError> {
    Ok(tx
        .query_opt(
            "SELECT stamp FROM rows WHERE model = $1 AND id = $2",
            &[&model, &id],
        )?
        .map(|r| r.get(0)))
}

pub(super) fn deadline(now: i64, ttl_ms: i64) -> Result<Timestamp, StorageError> {
    crate::storage::authz::timestamp(now + ttl_ms)
}

/// Other participants' active claims overlapping `intent`'s target.
pub(super) fn conflicting(active: &[Stored], intent: &Intent) -> Vec<Intent> {
    active
        .iter()
        .filter(|s| {
            !s.waiting
                && s.intent.exclusive
                && s.intent.participant != intent.participant
                && s.intent.target.overlaps(&intent.target)
        })
        .map(|s| s.intent.clone())
        .collect()
}

/// Removes the row's lapsed intents and waiters, as `expired` events.
pub(super) fn expire_row(
    tx: &mut Transaction<'_>,
    model: &str,
    id: &str,
    now: i64,
    events: &mut Vec<CoordinationEvent>,
) -> Result<usize, StorageError> {
    let gone = tx.query(
        &format!(
            "DELETE FROM coordination_intents WHERE model = $1 AND row_id = $2 \
             AND expires_at_ms <= $3 RETURNING {COLUMNS}"
        ),
        &[&model, &id, &now],
    )?;
    let mut gone = gone.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    gone.sort_by_key(|s| s.seq);
    events.extend(
        gone.iter()
            .map(|s| s.event(CoordinationEventKind::Expired, None)),
    );
    Ok(gone.len())
}

/// Grants the row's waiting claims from the front of its line, stopping at
/// the first that still conflicts (no overtaking).
pub(super) fn grant_waiters(
    tx: &mut Transaction<'_>,
    model: &str,
    id: &str,
    now: i64,
    events: &mut Vec<CoordinationEvent>,
) -> Result<(), StorageError> {
    let intents = row_intents(tx, model, id)?;
    let (mut active, waiting): (Vec<Stored>, Vec<Stored>) =
        intents.into_iter().partition(|s| !s.waiting);
    if waiting.is_empty() {
        return Ok(());
    }
    let stamp = row_stamp(tx, model, id)?;
    for mut next in waiting {
        if !conflicting(&active, &next.intent).is_empty() {
            break;
        }
        let expires = now + next.ttl_ms;
        tx.execute(
            "UPDATE coordination_intents SET waiting = false, expires_at_ms = $2, guard_stamp = $3 \
             WHERE id = $1",
            &[&next.intent.id, &expires, &stamp],
        )?;
        next.waiting = false;
        next.guard_stamp = stamp;
        next.intent.expires_at = deadline(now, next.ttl_ms)?;
        events.push(next.event(CoordinationEventKind::Granted, None));
        active.push(next);
    }
    Ok(())
}

/// Numbers and stores the transaction's events and announces them on
/// commit; returns the last number (0 for none).
pub(super) fn record(
    tx: &mut Transaction<'_>,
    now: i64,
    events: &mut [CoordinationEvent],
) -> Result<u64, StorageError> {
    if events.is_empty() {
        return Ok(0);
    }
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&EVENTS_LOCK])?;
    let mut last = 0;
    for event in events.iter_mut() {
        let text = serde_json::to_string(&event)?;
        let seq: i64 = tx
            .query_one(
                "INSERT INTO coordination_events (at_ms, event) VALUES ($1, $2) RETURNING seq",
                &[&now, &text],
            )?
            .get(0);
        event.seq = seq as u64;
        last = seq;
    }
    tx.execute(
        "SELECT pg_notify($1, $2)",
        &[&CHANGES_CHANNEL, &last.to_string()],
    )?;
    Ok(last as u64)
}

/// Locks the row of an existing intent and expires what lapsed on it;
/// returns the intent if it is still there.
pub(super) fn locate(
    tx: &mut Transaction<'_>,
    id: &str,
    events: &mut Vec<CoordinationEvent>,
) -> Result<(Option<Stored>, i64), StorageError> {
    let Some(found) = by_id(tx, id)? else {
        return Ok((None, now_ms(tx)?));
    };
    let (model, row) = (found.intent.target.model, found.intent.target.id);
    lock_row(tx, &model, &row)?;
    let now = now_ms(tx)?;
    if expire_row(tx, &model, &row, now, events)? > 0 {
        grant_waiters(tx, &model, &row, now, events)?;
    }
    Ok((by_id(tx, id)?, now))
}
