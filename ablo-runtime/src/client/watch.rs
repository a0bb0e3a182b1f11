//! [`WatchStream`]: live changes of the rows of one model that match a
//! query, as seen in the local pool.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::Shared;
use super::pool::PoolChange;
use super::query::Query;
use crate::model::Model;
use crate::types::{Id, Json, Row};

/// One change of a watched row.
///
/// ```
/// use ablo_runtime::{Model, client::RowChange};
/// fn describe<M: Model>(change: &RowChange<M>) -> String {
///     match change {
///         RowChange::Inserted(row) => format!("+ {}", row.id),
///         RowChange::Updated(row) => format!("~ {} @ {}", row.id, row.stamp),
///         RowChange::Removed(id) => format!("- {id}"),
///     }
/// }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum RowChange<M> {
    /// A row now matches the query: it was created, loaded, received, or
    /// changed so that it matches.
    Inserted(Row<M>),
    /// A matching row changed and still matches.
    Updated(Row<M>),
    /// A row no longer matches: deleted, rolled back, or changed so that it
    /// does not match.
    Removed(Id<M>),
}

impl<M> RowChange<M> {
    /// The id of the changed row.
    ///
    /// ```
    /// use ablo_runtime::{Id, client::RowChange};
    /// let change: RowChange<()> = RowChange::Removed(Id::new("t1"));
    /// assert_eq!(change.id().as_str(), "t1");
    /// ```
    pub fn id(&self) -> &Id<M> {
        match self {
            RowChange::Inserted(row) | RowChange::Updated(row) => &row.id,
            RowChange::Removed(id) => id,
        }
    }
}

type Inner<M> = Pin<Box<dyn Stream<Item = RowChange<M>> + Send>>;

/// A [`futures::Stream`] of [`RowChange`]s, from
/// [`ModelHandle::watch`](super::ModelHandle::watch).
///
/// Every change of the pool's visible state is reported in order (changes
/// applied together, such as one batch of the live stream, arrive as one).
/// A reader that falls more than a few thousand changes behind is brought up
/// to date with the changes between what it was told and the pool's state
/// now. The stream ends when the client is disposed.
///
/// ```no_run
/// use futures::StreamExt;
/// use ablo_runtime::{Model, client::{ModelHandle, Query}};
/// async fn first_change<M: Model>(h: &ModelHandle<M>) {
///     let mut stream = h.watch(Query::new());
///     let _change = stream.next().await;
/// }
/// ```
pub struct WatchStream<M> {
    inner: Inner<M>,
}

impl<M> fmt::Debug for WatchStream<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WatchStream")
    }
}

impl<M> Stream for WatchStream<M> {
    type Item = RowChange<M>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

struct Watcher<M: Model> {
    shared: Arc<Shared>,
    query: Query<M>,
    changes: tokio::sync::broadcast::Receiver<PoolChange>,
    closed: tokio::sync::watch::Receiver<bool>,
    /// What the reader has been told: id → row JSON.
    view: HashMap<String, Json>,
    ready: VecDeque<RowChange<M>>,
}

impl<M: Model> WatchStream<M> {
    pub(crate) fn new(client: super::Client, query: Query<M>) -> Self {
        let shared = client.shared().clone();
        // Subscribe before the first read so nothing falls between the two.
        let changes = shared.pool.subscribe();
        let closed = shared.closed.clone();
        let mut watcher = Watcher {
            shared,
            query,
            changes,
            closed,
            view: HashMap::new(),
            ready: VecDeque::new(),
        };
        watcher.rescan();
        let inner = futures::stream::unfold(watcher, |mut watcher| async move {
            loop {
                if let Some(change) = watcher.ready.pop_front() {
                    return Some((change, watcher));
                }
                if *watcher.closed.borrow() {
                    return None;
                }
                tokio::select! {
                    received = watcher.changes.recv() => match received {
                        Ok(change) if change.key.model == M::NAME => watcher.apply(change),
                        Ok(_) => {}
                        Err(RecvError::Lagged(_)) => watcher.rescan(),
                        Err(RecvError::Closed) => return None,
                    },
                    _ = watcher.closed.changed() => {}
                }
            }
        });
        WatchStream {
            inner: Box::pin(inner),
        }
    }
}

impl<M: Model> Watcher<M> {
    /// Queues the change of one row as the reader will see it.
    fn apply(&mut self, change: PoolChange) {
        if self.query.limit_value().is_some() {
            // A limited query shows a window of the first rows in its
            // order: one row's change can move others in or out of it.
            self.rescan();
            return;
        }
        let now = change.row.filter(|row| self.query.matches(row));
        self.report(&change.key.id, now);
    }

    /// Compares the rows the query selects (matching, in its order, at
    /// most its limit) with what the reader was told; new rows are
    /// reported in the query's order.
    fn rescan(&mut self) {
        let matching: Vec<Json> = self
            .shared
            .pool
            .all(M::NAME)
            .into_iter()
            .filter(|row| self.query.matches(row))
            .collect();
        let ordered: Vec<(String, Json)> = self
            .query
            .sort_and_limit(matching)
            .into_iter()
            .filter_map(|row| Some((row.get("id")?.as_str()?.to_owned(), row)))
            .collect();
        let selected: std::collections::HashSet<&str> =
            ordered.iter().map(|(id, _)| id.as_str()).collect();
        let mut gone: Vec<String> = self
            .view
            .keys()
            .filter(|id| !selected.contains(id.as_str()))
            .cloned()
            .collect();
        gone.sort();
        for id in gone {
            self.report(&id, None);
        }
        for (id, row) in ordered {
            self.report(&id, Some(row));
        }
    }

    fn report(&mut self, id: &str, now: Option<Json>) {
        let before = self.view.get(id);
        let change = match (before, &now) {
            (None, None) => return,
            (Some(before), Some(now)) if before == now => return,
            (None, Some(row)) => decode(row).map(RowChange::Inserted),
            (Some(_), Some(row)) => decode(row).map(RowChange::Updated),
            (Some(_), None) => Some(RowChange::Removed(Id::new(id))),
        };
        match now {
            Some(row) => self.view.insert(id.to_owned(), row),
            None => self.view.remove(id),
        };
        if let Some(change) = change {
            self.ready.push_back(change);
        }
    }
}

fn decode<M: Model>(row: &Json) -> Option<Row<M>> {
    serde_json::from_value(row.clone()).ok()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Duration;

    use futures::StreamExt;
    use serde_json::json;

    use super::*;
    use crate::client::Client;
    use crate::client::pool::{LocalOp, RowKey};
    use crate::client::tests::{Note, offline_client};
    use crate::types::SyncId;

    fn note(id: &str, stamp: u64, text: &str) -> Json {
        json!({"id": id, "stamp": stamp, "createdAt": "2026-01-01T00:00:00.000Z",
               "updatedAt": "2026-01-01T00:00:00.000Z", "text": text})
    }

    async fn next(stream: &mut WatchStream<Note>) -> RowChange<Note> {
        tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("a change in time")
            .expect("the stream goes on")
    }

    fn pool(client: &Client) -> &crate::client::pool::Pool {
        &client.shared().pool
    }

    #[tokio::test]
    async fn filters_report_rows_entering_and_leaving() {
        let client = offline_client();
        let mut stream = client
            .model::<Note>()
            .watch(crate::client::Query::new().where_eq("text", "hot"));
        pool(&client).store_rows("notes", &[note("n1", 1, "cold")], SyncId(1));
        pool(&client).store_rows("notes", &[note("n1", 2, "hot")], SyncId(2));
        assert!(matches!(next(&mut stream).await, RowChange::Inserted(r) if r.stamp == SyncId(2)));
        pool(&client).enqueue(
            "tx",
            vec![(
                RowKey::new("notes", "n1"),
                LocalOp::Update(json!({"text": "cold"}).as_object().unwrap().clone()),
            )],
        );
        assert_eq!(next(&mut stream).await, RowChange::Removed(Id::new("n1")));
        pool(&client).roll_back("tx");
        assert!(matches!(next(&mut stream).await, RowChange::Inserted(r) if r.text == "hot"));
    }

    #[tokio::test]
    async fn a_reader_that_falls_behind_converges_without_duplicates() {
        let client = offline_client();
        let mut stream = client.model::<Note>().watch(crate::client::Query::new());
        pool(&client).store_rows(
            "notes",
            &[note("keep", 1, "k"), note("gone", 1, "g")],
            SyncId(1),
        );
        // Far more changes than the notification buffer holds, while the
        // reader reads nothing.
        let rows: Vec<Json> = (0..6000)
            .map(|i| note(&format!("bulk{i:05}"), 2, "b"))
            .collect();
        pool(&client).store_rows("notes", &rows, SyncId(2));
        pool(&client).confirm(
            "tx_del",
            SyncId(3),
            vec![(RowKey::new("notes", "gone"), None)],
        );

        let mut present = HashSet::new();
        let mut inserted = HashSet::new();
        while present.len() != 6001 || present.contains("gone") {
            match next(&mut stream).await {
                RowChange::Inserted(row) => {
                    assert!(
                        inserted.insert(row.id.as_str().to_owned()),
                        "{} twice",
                        row.id
                    );
                    present.insert(row.id.as_str().to_owned());
                }
                RowChange::Updated(row) => panic!("nothing was updated, got {}", row.id),
                RowChange::Removed(id) => {
                    assert!(present.remove(id.as_str()), "{id} removed unseen");
                }
            }
        }
        assert!(present.contains("keep"));
        assert!(
            tokio::time::timeout(Duration::from_millis(100), stream.next())
                .await
                .is_err(),
            "nothing more to report"
        );
    }

    #[tokio::test]
    async fn order_and_limit_select_a_window_that_follows_changes() {
        let client = offline_client();
        pool(&client).store_rows(
            "notes",
            &[note("a", 1, "3"), note("b", 1, "1"), note("c", 1, "2")],
            SyncId(1),
        );
        let mut stream = client
            .model::<Note>()
            .watch(crate::client::Query::new().order_by("text").limit(2));
        // First the window, in the query's order: b ("1"), c ("2").
        let first: Vec<String> = [next(&mut stream).await, next(&mut stream).await]
            .into_iter()
            .map(|change| match change {
                RowChange::Inserted(row) => row.id.as_str().to_owned(),
                other => panic!("expected an insert, got {other:?}"),
            })
            .collect();
        assert_eq!(first, ["b", "c"]);
        // A new first row pushes the last one out of the window.
        pool(&client).store_rows("notes", &[note("d", 2, "0")], SyncId(2));
        assert_eq!(next(&mut stream).await, RowChange::Removed(Id::new("c")));
        assert!(matches!(next(&mut stream).await, RowChange::Inserted(r) if r.id.as_str() == "d"));
        // A row outside the window changing within it reports nothing.
        pool(&client).store_rows("notes", &[note("a", 3, "9")], SyncId(3));
        assert!(
            tokio::time::timeout(Duration::from_millis(100), stream.next())
                .await
                .is_err(),
            "a change outside the window is not reported"
        );
    }
}
