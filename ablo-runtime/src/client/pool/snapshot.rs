//! Taking in a snapshot: its rows are held aside while it arrives and
//! replace the pool's confirmed rows in one step when it is complete. A
//! model the pool holds nothing of (the usual bootstrap) is built in one
//! pass from the rows as they came, sorted by id, without comparing
//! versions row by row.

use std::collections::{BTreeMap, HashSet};

use super::{Confirmed, Pool, PoolChange, RowKey, put_confirmed, split_owned};
use crate::types::{Json, SyncId};
use crate::wire::JsonObject;

/// A row of a snapshot taken apart: id, stamp and the flat object.
type SplitRow = (String, SyncId, JsonObject);

impl Pool {
    /// A snapshot of the server's rows as of `cursor` begins. Its rows are
    /// held aside ([`Pool::store_snapshot_rows`]) and replace the pool's
    /// confirmed rows in one step when the snapshot is complete
    /// ([`Pool::finish_snapshot`]); a snapshot cut off by a lost connection
    /// changes nothing, so the cursor never claims rows the pool lacks.
    pub(crate) fn begin_snapshot(&self, cursor: SyncId) {
        self.lock().snapshot = Some((cursor, Vec::new()));
    }

    /// Rows of the snapshot being received.
    pub(crate) fn store_snapshot_rows(&self, model: &str, rows: Vec<Json>) {
        let mut state = self.lock();
        match state.snapshot.as_mut() {
            Some((_, held)) => held.push((model.to_owned(), rows)),
            None => {
                drop(state);
                let cursor = self.cursor();
                self.store_rows(model, &rows, cursor);
            }
        }
    }

    /// Forgets a snapshot that did not complete.
    pub(crate) fn abandon_snapshot(&self) {
        self.lock().snapshot = None;
    }

    /// The snapshot is complete (its tail began, or the stream caught up):
    /// its rows replace the confirmed rows, rows it lacks (and no later
    /// change brought) are gone, and the cursor moves to it.
    pub(crate) fn finish_snapshot(&self) {
        let Some((at, held)) = self.lock().snapshot.take() else {
            return;
        };
        // The pages of one model, by value, in the order they came.
        let mut by_model: Vec<(String, Vec<SplitRow>)> = Vec::new();
        for (model, rows) in held {
            let rows = rows.into_iter().filter_map(split_owned);
            match by_model.iter_mut().find(|(m, _)| *m == model) {
                Some((_, held)) => held.extend(rows),
                None => by_model.push((model, rows.collect())),
            }
        }
        let mut built = HashSet::new();
        let mut seen = HashSet::new();
        for (model, rows) in by_model {
            let rows = match self.build_model(&model, rows, at) {
                Ok(()) => {
                    built.insert(model);
                    continue;
                }
                Err(rows) => rows,
            };
            seen.extend(
                rows.iter()
                    .map(|(id, _, _)| RowKey::new(model.as_str(), id.as_str())),
            );
            let keys: Vec<RowKey> = rows
                .iter()
                .map(|(id, _, _)| RowKey::new(model.as_str(), id.as_str()))
                .collect();
            self.change_visible(&keys, |state| {
                for (key, (_, stamp, object)) in keys.iter().zip(rows) {
                    put_confirmed(state, key, Some(object), stamp, at);
                }
            });
        }
        let gone: Vec<RowKey> = {
            let state = self.lock();
            state
                .rows
                .iter()
                .filter(|(model, _)| !built.contains(*model))
                .flat_map(|(model, rows)| {
                    rows.iter()
                        .filter(|(_, c)| c.row.is_some() && c.stamp <= at)
                        .map(move |(id, _)| RowKey::new(model, id))
                })
                .filter(|key| !seen.contains(key))
                .collect()
        };
        self.change_visible(&gone, |state| {
            for key in &gone {
                put_confirmed(state, key, None, at, at);
            }
            state.cursor = state.cursor.max(at);
        });
    }

    /// When the pool holds no row of `model` and no queued write on one,
    /// makes the snapshot's rows the model's rows at once (each a change
    /// for watchers, if any); otherwise hands the rows back. Under one
    /// lock, so no commit receipt lands in between.
    fn build_model(
        &self,
        model: &str,
        rows: Vec<SplitRow>,
        at: SyncId,
    ) -> Result<(), Vec<SplitRow>> {
        let mut state = self.lock();
        let empty = state.rows.get(model).is_none_or(|r| r.is_empty())
            && !state.pending.keys().any(|key| key.model == model);
        if !empty {
            return Err(rows);
        }
        let watched = self.changes.receiver_count() > 0;
        let built: BTreeMap<String, Confirmed> = rows
            .into_iter()
            .map(|(id, stamp, object)| {
                if watched {
                    // No receiver is not an error: nobody is watching.
                    let _ = self.changes.send(PoolChange {
                        key: RowKey::new(model, id.as_str()),
                        row: Some(Json::Object(object.clone())),
                    });
                }
                let confirmed = Confirmed {
                    row: Some(object),
                    stamp,
                    observed_at: at,
                    deleted_at: None,
                };
                (id, confirmed)
            })
            .collect();
        if !built.is_empty() {
            state.rows.insert(model.to_owned(), built);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    fn row(id: &str, stamp: u64, title: &str) -> Json {
        json!({"id": id, "stamp": stamp, "title": title})
    }

    fn title(pool: &Pool, id: &str) -> Option<String> {
        pool.get("tasks", id)
            .map(|row| row["title"].as_str().unwrap().to_owned())
    }

    #[test]
    fn an_empty_pool_takes_the_snapshot_at_once_and_tells_watchers() {
        let pool = Pool::new(SyncId(0), Duration::from_secs(60));
        let mut changes = pool.subscribe();
        pool.begin_snapshot(SyncId(9));
        pool.store_snapshot_rows("tasks", vec![row("t1", 3, "a"), row("t2", 9, "b")]);
        pool.store_snapshot_rows("tasks", vec![row("t3", 4, "c")]);
        assert_eq!(title(&pool, "t1"), None, "held aside until complete");
        pool.finish_snapshot();
        assert_eq!(pool.cursor(), SyncId(9));
        assert_eq!(title(&pool, "t3").as_deref(), Some("c"));
        let told: Vec<String> = std::iter::from_fn(|| changes.try_recv().ok())
            .map(|c| c.key.id)
            .collect();
        assert_eq!(told, ["t1", "t2", "t3"]);
    }

    #[test]
    fn a_snapshot_over_held_rows_drops_the_missing_and_keeps_the_newer() {
        let pool = Pool::new(SyncId(0), Duration::from_secs(60));
        pool.store_rows(
            "tasks",
            &[row("old", 2, "gone"), row("t1", 2, "v2")],
            SyncId(2),
        );
        pool.store_rows("tasks", &[row("late", 12, "newer")], SyncId(12));
        pool.begin_snapshot(SyncId(10));
        pool.store_snapshot_rows("tasks", vec![row("t1", 8, "v8")]);
        pool.store_snapshot_rows("projects", vec![json!({"id": "p1", "stamp": 5})]);
        pool.finish_snapshot();
        assert_eq!(title(&pool, "t1").as_deref(), Some("v8"));
        assert_eq!(title(&pool, "old"), None, "not in the snapshot: gone");
        assert_eq!(title(&pool, "late").as_deref(), Some("newer"));
        assert!(pool.get("projects", "p1").is_some());
    }

    #[test]
    fn a_cut_off_snapshot_changes_nothing() {
        let pool = Pool::new(SyncId(0), Duration::from_secs(60));
        pool.begin_snapshot(SyncId(4));
        pool.store_snapshot_rows("tasks", vec![row("t1", 3, "a")]);
        pool.abandon_snapshot();
        pool.finish_snapshot();
        assert_eq!(title(&pool, "t1"), None);
        assert_eq!(pool.cursor(), SyncId(0));
    }
}
