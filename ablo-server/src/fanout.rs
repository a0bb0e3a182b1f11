//! The live fan-out hub: every durable commit is published once, in sync-id
//! order, on one bounded broadcast channel; each WebSocket subscriber keeps
//! the deltas of its groups. The channel's ring is the only queue: a
//! subscriber that falls more than its capacity behind is detected (lagged)
//! and told to resync, so memory stays bounded whatever clients do. A commit
//! whose message is larger than the inline limit travels as its sync id
//! alone and subscribers read its deltas from the log, so the ring holds at
//! most `capacity × inline limit` bytes of deltas.

use std::sync::Arc;

use ablo_runtime::SyncId;
use ablo_runtime::wire::{Delta, ServerMessage};
use axum::extract::ws::Utf8Bytes;
use tokio::sync::broadcast;

/// One durable commit: its sync id and, unless it is large, its deltas.
pub(crate) struct CommitEvent {
    pub sync_id: SyncId,
    /// When the commit was published (durable), for the fan-out lag.
    pub published: std::time::Instant,
    /// `None` for a commit whose message is over the inline limit: read its
    /// deltas from the log.
    pub inline: Option<InlineDeltas>,
}

/// A commit's deltas, with the WebSocket message carrying all of them
/// serialized once for every subscriber that receives all groups.
pub(crate) struct InlineDeltas {
    pub deltas: Vec<Delta>,
    pub message: Utf8Bytes,
}

/// Publishes commits to subscribers.
#[derive(Clone)]
pub(crate) struct Hub {
    sender: broadcast::Sender<Arc<CommitEvent>>,
    inline_limit: usize,
}

impl Hub {
    /// A hub keeping at most `capacity` commits for slow subscribers, each
    /// with its deltas when their message is at most `inline_limit` bytes.
    pub(crate) fn new(capacity: usize, inline_limit: usize) -> Hub {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Hub {
            sender,
            inline_limit,
        }
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
        let inline = (message.len() <= self.inline_limit).then(|| InlineDeltas {
            deltas,
            message: message.into(),
        });
        let _ = self.sender.send(Arc::new(CommitEvent {
            sync_id,
            published: std::time::Instant::now(),
            inline,
        }));
    }

    /// A receiver of every commit published from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<CommitEvent>> {
        self.sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ablo_runtime::wire::{Actor, DeltaAction, ParticipantKind};

    fn delta(text: &str) -> Delta {
        Delta {
            sync_id: SyncId(1),
            model: "tasks".into(),
            id: "t1".into(),
            action: DeltaAction::Insert,
            data: serde_json::json!({"id": "t1", "title": text}),
            changed_fields: vec!["title".into()],
            client_tx_id: "tx_1".into(),
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

    #[test]
    fn large_commits_travel_as_their_sync_id() {
        let hub = Hub::new(4, 1024);
        let mut receiver = hub.subscribe();
        hub.publish(SyncId(1), vec![delta("small")]);
        hub.publish(SyncId(2), vec![delta(&"x".repeat(2000))]);
        let small = receiver.try_recv().unwrap();
        assert!(
            small
                .inline
                .as_ref()
                .unwrap()
                .message
                .as_str()
                .contains("small")
        );
        let large = receiver.try_recv().unwrap();
        assert_eq!(large.sync_id, SyncId(2));
        assert!(large.inline.is_none());
    }
}
