//! The local pool: the client's copy of the rows it has loaded, written or
//! received over the live stream, with its queued (not yet confirmed) writes
//! laid on top.
//!
//! Confirmed state and pending writes are kept apart. What readers see is
//! the confirmed row with every pending operation replayed over it, in the
//! order the writes were queued; so a remote change that arrives while a
//! write is pending is rebased under it, and a rejected write disappears by
//! dropping its operations.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

use crate::types::{Json, SyncId};
use crate::wire::{Delta, DeltaAction, JsonObject};

mod snapshot;

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
    /// Fields to overwrite (with `updatedAt` set when the write was queued).
    Update(JsonObject),
    /// The row goes away.
    Delete,
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
    /// When the row went away (kept for [`Pool::sweep_tombstones`]).
    deleted_at: Option<Instant>,
}

/// Rows of one model received as part of a snapshot.
type SnapshotPage = (String, Vec<Json>);

#[derive(Debug, Default)]
struct State {
    rows: HashMap<String, BTreeMap<String, Confirmed>>,
    /// Pending operations per row, in the order they were queued, each with
    /// its write's `clientTxId`.
    pending: HashMap<RowKey, Vec<(String, LocalOp)>>,
    /// The rows each pending write touches.
    pending_rows: HashMap<String, Vec<RowKey>>,
    cursor: SyncId,
    /// A snapshot being received: its sync id and the rows it brought so
    /// far, held aside until it is complete.
    snapshot: Option<(SyncId, Vec<SnapshotPage>)>,
    /// Whether a subscription ever caught up: only a client that never did
    /// holds nothing and asks for a snapshot.
    was_live: bool,
    /// When deleted rows were last looked through.
    last_sweep: Option<Instant>,
}

impl State {
    fn add_pending(&mut self, client_tx_id: &str, ops: Vec<(RowKey, LocalOp)>) {
        let touched = self
            .pending_rows
            .entry(client_tx_id.to_owned())
            .or_default();
        for (key, op) in ops {
            touched.push(key.clone());
            self.pending
                .entry(key)
                .or_default()
                .push((client_tx_id.to_owned(), op));
        }
    }

    fn remove_pending(&mut self, client_tx_id: &str) {
        for key in self.pending_rows.remove(client_tx_id).unwrap_or_default() {
            if let Some(ops) = self.pending.get_mut(&key) {
                ops.retain(|(tx, _)| tx != client_tx_id);
                if ops.is_empty() {
                    self.pending.remove(&key);
                }
            }
        }
    }
}

/// The local pool. All methods take the lock briefly and never await.
pub(crate) struct Pool {
    state: Mutex<State>,
    changes: broadcast::Sender<PoolChange>,
    /// How long a deleted row is remembered (see [`Pool::sweep_tombstones`]).
    tombstone_ttl: Duration,
}

/// A row whose visible state changed, and that state (`None`: gone).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PoolChange {
    pub key: RowKey,
    pub row: Option<Json>,
}

/// How many change notifications a slow watcher may fall behind before it
/// re-reads the pool instead.
const CHANGE_BUFFER: usize = 4096;

impl Pool {
    /// A pool whose live stream starts after `cursor`, remembering deleted
    /// rows for `tombstone_ttl` (twice the client's request timeout).
    pub(crate) fn new(cursor: SyncId, tombstone_ttl: Duration) -> Self {
        let (changes, _) = broadcast::channel(CHANGE_BUFFER);
        Pool {
            state: Mutex::new(State {
                cursor,
                ..State::default()
            }),
            changes,
            tombstone_ttl,
        }
    }

    /// Forgets rows deleted more than `older_than` ago. A deleted row is
    /// remembered so that a read that started before the delete cannot
    /// bring it back; a read is abandoned after the client's timeout, so
    /// past that the memory only grows. Returns how many were forgotten.
    /// Every change to the pool runs this once per `tombstone_ttl`.
    fn sweep_tombstones(state: &mut State, older_than: Duration) -> usize {
        state.last_sweep = Some(Instant::now());
        let State { rows, pending, .. } = state;
        let mut swept = 0;
        for (model, by_id) in rows.iter_mut() {
            by_id.retain(|id, confirmed| {
                let forget = confirmed
                    .deleted_at
                    .is_some_and(|at| at.elapsed() > older_than)
                    && !pending.contains_key(&RowKey::new(model.as_str(), id.as_str()));
                swept += usize::from(forget);
                !forget
            });
        }
        swept
    }

    /// A receiver of every change of a row's visible state, in order.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<PoolChange> {
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
        for (key, ops) in &state.pending {
            if key.model != model {
                continue;
            }
            let mut row = rows.remove(&key.id);
            for (_, op) in ops {
                row = apply_op(row, op);
            }
            if let Some(row) = row {
                rows.insert(key.id.clone(), row);
            }
        }
        rows.into_values().map(Json::Object).collect()
    }

    /// The stamp to read `targets` at: for each, the highest sync id up to
    /// which the client knows the version it holds to be current, and the
    /// lowest of those. A target may name the version the caller read
    /// (`Some(stamp)` of a row it holds); when the pool has moved past that
    /// version, the version's own stamp is used, so a write based on it is
    /// rejected as stale.
    pub(crate) fn snapshot(&self, targets: &[(RowKey, Option<SyncId>)]) -> SyncId {
        let state = self.lock();
        targets
            .iter()
            .map(|(key, held)| {
                let entry = state
                    .rows
                    .get(&key.model)
                    .and_then(|rows| rows.get(&key.id));
                let current_as_of = entry
                    .map_or(SyncId::ZERO, |c| c.observed_at)
                    .max(state.cursor);
                match (held, entry) {
                    (Some(held), Some(entry)) if *held != SyncId::ZERO && *held != entry.stamp => {
                        *held
                    }
                    (Some(held), None) if *held != SyncId::ZERO => *held,
                    _ => current_as_of,
                }
            })
            .min()
            .unwrap_or(state.cursor)
    }

    /// Stores rows read from the server as of `observed_at`.
    pub(crate) fn store_rows(&self, model: &str, rows: &[Json], observed_at: SyncId) {
        let rows: Vec<(RowKey, SyncId, JsonObject)> = rows
            .iter()
            .filter_map(split_row)
            .map(|(id, stamp, object)| (RowKey::new(model, id), stamp, object))
            .collect();
        let keys: Vec<RowKey> = rows.iter().map(|(key, _, _)| key.clone()).collect();
        self.change_visible(&keys, |state| {
            for (key, stamp, object) in rows {
                put_confirmed(state, &key, Some(object), stamp, observed_at);
            }
        });
    }

    /// Records that a subscription caught up.
    pub(crate) fn mark_live(&self) {
        self.lock().was_live = true;
    }

    /// Whether the pool holds nothing from the server: no subscription ever
    /// caught up and the cursor is 0.
    pub(crate) fn holds_nothing(&self) -> bool {
        let state = self.lock();
        !state.was_live && state.cursor == SyncId::ZERO
    }

    /// Applies deltas of the live stream or of a catch-up, in order; those
    /// at or below the cursor were applied before and are skipped.
    pub(crate) fn apply_deltas(&self, deltas: &[Delta]) {
        let keys: Vec<RowKey> = deltas
            .iter()
            .map(|delta| RowKey::new(&delta.model, &delta.id))
            .collect();
        self.change_visible(&keys, |state| {
            for (delta, key) in deltas.iter().zip(&keys) {
                if delta.sync_id <= state.cursor {
                    continue;
                }
                // A delta without data is a delete, or a row that left the
                // groups this client sees: either way it leaves the pool.
                let row = match (delta.action, &delta.data) {
                    (DeltaAction::Delete, _) => None,
                    (_, Json::Object(object)) => Some(object.clone()),
                    _ => None,
                };
                put_confirmed(state, key, row, delta.sync_id, delta.sync_id);
                state.cursor = delta.sync_id;
            }
        });
    }

    /// Lays a queued write over the pool. Returns the visible rows after it,
    /// one per operation (`None` where the row is gone or unknown).
    pub(crate) fn enqueue(
        &self,
        client_tx_id: &str,
        ops: Vec<(RowKey, LocalOp)>,
    ) -> Vec<Option<Json>> {
        let keys: Vec<RowKey> = ops.iter().map(|(key, _)| key.clone()).collect();
        self.change_visible(&keys, |state| state.add_pending(client_tx_id, ops))
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
        self.change_visible(&keys, |state| {
            state.remove_pending(client_tx_id);
            for (key, row) in rows {
                put_confirmed(state, &key, row, sync_id, sync_id);
            }
        });
    }

    /// A queued write was rejected: its operations are dropped, which rolls
    /// the rows back to what they would be without it.
    pub(crate) fn roll_back(&self, client_tx_id: &str) {
        let keys: Vec<RowKey> = self
            .lock()
            .pending_rows
            .get(client_tx_id)
            .cloned()
            .unwrap_or_default();
        self.change_visible(&keys, |state| state.remove_pending(client_tx_id));
    }

    /// Runs `change`, tells watchers about every row of `keys` whose
    /// visible state it changed (while still holding the lock, so they hear
    /// changes in the order they happened), and returns the visible rows of
    /// `keys` after it.
    fn change_visible(
        &self,
        keys: &[RowKey],
        change: impl FnOnce(&mut State),
    ) -> Vec<Option<Json>> {
        let mut state = self.lock();
        let before: Vec<Option<JsonObject>> = keys.iter().map(|k| visible(&state, k)).collect();
        change(&mut state);
        if state
            .last_sweep
            .is_none_or(|at| at.elapsed() > self.tombstone_ttl)
        {
            Pool::sweep_tombstones(&mut state, self.tombstone_ttl);
        }
        let after: Vec<Option<Json>> = keys
            .iter()
            .map(|k| visible(&state, k).map(Json::Object))
            .collect();
        let mut told = HashSet::new();
        for ((key, before), after) in keys.iter().zip(before).zip(&after) {
            let unchanged = match (&before, after) {
                (None, None) => true,
                (Some(b), Some(Json::Object(a))) => b == a,
                _ => false,
            };
            if !unchanged && told.insert(key.clone()) {
                // No receiver is not an error: nobody is watching.
                let _ = self.changes.send(PoolChange {
                    key: key.clone(),
                    row: after.clone(),
                });
            }
        }
        after
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
    for (_, op) in state.pending.get(key).into_iter().flatten() {
        row = apply_op(row, op);
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
            existing.deleted_at = match (&row, existing.deleted_at) {
                (Some(_), _) => None,
                (None, Some(at)) => Some(at),
                (None, None) => Some(Instant::now()),
            };
            existing.row = row;
            true
        }
        None => {
            rows.insert(
                key.id.clone(),
                Confirmed {
                    deleted_at: row.is_none().then(Instant::now),
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
/// [`split_row`] of a row the caller gives up.
fn split_owned(row: Json) -> Option<(String, SyncId, JsonObject)> {
    let Json::Object(object) = row else {
        return None;
    };
    let id = object.get("id")?.as_str()?.to_owned();
    let stamp = SyncId(object.get("stamp")?.as_u64()?);
    Some((id, stamp, object))
}

fn split_row(row: &Json) -> Option<(String, SyncId, JsonObject)> {
    let object = row.as_object()?;
    let id = object.get("id")?.as_str()?.to_owned();
    let stamp = SyncId(object.get("stamp")?.as_u64()?);
    Some((id, stamp, object.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Actor, ParticipantKind};
    use serde_json::json;

    fn row(id: &str, stamp: u64, title: &str) -> Json {
        json!({"id": id, "stamp": stamp, "createdAt": "2026-01-01T00:00:00.000Z",
               "updatedAt": "2026-01-01T00:00:00.000Z", "title": title})
    }

    fn object(value: Json) -> JsonObject {
        value.as_object().unwrap().clone()
    }

    fn delta(sync_id: u64, id: &str, action: DeltaAction, data: Json) -> Delta {
        Delta {
            sync_id: SyncId(sync_id),
            model: "tasks".into(),
            id: id.into(),
            action,
            data,
            changed_fields: vec![],
            client_tx_id: format!("tx_{sync_id}"),
            actor: Actor {
                kind: ParticipantKind::System,
                id: "key".into(),
            },
            sync_groups: vec!["default".into()],
            left_sync_groups: vec![],
            entered_sync_groups: vec![],
            flagged: false,
        }
    }

    fn title(pool: &Pool, id: &str) -> Option<String> {
        pool.get("tasks", id)
            .map(|row| row["title"].as_str().unwrap().to_owned())
    }

    #[test]
    fn older_versions_never_replace_newer_ones() {
        let pool = Pool::new(SyncId(0), Duration::from_secs(60));
        pool.store_rows("tasks", &[row("t1", 5, "five")], SyncId(7));
        pool.store_rows("tasks", &[row("t1", 3, "three")], SyncId(9));
        assert_eq!(title(&pool, "t1").as_deref(), Some("five"));
        pool.apply_deltas(&[delta(4, "t1", DeltaAction::Update, row("t1", 4, "four"))]);
        assert_eq!(title(&pool, "t1").as_deref(), Some("five"));
        pool.apply_deltas(&[delta(8, "t1", DeltaAction::Delete, Json::Null)]);
        assert_eq!(title(&pool, "t1"), None);
        // A late read of the row as of before the delete does not revive it.
        pool.store_rows("tasks", &[row("t1", 5, "five")], SyncId(7));
        assert_eq!(title(&pool, "t1"), None);
    }

    #[test]
    fn a_row_that_leaves_the_clients_groups_leaves_the_pool() {
        let pool = Pool::new(SyncId(0), Duration::from_secs(60));
        pool.apply_deltas(&[delta(1, "t1", DeltaAction::Insert, row("t1", 1, "a"))]);
        let moved = delta(2, "t1", DeltaAction::Update, row("t1", 2, "b"));
        pool.apply_deltas(&[moved.as_removal()]);
        assert_eq!(title(&pool, "t1"), None);
        assert_eq!(pool.cursor(), SyncId(2));
        // Coming back into view brings it back.
        pool.apply_deltas(&[delta(3, "t1", DeltaAction::Update, row("t1", 3, "c"))]);
        assert_eq!(title(&pool, "t1").as_deref(), Some("c"));
    }

    #[test]
    fn tombstones_are_forgotten_only_after_their_time() {
        let pool = Pool::new(SyncId(0), Duration::from_secs(60));
        pool.store_rows("tasks", &[row("t1", 1, "one")], SyncId(1));
        pool.apply_deltas(&[delta(2, "t1", DeltaAction::Delete, Json::Null)]);
        assert_eq!(
            Pool::sweep_tombstones(&mut pool.lock(), Duration::from_secs(60)),
            0
        );
        // Still remembered: a late read from before the delete is ignored.
        pool.store_rows("tasks", &[row("t1", 1, "one")], SyncId(1));
        assert_eq!(title(&pool, "t1"), None);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(
            Pool::sweep_tombstones(&mut pool.lock(), Duration::from_millis(1)),
            1
        );
        assert!(pool.lock().rows["tasks"].is_empty());
    }

    #[test]
    fn deltas_move_the_cursor_and_duplicates_are_skipped() {
        let pool = Pool::new(SyncId(10), Duration::from_secs(60));
        pool.apply_deltas(&[
            delta(9, "old", DeltaAction::Insert, row("old", 9, "old")),
            delta(11, "t1", DeltaAction::Insert, row("t1", 11, "a")),
            delta(12, "t1", DeltaAction::Update, row("t1", 12, "b")),
        ]);
        assert_eq!(pool.cursor(), SyncId(12));
        assert_eq!(
            title(&pool, "old"),
            None,
            "deltas at or below the cursor were seen"
        );
        assert_eq!(title(&pool, "t1").as_deref(), Some("b"));
        pool.advance_cursor(SyncId(11));
        assert_eq!(pool.cursor(), SyncId(12), "the cursor never moves back");
    }

    #[test]
    fn queued_writes_show_at_once_and_roll_back() {
        let pool = Pool::new(SyncId(0), Duration::from_secs(60));
        pool.store_rows("tasks", &[row("t1", 5, "original")], SyncId(5));
        let key = RowKey::new("tasks", "t1");
        let after = pool.enqueue(
            "tx_a",
            vec![(
                key.clone(),
                LocalOp::Update(object(json!({"title": "mine"}))),
            )],
        );
        assert_eq!(after[0].as_ref().unwrap()["title"], "mine");
        assert_eq!(title(&pool, "t1").as_deref(), Some("mine"));
        pool.roll_back("tx_a");
        assert_eq!(title(&pool, "t1").as_deref(), Some("original"));
    }

    #[test]
    fn remote_changes_are_rebased_under_pending_writes() {
        let pool = Pool::new(SyncId(0), Duration::from_secs(60));
        pool.store_rows("tasks", &[row("t1", 5, "original")], SyncId(5));
        let key = RowKey::new("tasks", "t1");
        pool.enqueue(
            "tx_a",
            vec![(
                key.clone(),
                LocalOp::Update(object(json!({"title": "mine"}))),
            )],
        );
        let mut remote = row("t1", 6, "theirs");
        remote["points"] = json!(3);
        pool.apply_deltas(&[delta(6, "t1", DeltaAction::Update, remote)]);
        let visible = pool.get("tasks", "t1").unwrap();
        assert_eq!(visible["title"], "mine", "the pending write stays on top");
        assert_eq!(visible["points"], 3, "the remote change shows under it");
        pool.roll_back("tx_a");
        assert_eq!(title(&pool, "t1").as_deref(), Some("theirs"));
    }

    #[test]
    fn confirmation_replaces_the_pending_write_with_the_stored_row() {
        let pool = Pool::new(SyncId(0), Duration::from_secs(60));
        let key = RowKey::new("tasks", "t2");
        pool.enqueue(
            "tx_c",
            vec![(key.clone(), LocalOp::Create(object(row("t2", 0, "draft"))))],
        );
        assert_eq!(title(&pool, "t2").as_deref(), Some("draft"));
        pool.confirm(
            "tx_c",
            SyncId(9),
            vec![(key.clone(), Some(object(row("t2", 9, "draft"))))],
        );
        assert_eq!(pool.get("tasks", "t2").unwrap()["stamp"], 9);
        pool.roll_back("tx_c");
        assert_eq!(
            title(&pool, "t2").as_deref(),
            Some("draft"),
            "a confirmed write has nothing left to roll back"
        );
        pool.confirm("tx_d", SyncId(10), vec![(key, None)]);
        assert_eq!(title(&pool, "t2"), None);
    }

    #[test]
    fn a_rolled_back_create_disappears_and_all_lists_in_id_order() {
        let pool = Pool::new(SyncId(0), Duration::from_secs(60));
        pool.store_rows("tasks", &[row("b", 1, "b"), row("a", 2, "a")], SyncId(2));
        pool.enqueue(
            "tx_new",
            vec![(
                RowKey::new("tasks", "c"),
                LocalOp::Create(object(row("c", 0, "c"))),
            )],
        );
        pool.enqueue("tx_del", vec![(RowKey::new("tasks", "a"), LocalOp::Delete)]);
        let ids: Vec<Json> = pool
            .all("tasks")
            .into_iter()
            .map(|r| r["id"].clone())
            .collect();
        assert_eq!(ids, vec![json!("b"), json!("c")]);
        pool.roll_back("tx_new");
        pool.roll_back("tx_del");
        let ids: Vec<Json> = pool
            .all("tasks")
            .into_iter()
            .map(|r| r["id"].clone())
            .collect();
        assert_eq!(ids, vec![json!("a"), json!("b")]);
        assert!(pool.all("projects").is_empty());
    }

    #[test]
    fn snapshot_is_the_freshest_stamp_known_for_every_row() {
        let pool = Pool::new(SyncId(10), Duration::from_secs(60));
        assert_eq!(pool.snapshot(&[]), SyncId(10));
        pool.store_rows("tasks", &[row("t1", 5, "a")], SyncId(14));
        pool.store_rows("tasks", &[row("t2", 6, "b")], SyncId(12));
        let t1 = (RowKey::new("tasks", "t1"), None);
        let t2 = (RowKey::new("tasks", "t2"), None);
        let unknown = (RowKey::new("tasks", "nope"), None);
        assert_eq!(pool.snapshot(std::slice::from_ref(&t1)), SyncId(14));
        assert_eq!(pool.snapshot(&[t1.clone(), t2.clone()]), SyncId(12));
        assert_eq!(pool.snapshot(&[t1.clone(), unknown]), SyncId(10));
        pool.apply_deltas(&[delta(20, "t9", DeltaAction::Insert, row("t9", 20, "z"))]);
        assert_eq!(
            pool.snapshot(&[t1, t2]),
            SyncId(20),
            "the live cursor covers every row"
        );
    }

    #[test]
    fn snapshot_of_a_row_version_the_pool_moved_past_is_that_version() {
        let pool = Pool::new(SyncId(10), Duration::from_secs(60));
        pool.store_rows("tasks", &[row("t1", 5, "a")], SyncId(12));
        let held_current = (RowKey::new("tasks", "t1"), Some(SyncId(5)));
        assert_eq!(
            pool.snapshot(std::slice::from_ref(&held_current)),
            SyncId(12)
        );
        pool.apply_deltas(&[delta(15, "t1", DeltaAction::Update, row("t1", 15, "b"))]);
        assert_eq!(
            pool.snapshot(std::slice::from_ref(&held_current)),
            SyncId(5),
            "the caller's copy is older than the pool's: guard from the copy"
        );
        let held_new = (RowKey::new("tasks", "t1"), Some(SyncId(15)));
        assert_eq!(pool.snapshot(&[held_new]), SyncId(15));
        let retrieved_elsewhere = (RowKey::new("tasks", "t7"), Some(SyncId(30)));
        assert_eq!(pool.snapshot(&[retrieved_elsewhere]), SyncId(30));
        let unconfirmed = (RowKey::new("tasks", "t8"), Some(SyncId::ZERO));
        assert_eq!(pool.snapshot(&[unconfirmed]), SyncId(15));
    }

    #[test]
    fn watchers_hear_every_visible_change_with_its_state() {
        let pool = Pool::new(SyncId(0), Duration::from_secs(60));
        let mut changes = pool.subscribe();
        pool.store_rows("tasks", &[row("t1", 5, "a")], SyncId(5));
        pool.store_rows("tasks", &[row("t1", 5, "a")], SyncId(6));
        let change = changes.try_recv().unwrap();
        assert_eq!(change.key, RowKey::new("tasks", "t1"));
        assert_eq!(change.row.unwrap()["title"], "a");
        assert!(
            changes.try_recv().is_err(),
            "the same version again is no change"
        );
        pool.enqueue(
            "tx",
            vec![(
                RowKey::new("tasks", "t1"),
                LocalOp::Update(object(json!({"title": "b"}))),
            )],
        );
        assert_eq!(changes.try_recv().unwrap().row.unwrap()["title"], "b");
        pool.roll_back("tx");
        assert_eq!(changes.try_recv().unwrap().row.unwrap()["title"], "a");
        pool.apply_deltas(&[delta(6, "t1", DeltaAction::Delete, Json::Null)]);
        assert_eq!(changes.try_recv().unwrap().row, None);
    }
}
