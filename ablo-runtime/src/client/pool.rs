//! The local pool: the client's copy of the rows it has loaded, written or
//! received over the live stream, with its queued (not yet confirmed) writes
//! laid on top.
//!
//! Confirmed state and pending writes are kept apart. What readers see is
//! the confirmed row with every pending operation replayed over it, in the
//! order the writes were queued; so a remote change that arrives while a
//! write is pending is rebased under it, and a rejected write disappears by
//! dropping it from the pending list.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use tokio::sync::broadcast;

use crate::types::{Json, SyncId, Timestamp};
use crate::wire::{Delta, DeltaAction, JsonObject};

/// Identifies one row: model wire name and id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct RowKey {
    pub model: String,
    pub id: String,
}

impl RowKey {
    pub(crate) fn new(model: impl Into<String>, id: impl Into<String>) -> Self {
        RowKey {
            model: model.into(),
            id: id.into(),
        }
    }
}

/// A queued write's effect on one row.
#[derive(Clone, Debug)]
pub(crate) enum LocalOp {
    /// The whole new row (flat JSON, with id, stamp and timestamps).
    Create(JsonObject),
    /// Fields to overwrite.
    Update(JsonObject),
    /// The row goes away.
    Delete,
}

#[derive(Debug)]
struct PendingWrite {
    client_tx_id: String,
    ops: Vec<(RowKey, LocalOp)>,
}

/// The confirmed version of a row the client knows of.
#[derive(Debug)]
struct Confirmed {
    /// The row, or `None` once deleted (kept so older versions that arrive
    /// late cannot bring it back).
    row: Option<JsonObject>,
    /// The sync id of this version.
    stamp: SyncId,
    /// The sync id up to which this version is known to be current.
    observed_at: SyncId,
}

#[derive(Debug, Default)]
struct State {
    rows: HashMap<String, BTreeMap<String, Confirmed>>,
    pending: Vec<PendingWrite>,
    cursor: SyncId,
}

/// The local pool. All methods take the lock briefly and never await.
pub(crate) struct Pool {
    state: Mutex<State>,
    changes: broadcast::Sender<RowKey>,
}

/// How many change notifications a slow watcher may fall behind before it
/// re-reads the pool instead.
const CHANGE_BUFFER: usize = 4096;

impl Pool {
    pub(crate) fn new(cursor: SyncId) -> Self {
        let (changes, _) = broadcast::channel(CHANGE_BUFFER);
        Pool {
            state: Mutex::new(State {
                cursor,
                ..State::default()
            }),
            changes,
        }
    }

    /// A receiver of the keys of rows whose visible state changed.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<RowKey> {
        self.changes.subscribe()
    }

    /// The highest sync id applied from the live stream.
    pub(crate) fn cursor(&self) -> SyncId {
        self.lock().cursor
    }

    /// Records that everything up to `cursor` has been applied (for example
    /// after a catch-up that found nothing new). Never moves backwards.
    pub(crate) fn advance_cursor(&self, cursor: SyncId) {
        let mut state = self.lock();
        state.cursor = state.cursor.max(cursor);
    }

    /// The row as readers see it: confirmed state plus pending writes.
    pub(crate) fn get(&self, model: &str, id: &str) -> Option<Json> {
        let state = self.lock();
        visible(&state, &RowKey::new(model, id)).map(Json::Object)
    }

    /// Every visible row of `model`, in id order.
    pub(crate) fn all(&self, model: &str) -> Vec<Json> {
        let state = self.lock();
        let mut rows: BTreeMap<String, JsonObject> = state
            .rows
            .get(model)
            .map(|rows| {
                rows.iter()
                    .filter_map(|(id, c)| c.row.clone().map(|row| (id.clone(), row)))
                    .collect()
            })
            .unwrap_or_default();
        for write in &state.pending {
            for (key, op) in &write.ops {
                if key.model != model {
                    continue;
                }
                let current = rows.remove(&key.id);
                if let Some(row) = apply_op(current, op) {
                    rows.insert(key.id.clone(), row);
                }
            }
        }
        rows.into_values().map(Json::Object).collect()
    }

    /// The stamp to read `keys` at: the highest sync id up to which the
    /// client knows every one of them to be current.
    pub(crate) fn snapshot(&self, keys: &[RowKey]) -> SyncId {
        let state = self.lock();
        keys.iter()
            .map(|key| {
                let observed = state
                    .rows
                    .get(&key.model)
                    .and_then(|rows| rows.get(&key.id))
                    .map_or(SyncId::ZERO, |c| c.observed_at);
                observed.max(state.cursor)
            })
            .min()
            .unwrap_or(state.cursor)
    }

    /// Stores rows read from the server as of `observed_at`.
    pub(crate) fn store_rows(&self, model: &str, rows: &[Json], observed_at: SyncId) {
        let mut changed = Vec::new();
        {
            let mut state = self.lock();
            for row in rows {
                let Some((id, stamp, object)) = split_row(row) else {
                    continue;
                };
                let key = RowKey::new(model, id);
                if put_confirmed(&mut state, &key, Some(object), stamp, observed_at) {
                    changed.push(key);
                }
            }
        }
        self.notify(changed);
    }

    /// Applies deltas of the live stream or of a catch-up, in order; those
    /// at or below the cursor were applied before and are skipped.
    pub(crate) fn apply_deltas(&self, deltas: &[Delta]) {
        let mut changed = Vec::new();
        {
            let mut state = self.lock();
            for delta in deltas {
                if delta.sync_id <= state.cursor {
                    continue;
                }
                let key = RowKey::new(&delta.model, &delta.id);
                let row = match (delta.action, &delta.data) {
                    (DeltaAction::Delete, _) => None,
                    (_, Json::Object(object)) => Some(object.clone()),
                    _ => continue,
                };
                if put_confirmed(&mut state, &key, row, delta.sync_id, delta.sync_id) {
                    changed.push(key);
                }
                state.cursor = delta.sync_id;
            }
        }
        self.notify(changed);
    }

    /// Lays a queued write over the pool. Returns the visible rows after it,
    /// one per operation (`None` where the row is gone or unknown).
    pub(crate) fn enqueue(
        &self,
        client_tx_id: &str,
        ops: Vec<(RowKey, LocalOp)>,
    ) -> Vec<Option<Json>> {
        let keys: Vec<RowKey> = ops.iter().map(|(key, _)| key.clone()).collect();
        let (after, changed) = self.change_visible(&keys, |state| {
            state.pending.push(PendingWrite {
                client_tx_id: client_tx_id.to_owned(),
                ops,
            });
        });
        self.notify(changed);
        after
    }

    /// A write was accepted as commit `sync_id`: its pending operations (if
    /// it was queued) give way to the rows the server returned, `None` for a
    /// deleted row.
    pub(crate) fn confirm(
        &self,
        client_tx_id: &str,
        sync_id: SyncId,
        rows: Vec<(RowKey, Option<JsonObject>)>,
    ) {
        let keys: Vec<RowKey> = rows.iter().map(|(key, _)| key.clone()).collect();
        let (_, changed) = self.change_visible(&keys, |state| {
            state
                .pending
                .retain(|write| write.client_tx_id != client_tx_id);
            for (key, row) in rows {
                put_confirmed(state, &key, row, sync_id, sync_id);
            }
        });
        self.notify(changed);
    }

    /// A queued write was rejected: its operations are dropped, which rolls
    /// the rows back to what they would be without it.
    pub(crate) fn roll_back(&self, client_tx_id: &str) {
        let keys: Vec<RowKey> = {
            let state = self.lock();
            state
                .pending
                .iter()
                .filter(|write| write.client_tx_id == client_tx_id)
                .flat_map(|write| write.ops.iter().map(|(key, _)| key.clone()))
                .collect()
        };
        let (_, changed) = self.change_visible(&keys, |state| {
            state
                .pending
                .retain(|write| write.client_tx_id != client_tx_id);
        });
        self.notify(changed);
    }

    /// Runs `change` and reports the visible rows of `keys` after it, and
    /// which of them changed.
    fn change_visible(
        &self,
        keys: &[RowKey],
        change: impl FnOnce(&mut State),
    ) -> (Vec<Option<Json>>, Vec<RowKey>) {
        let mut state = self.lock();
        let before: Vec<Option<JsonObject>> = keys.iter().map(|k| visible(&state, k)).collect();
        change(&mut state);
        let after: Vec<Option<JsonObject>> = keys.iter().map(|k| visible(&state, k)).collect();
        let mut seen = HashSet::new();
        let changed = keys
            .iter()
            .zip(before.iter().zip(&after))
            .filter(|(key, (b, a))| b != a && seen.insert((*key).clone()))
            .map(|(key, _)| key.clone())
            .collect();
        (
            after.into_iter().map(|r| r.map(Json::Object)).collect(),
            changed,
        )
    }

    fn notify(&self, changed: Vec<RowKey>) {
        for key in changed {
            // No receiver is not an error: nobody is watching.
            let _ = self.changes.send(key);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-changed
        // in a way later readers would misread, so poisoning is ignored.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The row readers see: the confirmed row with every pending operation on it
/// replayed in order.
fn visible(state: &State, key: &RowKey) -> Option<JsonObject> {
    let mut row = state
        .rows
        .get(&key.model)
        .and_then(|rows| rows.get(&key.id))
        .and_then(|c| c.row.clone());
    for write in &state.pending {
        for (op_key, op) in &write.ops {
            if op_key == key {
                row = apply_op(row, op);
            }
        }
    }
    row
}

fn apply_op(row: Option<JsonObject>, op: &LocalOp) -> Option<JsonObject> {
    match op {
        LocalOp::Create(new_row) => Some(new_row.clone()),
        LocalOp::Update(fields) => row.map(|mut row| {
            for (field, value) in fields {
                row.insert(field.clone(), value.clone());
            }
            row.insert(
                "updatedAt".to_owned(),
                Json::String(Timestamp::now().to_string()),
            );
            row
        }),
        LocalOp::Delete => None,
    }
}

/// Stores a confirmed version unless a newer one is already known. Returns
/// whether the stored row changed.
fn put_confirmed(
    state: &mut State,
    key: &RowKey,
    row: Option<JsonObject>,
    stamp: SyncId,
    observed_at: SyncId,
) -> bool {
    let rows = state.rows.entry(key.model.clone()).or_default();
    match rows.get_mut(&key.id) {
        Some(existing) if existing.stamp > stamp => false,
        Some(existing) => {
            existing.observed_at = existing.observed_at.max(observed_at);
            if existing.stamp == stamp && existing.row == row {
                return false;
            }
            existing.stamp = stamp;
            existing.row = row;
            true
        }
        None => {
            rows.insert(
                key.id.clone(),
                Confirmed {
                    row,
                    stamp,
                    observed_at,
                },
            );
            true
        }
    }
}

/// A server row's id, stamp and fields; `None` for anything else.
fn split_row(row: &Json) -> Option<(String, SyncId, JsonObject)> {
    let object = row.as_object()?;
    let id = object.get("id")?.as_str()?.to_owned();
    let stamp = SyncId(object.get("stamp")?.as_u64()?);
    Some((id, stamp, object.clone()))
}
