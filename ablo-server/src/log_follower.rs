//! Follows the sync log into the fan-out hub. The hub publishes this node's
//! commits as they become durable; commits of other nodes sharing the store
//! reach it here: when a commit of this node waits for a predecessor, when
//! the store's [`CommitFeed`](crate::storage::CommitFeed) announces a commit,
//! and once a second in case an announcement was lost, the follower reads
//! the log after what the hub published and publishes it in order.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::error::ApiError;
use crate::fanout::Hub;
use crate::store::Store;

/// How long the feed waits for an announcement before the follower reads
/// the log anyway.
const POLL: Duration = Duration::from_secs(1);

/// Deltas read from the log per page.
const PAGE: usize = 2000;
const PAGE_BYTES: usize = 4 * 1024 * 1024;

/// Publishes the log's commits into `hub` as they appear, until shutdown.
pub(crate) async fn run(store: Store, hub: Hub, mut shutdown: watch::Receiver<bool>) {
    let announced = Arc::new(Notify::new());
    let stopping = Arc::new(AtomicBool::new(false));
    let feed = match store.call(|s| s.commit_feed()).await {
        Ok(feed) => feed,
        Err(err) => {
            tracing::error!(error = %err, "the commit feed could not be opened");
            None
        }
    };
    let shared = feed.is_some();
    if let Some(mut feed) = feed {
        let (announced, stopping) = (announced.clone(), stopping.clone());
        let spawned = std::thread::Builder::new()
            .name("ablo-commit-feed".into())
            .spawn(move || {
                while !stopping.load(Ordering::Relaxed) {
                    match feed.wait(POLL) {
                        Ok(Some(_)) => announced.notify_one(),
                        Ok(None) => {}
                        Err(err) => {
                            tracing::warn!(error = %err, "commit feed failed; listening again");
                            std::thread::sleep(POLL);
                        }
                    }
                }
            });
        if let Err(err) = spawned {
            tracing::error!(error = %err, "the commit feed thread could not start");
        }
    }
    let mut every = tokio::time::interval(POLL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = hub.gap() => {}
            _ = announced.notified() => {}
            _ = every.tick(), if shared => {}
            _ = shutdown.wait_for(|stopping| *stopping) => break,
        }
        if let Err(err) = catch_up(&store, &hub).await {
            tracing::warn!(error = %err.message(), "reading the log for fan-out failed");
        }
    }
    stopping.store(true, Ordering::Relaxed);
}

/// Publishes every commit in the log after what the hub published.
async fn catch_up(store: &Store, hub: &Hub) -> Result<(), ApiError> {
    loop {
        let after = hub.published();
        let page = store
            .call(move |s| s.deltas_after(after, PAGE, PAGE_BYTES))
            .await?;
        if page.deltas.is_empty() {
            hub.skip_to(page.head);
            return Ok(());
        }
        let has_more = page.has_more;
        hub.publish_from_log(page.deltas);
        if !has_more {
            return Ok(());
        }
    }
}
