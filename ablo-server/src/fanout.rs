//! The live fan-out hub: every durable commit is published once, in sync-id
//! order, on one bounded broadcast channel; each WebSocket subscriber keeps
//! the deltas of its groups. The channel's ring is the only queue: a
//! subscriber that falls more than its capacity behind is detected (lagged)
//! and told to resync, so memory stays bounded whatever clients do.

use std::sync::Arc;

use ablo_runtime::SyncId;
use ablo_runtime::wire::{Delta, ServerMessage};
use axum::extract::ws::Utf8Bytes;
use tokio::sync::broadcast;

/// One durable commit's deltas, with the WebSocket message carrying all of
/// them serialized once for every subscriber that receives all groups.
pub(crate) struct CommitEvent {
    pub sync_id: SyncId,
    pub deltas: Vec<Delta>,
    pub message: Utf8Bytes,
}

/// Publishes commits to subscribers.
#[derive(Clone)]
pub(crate) struct Hub {
    sender: broadcast::Sender<Arc<CommitEvent>>,
}

impl Hub {
    /// A hub keeping at most `capacity` commits for slow subscribers.
    pub(crate) fn new(capacity: usize) -> Hub {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Hub { sender }
    }

    /// Publishes a durable commit (called in sync-id order).
    pub(crate) fn publish(&self, sync_id: SyncId, deltas: Vec<Delta>) {
        if self.sender.receiver_count() == 0 {
            return;
        }
        let message = serde_json::to_string(&ServerMessage::Deltas {
            deltas: deltas.clone(),
        })
        .expect("deltas serialize");
        let _ = self.sender.send(Arc::new(CommitEvent {
            sync_id,
            deltas,
            message: message.into(),
        }));
    }

    /// A receiver of every commit published from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<CommitEvent>> {
        self.sender.subscribe()
    }
}
