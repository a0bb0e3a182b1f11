//! Who may change a source's mirror, and when. A commit locks the rows it
//! writes, so commits on different rows reach the source side by side,
//! while a stale check made before the call still holds when the answer is
//! written. A list or an events poll locks the whole source: its answer
//! must not be older than a commit that lands while it is on the way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedMutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A row of a model: `(model, id)`.
pub(crate) type RowKey = (String, String);

/// The locks of one source.
#[derive(Default)]
pub(crate) struct MirrorLocks {
    whole: RwLock<()>,
    rows: Mutex<HashMap<RowKey, Arc<tokio::sync::Mutex<()>>>>,
    /// Bumped whenever a row writer starts or ends: a list answered while it
    /// stayed the same cannot be older than any commit.
    generation: std::sync::atomic::AtomicU64,
}

/// Held while some rows of the mirror change.
pub(crate) struct RowsGuard<'a> {
    locks: &'a MirrorLocks,
    keys: Vec<RowKey>,
    held: Vec<OwnedMutexGuard<()>>,
    _shared: RwLockReadGuard<'a, ()>,
}

impl MirrorLocks {
    /// The whole mirror, for a list or an events poll.
    pub(crate) async fn whole(&self) -> RwLockWriteGuard<'_, ()> {
        self.whole.write().await
    }

    /// The rows `keys`, locked in sorted order so two commits touching the
    /// same rows cannot wait on each other.
    pub(crate) async fn rows(&self, mut keys: Vec<RowKey>) -> RowsGuard<'_> {
        let shared = self.whole.read().await;
        keys.sort();
        keys.dedup();
        let mutexes: Vec<_> = {
            let mut rows = self.rows.lock().expect("row locks");
            keys.iter()
                .map(|key| rows.entry(key.clone()).or_default().clone())
                .collect()
        };
        let mut held = Vec::with_capacity(mutexes.len());
        for mutex in mutexes {
            held.push(mutex.lock_owned().await);
        }
        self.bump();
        RowsGuard {
            locks: self,
            keys,
            held,
            _shared: shared,
        }
    }
}

impl MirrorLocks {
    /// The writer generation; see [`MirrorLocks::generation`].
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn bump(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for RowsGuard<'_> {
    fn drop(&mut self) {
        self.held.clear();
        self.locks.bump();
        let mut rows = self.locks.rows.lock().expect("row locks");
        for key in &self.keys {
            // Nobody else holds or waits for it: forget it.
            if rows.get(key).is_some_and(|m| Arc::strong_count(m) == 1) {
                rows.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn key(id: &str) -> RowKey {
        ("tasks".into(), id.into())
    }

    #[tokio::test]
    async fn different_rows_proceed_together_and_one_row_waits() {
        let locks = Arc::new(MirrorLocks::default());
        let first = locks.rows(vec![key("a"), key("b")]).await;
        // Another row: not blocked.
        let other = tokio::time::timeout(Duration::from_millis(100), locks.rows(vec![key("c")]))
            .await
            .expect("a different row is not blocked");
        drop(other);
        // A shared row: blocked until the first guard goes.
        let waiting = {
            let locks = locks.clone();
            tokio::spawn(async move {
                let _guard = locks.rows(vec![key("b"), key("d")]).await;
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        drop(first);
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("released")
            .unwrap();
        assert!(
            locks.rows.lock().unwrap().is_empty(),
            "unused locks are forgotten"
        );
    }

    #[tokio::test]
    async fn the_whole_mirror_waits_for_row_writers_and_blocks_new_ones() {
        let locks = Arc::new(MirrorLocks::default());
        let row = locks.rows(vec![key("a")]).await;
        let whole = {
            let locks = locks.clone();
            tokio::spawn(async move {
                let _guard = locks.whole().await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !whole.is_finished(),
            "a list waits for the commit in flight"
        );
        drop(row);
        whole.await.unwrap();
    }
}
