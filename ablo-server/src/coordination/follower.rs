//! The tasks that make coordination hold across nodes sharing a store:
//!
//! - the follower loads the authority's snapshot into the node's board and
//!   then applies the authority's events in order: when the feed announces
//!   some (`LISTEN`), when a request of this node waits for its own, and
//!   once a second in case an announcement was lost (a listening
//!   connection can drop); a node that fell behind what the store keeps
//!   loads the snapshot again;
//! - the sweeper asks the authority to expire lapsed leases and end revoked
//!   credentials' intents, granting the next waiters: when the earliest
//!   lease in the node's copy runs out, at once after a revocation, and
//!   once a second in any case (every node does it, so a dead node's
//!   leases lapse all the same);
//! - the presence relay sends this node's presence changes to the others
//!   and applies theirs; nodes beat every two seconds once they listen, a
//!   node hearing another for the first time sends it its presence (so a
//!   node that starts late, or missed a change while it was not listening
//!   yet, learns the others'), and the presence of a node silent for ten
//!   seconds is announced `left`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ablo_runtime::wire::Presence;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::CoordinationContext;
use super::shared::SharedCoordination;
use crate::storage::{CoordinationNotice, StorageError};

/// How often the follower reads the store without an announcement.
const POLL: Duration = Duration::from_secs(1);
/// Longest between two sweeps.
const SWEEP_FALLBACK: Duration = Duration::from_secs(1);
/// Shortest between two sweeps.
const SWEEP_GAP: Duration = Duration::from_millis(10);
/// Events read per page.
const PAGE: usize = 500;
/// How often a node tells the others it is alive.
const BEAT: Duration = Duration::from_secs(2);
/// How often the relay looks whether a beat is due.
const BEAT_CHECK: Duration = Duration::from_millis(100);
/// A node silent this long is gone: its presence ends.
const SILENT: Duration = Duration::from_secs(10);

/// A presence message between nodes.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum Relayed {
    /// A connection's presence changed.
    #[serde(rename_all = "camelCase")]
    Presence {
        node: String,
        connection: u64,
        presence: Presence,
        sync_groups: Vec<String>,
    },
    /// The node is alive.
    Beat { node: String },
}

/// Starts the follower, the sweeper and the presence relay; they run until
/// shutdown.
pub(crate) fn start(cx: CoordinationContext, shared: Arc<SharedCoordination>) {
    let (presence_tx, presence_rx) = mpsc::unbounded_channel();
    let stopping = Arc::new(AtomicBool::new(false));
    let listening = Arc::new(AtomicBool::new(false));
    listen(
        shared.clone(),
        presence_tx,
        stopping.clone(),
        listening.clone(),
    );
    tokio::spawn(follow(cx.clone(), shared.clone(), stopping));
    tokio::spawn(sweep(cx.clone(), shared.clone()));
    tokio::spawn(relay(cx, shared, presence_rx, listening));
}

/// The listening connection, on a thread of its own (the driver blocks).
/// The thread holds the node's coordination weakly and ends when the node
/// is gone or stopping, so a node dropped without a clean shutdown leaves
/// no connection behind.
fn listen(
    shared: Arc<SharedCoordination>,
    presence: mpsc::UnboundedSender<String>,
    stopping: Arc<AtomicBool>,
    listening: Arc<AtomicBool>,
) {
    let shared = Arc::downgrade(&shared);
    let spawned = std::thread::Builder::new()
        .name("ablo-coordination-feed".into())
        .spawn(move || {
            let mut feed = None;
            while !stopping.load(Ordering::Relaxed) {
                if feed.is_none() {
                    let Some(node) = shared.upgrade() else { return };
                    match node.store().feed().and_then(|mut opened| {
                        opened.listen()?;
                        Ok(opened)
                    }) {
                        Ok(opened) => {
                            feed = Some(opened);
                            listening.store(true, Ordering::Relaxed);
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "coordination feed failed to open");
                            drop(node);
                            std::thread::sleep(POLL);
                            continue;
                        }
                    }
                }
                let Some(open) = feed.as_mut() else { continue };
                let heard = open.wait(POLL);
                let Some(node) = shared.upgrade() else { return };
                match heard {
                    Ok(notices) => {
                        for notice in notices {
                            match notice {
                                CoordinationNotice::Changed => node.changed.notify_one(),
                                CoordinationNotice::Presence(text) => {
                                    if presence.send(text).is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "coordination feed failed; listening again");
                        // What was missed is read from the store.
                        node.changed.notify_one();
                        drop(node);
                        std::thread::sleep(POLL);
                    }
                }
            }
        });
    if let Err(err) = spawned {
        tracing::error!(error = %err, "the coordination feed thread could not start");
    }
}

/// Tells the feed thread to stop when the follower ends, however it ends
/// (a clean shutdown, or its runtime dropped).
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

async fn follow(
    cx: CoordinationContext,
    shared: Arc<SharedCoordination>,
    stopping: Arc<AtomicBool>,
) {
    let _stop = StopOnDrop(stopping);
    let mut shutdown = cx.shutdown.clone();
    let mut every = tokio::time::interval(POLL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut loaded = false;
    loop {
        let outcome = if loaded {
            catch_up(&cx, &shared).await
        } else {
            reload(&cx, &shared).await
        };
        match outcome {
            Ok(()) => loaded = true,
            Err(err) => tracing::warn!(error = %err, "following the shared intent board failed"),
        }
        tokio::select! {
            _ = shared.changed.notified() => {}
            _ = every.tick() => {}
            _ = shutdown.wait_for(|stopping| *stopping) => return,
        }
    }
}

async fn reload(
    cx: &CoordinationContext,
    shared: &Arc<SharedCoordination>,
) -> Result<(), StorageError> {
    let store = shared.store().clone();
    let snapshot = blocking(move || store.snapshot()).await??;
    cx.intents.load(&snapshot);
    shared.mark_applied(snapshot.seq);
    Ok(())
}

/// Applies every event after the last one applied, in order.
async fn catch_up(
    cx: &CoordinationContext,
    shared: &Arc<SharedCoordination>,
) -> Result<(), StorageError> {
    loop {
        let after = shared.applied();
        let store = shared.store().clone();
        let page = blocking(move || store.events_after(after, PAGE)).await??;
        if after < page.floor {
            tracing::info!(
                after,
                floor = page.floor,
                "behind the kept intent events; reloading"
            );
            return reload(cx, shared).await;
        }
        let Some(last) = page.events.last().map(|e| e.seq) else {
            return Ok(());
        };
        for event in &page.events {
            cx.intents.apply(event);
        }
        shared.mark_applied(last);
        if page.events.len() < PAGE {
            return Ok(());
        }
    }
}

async fn sweep(cx: CoordinationContext, shared: Arc<SharedCoordination>) {
    let mut shutdown = cx.shutdown.clone();
    let mut last = Instant::now();
    loop {
        // Wake at the copy's earliest deadline (the copy knows every lease),
        // at least once a second for what it has not heard of yet, and at
        // once when woken; never more often than every `SWEEP_GAP`, in case
        // this node's clock runs ahead of the database's.
        let due = cx
            .intents
            .next_deadline()
            .map_or(last + SWEEP_FALLBACK, |at| at.min(last + SWEEP_FALLBACK))
            .max(last + SWEEP_GAP);
        tokio::select! {
            _ = tokio::time::sleep_until(due) => {}
            _ = shared.sweep.notified() => {
                if cx.intents.next_deadline().is_none_or(|at| at > Instant::now()) && !shared.take_revoked() {
                    continue;
                }
            }
            _ = shutdown.wait_for(|stopping| *stopping) => return,
        }
        last = Instant::now();
        let store = shared.store().clone();
        match blocking(move || store.sweep()).await {
            Ok(Ok(0)) => {}
            Ok(Ok(ended)) => tracing::debug!(ended, "lapsed or revoked intents ended"),
            Ok(Err(err)) | Err(err) => tracing::warn!(error = %err, "sweeping intents failed"),
        }
    }
}

async fn relay(
    cx: CoordinationContext,
    shared: Arc<SharedCoordination>,
    mut remote: mpsc::UnboundedReceiver<String>,
    listening: Arc<AtomicBool>,
) {
    let mut shutdown = cx.shutdown.clone();
    let mut local = cx.presence.subscribe();
    let mut beat = tokio::time::interval(BEAT_CHECK);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_beat: Option<Instant> = None;
    let mut heard: HashMap<String, Instant> = HashMap::new();
    let node = shared.node().to_owned();
    let mine = |connection: u64, presence: Presence, sync_groups: Vec<String>| Relayed::Presence {
        node: node.clone(),
        connection,
        presence,
        sync_groups,
    };
    loop {
        let mut outbox = Vec::new();
        tokio::select! {
            event = local.recv() => match event {
                Ok(event) if event.origin.is_none() => {
                    outbox.push(mine(event.connection, event.presence, event.sync_groups));
                }
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "presence changes not relayed to other nodes");
                }
                Err(RecvError::Closed) => return,
            },
            text = remote.recv() => {
                let Some(text) = text else { return };
                match serde_json::from_str::<Relayed>(&text) {
                    Ok(Relayed::Presence { node: from, .. }) | Ok(Relayed::Beat { node: from })
                        if from == node => {}
                    Ok(Relayed::Presence { node: from, connection, presence, sync_groups }) => {
                        cx.presence.apply_remote(&from, connection, presence, sync_groups);
                        heard.insert(from, Instant::now());
                    }
                    Ok(Relayed::Beat { node: from }) => {
                        if heard.insert(from, Instant::now()).is_none() {
                            // A node new to this one: tell it who is here.
                            for (connection, presence, groups) in cx.presence.local() {
                                outbox.push(mine(connection, presence, groups));
                            }
                        }
                    }
                    Err(err) => tracing::warn!(error = %err, "unreadable presence message"),
                }
            }
            _ = beat.tick() => {
                heard.retain(|from, at| {
                    let alive = at.elapsed() < SILENT;
                    if !alive {
                        tracing::info!(node = %from, "node silent; its presence ends");
                        cx.presence.forget_node(from);
                    }
                    alive
                });
                // Beat only once listening, so that whoever answers a first
                // beat is heard.
                if listening.load(Ordering::Relaxed)
                    && last_beat.is_none_or(|at| at.elapsed() >= BEAT)
                {
                    last_beat = Some(Instant::now());
                    outbox.push(Relayed::Beat { node: node.clone() });
                }
            }
            _ = shutdown.wait_for(|stopping| *stopping) => return,
        }
        for message in outbox {
            let text = match serde_json::to_string(&message) {
                Ok(text) => text,
                Err(err) => {
                    tracing::warn!(error = %err, "presence message not encoded");
                    continue;
                }
            };
            let store = shared.store().clone();
            match blocking(move || store.publish_presence(&text)).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) | Err(err) => tracing::warn!(error = %err, "relaying presence failed"),
            }
        }
    }
}

async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StorageError> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|err| StorageError::database("coordination", err))
}
