//! Presence: who is viewing or editing which target, per live connection.

use std::collections::HashMap;
use std::sync::Mutex;

use ablo_runtime::Timestamp;
use ablo_runtime::wire::{Participant, Presence, PresenceState, Target};
use tokio::sync::broadcast;

/// One presence change, with the groups whose subscribers may see it.
///
/// ```
/// use ablo_server::coordination::PresenceEvent;
/// fn who(event: &PresenceEvent) -> &str { &event.presence.participant.id }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct PresenceEvent {
    /// The entry as published (state `left` when it ends).
    pub presence: Presence,
    /// The target row's sync groups.
    pub sync_groups: Vec<String>,
    /// The node whose connection published it; `None` for this node.
    pub origin: Option<String>,
    /// The publishing connection, numbered by its node.
    pub connection: u64,
}

/// A connection: its node (`None` for this one) and its number there.
type Origin = (Option<String>, u64);

#[derive(Clone, Debug)]
struct Published {
    presence: Presence,
    sync_groups: Vec<String>,
}

/// Presence of every connected participant, keyed by connection so that a
/// participant with two tabs leaves only when both close.
///
/// ```
/// use ablo_server::coordination::PresenceBoard;
/// use ablo_runtime::wire::{Participant, ParticipantKind, PresenceState, Target};
/// let board = PresenceBoard::new(64);
/// let user = Participant { id: "u1".into(), kind: ParticipantKind::User };
/// let task = Target { model: "tasks".into(), id: "t1".into(), field: None };
/// board.publish(1, user, task.clone(), PresenceState::Editing, vec!["default".into()]);
/// assert_eq!(board.on_target(&task).len(), 1);
/// board.disconnect(1);
/// assert!(board.on_target(&task).is_empty());
/// ```
pub struct PresenceBoard {
    by_connection: Mutex<HashMap<Origin, Vec<Published>>>,
    events: broadcast::Sender<PresenceEvent>,
}

impl PresenceBoard {
    /// An empty board buffering `event_buffer` events for slow listeners.
    pub fn new(event_buffer: usize) -> Self {
        let (events, _) = broadcast::channel(event_buffer.max(1));
        PresenceBoard {
            by_connection: Mutex::new(HashMap::new()),
            events,
        }
    }

    /// Every later presence change.
    pub fn subscribe(&self) -> broadcast::Receiver<PresenceEvent> {
        self.events.subscribe()
    }

    /// Sets what a connection's participant does with a target; `left`
    /// removes the entry.
    pub fn publish(
        &self,
        connection: u64,
        participant: Participant,
        target: Target,
        state: PresenceState,
        sync_groups: Vec<String>,
    ) -> Presence {
        let presence = Presence {
            participant,
            target,
            state,
            at: Timestamp::now(),
        };
        self.set((None, connection), presence.clone(), sync_groups);
        presence
    }

    /// Applies presence another node's connection published (see
    /// `follower.rs`): announced to this node's subscribers like its own.
    pub fn apply_remote(
        &self,
        node: &str,
        connection: u64,
        presence: Presence,
        sync_groups: Vec<String>,
    ) {
        self.set((Some(node.to_owned()), connection), presence, sync_groups);
    }

    /// Ends every entry another node published (it went silent), announcing
    /// each as `left`.
    pub fn forget_node(&self, node: &str) {
        let gone: Vec<Origin> = self
            .lock()
            .keys()
            .filter(|(origin, _)| origin.as_deref() == Some(node))
            .cloned()
            .collect();
        for origin in gone {
            self.end(origin);
        }
    }

    fn set(&self, origin: Origin, presence: Presence, sync_groups: Vec<String>) {
        let state = presence.state;
        let mut map = self.lock();
        let entries = map.entry(origin.clone()).or_default();
        entries.retain(|p| p.presence.target != presence.target);
        if state != PresenceState::Left {
            entries.push(Published {
                presence: presence.clone(),
                sync_groups: sync_groups.clone(),
            });
        }
        if entries.is_empty() {
            map.remove(&origin);
        }
        drop(map);
        let _ = self.events.send(PresenceEvent {
            presence,
            sync_groups,
            origin: origin.0,
            connection: origin.1,
        });
    }

    /// Ends every entry of a closed connection, announcing each as `left`.
    pub fn disconnect(&self, connection: u64) {
        self.end((None, connection));
    }

    fn end(&self, origin: Origin) {
        let gone = self.lock().remove(&origin).unwrap_or_default();
        for entry in gone {
            let _ = self.events.send(PresenceEvent {
                presence: Presence {
                    state: PresenceState::Left,
                    at: Timestamp::now(),
                    ..entry.presence
                },
                sync_groups: entry.sync_groups,
                origin: origin.0.clone(),
                connection: origin.1,
            });
        }
    }

    /// Who is on a target now (on the row, for a row target).
    pub fn on_target(&self, target: &Target) -> Vec<Presence> {
        let mut found: Vec<Presence> = self
            .lock()
            .values()
            .flatten()
            .filter(|p| {
                p.presence.target.model == target.model
                    && p.presence.target.id == target.id
                    && (target.field.is_none() || p.presence.target.field == target.field)
            })
            .map(|p| p.presence.clone())
            .collect();
        found.sort_by(|a, b| a.participant.id.cmp(&b.participant.id));
        found
    }

    /// Every entry visible to a reader of `allowed` groups.
    pub fn visible(&self, allowed: impl Fn(&[String]) -> bool) -> Vec<Presence> {
        self.lock()
            .values()
            .flatten()
            .filter(|p| allowed(&p.sync_groups))
            .map(|p| p.presence.clone())
            .collect()
    }

    /// This node's own entries, by connection, with their rows' groups: what
    /// it tells a node it has not heard from before.
    pub fn local(&self) -> Vec<(u64, Presence, Vec<String>)> {
        self.lock()
            .iter()
            .filter(|((node, _), _)| node.is_none())
            .flat_map(|((_, connection), entries)| {
                entries
                    .iter()
                    .map(|p| (*connection, p.presence.clone(), p.sync_groups.clone()))
            })
            .collect()
    }

    /// Every entry with its row's groups, for a subscriber joining late.
    pub fn snapshot(&self) -> Vec<(Presence, Vec<String>)> {
        self.lock()
            .values()
            .flatten()
            .map(|p| (p.presence.clone(), p.sync_groups.clone()))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Origin, Vec<Published>>> {
        self.by_connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use ablo_runtime::wire::ParticipantKind;

    use super::*;

    fn user(id: &str) -> Participant {
        Participant {
            id: id.into(),
            kind: ParticipantKind::User,
        }
    }

    fn task(id: &str) -> Target {
        Target {
            model: "tasks".into(),
            id: id.into(),
            field: None,
        }
    }

    #[tokio::test]
    async fn a_disconnect_announces_left_for_every_entry() {
        let board = PresenceBoard::new(16);
        let mut events = board.subscribe();
        let g = || vec!["org:a".to_string()];
        board.publish(7, user("u1"), task("t1"), PresenceState::Viewing, g());
        board.publish(7, user("u1"), task("t2"), PresenceState::Editing, g());
        board.publish(8, user("u2"), task("t1"), PresenceState::Viewing, g());
        board.disconnect(7);
        let mut left = Vec::new();
        while let Ok(event) = events.try_recv() {
            if event.presence.state == PresenceState::Left {
                left.push(event.presence.target.id);
            }
        }
        left.sort();
        assert_eq!(left, ["t1", "t2"]);
        assert_eq!(board.on_target(&task("t1")).len(), 1);
    }

    #[tokio::test]
    async fn republishing_a_target_replaces_the_entry() {
        let board = PresenceBoard::new(16);
        board.publish(1, user("u1"), task("t1"), PresenceState::Viewing, vec![]);
        board.publish(1, user("u1"), task("t1"), PresenceState::Editing, vec![]);
        let here = board.on_target(&task("t1"));
        assert_eq!(here.len(), 1);
        assert_eq!(here[0].state, PresenceState::Editing);
        board.publish(1, user("u1"), task("t1"), PresenceState::Left, vec![]);
        assert!(board.on_target(&task("t1")).is_empty());
    }

    #[tokio::test]
    async fn visibility_follows_groups() {
        let board = PresenceBoard::new(16);
        board.publish(
            1,
            user("u1"),
            task("t1"),
            PresenceState::Viewing,
            vec!["org:a".into()],
        );
        board.publish(
            2,
            user("u2"),
            task("t2"),
            PresenceState::Viewing,
            vec!["org:b".into()],
        );
        let seen = board.visible(|groups| groups.iter().any(|g| g == "org:a"));
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].participant.id, "u1");
    }
}
