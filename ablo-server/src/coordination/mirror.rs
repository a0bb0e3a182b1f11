//! A board that mirrors a shared authority. On a store several nodes share,
//! the authority (PostgreSQL) decides every intent and grant; each node's
//! [`IntentBoard`] holds a copy, built from the authority's snapshot and
//! kept current by applying its events in order. The copy answers the
//! node's reads (`ifBusy`, the intents shown with a row and on subscribe)
//! and announces every event to the node's subscribers, within their scope,
//! exactly as a board deciding alone does. Its leases are never expired
//! here: the authority's sweep expires them and the events follow.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ablo_runtime::Timestamp;
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::board_state::{BoardState, Entry, emit, row_key};
use super::shared::SharedCoordination;
use super::{BoardConfig, BoardEventKind, IntentBoard};
use crate::storage::{CoordinationEvent, CoordinationEventKind, CoordinationSnapshot, Storage};

impl IntentBoard {
    /// The board for `storage`: on a shared store, a mirror of the store's
    /// coordination authority; otherwise a board deciding in memory.
    ///
    /// ```
    /// use ablo_server::coordination::{BoardConfig, IntentBoard};
    /// let dir = tempfile::tempdir().unwrap();
    /// let storage = ablo_server::storage::SqliteStorage::open(dir.path()).unwrap();
    /// let board = IntentBoard::for_storage(BoardConfig::default(), &storage);
    /// assert!(!board.is_shared());
    /// ```
    pub fn for_storage(config: BoardConfig, storage: &dyn Storage) -> IntentBoard {
        let Some(authority) = storage.coordination() else {
            return IntentBoard::new(config);
        };
        let (events, _) = broadcast::channel(config.event_buffer.max(1));
        let shared = Arc::new(SharedCoordination::new(authority, &config));
        IntentBoard {
            config,
            state: Mutex::new(BoardState {
                mirror: true,
                ..BoardState::default()
            }),
            events,
            shared: Some(shared),
        }
    }

    /// The earliest lease deadline in the copy: when the sweeper next has
    /// something to expire.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.lock().deadlines.first().map(|(at, _)| *at)
    }

    /// Whether this board mirrors a shared authority.
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// The shared authority this board mirrors, if any.
    pub(crate) fn authority(&self) -> Option<&Arc<SharedCoordination>> {
        self.shared.as_ref()
    }

    /// Replaces the copy with the authority's snapshot (at start, and after
    /// falling behind what the authority keeps). Announces nothing: a
    /// subscriber is shown the active intents when it subscribes.
    pub(crate) fn load(&self, snapshot: &CoordinationSnapshot) {
        let mut fresh = BoardState {
            mirror: true,
            ..BoardState::default()
        };
        for held in &snapshot.intents {
            let entry = Entry {
                intent: held.intent.clone(),
                ttl: held.ttl,
                deadline: instant_of(held.intent.expires_at),
                sync_groups: held.sync_groups.clone(),
                guard_stamp: held.guard_stamp,
                credential: None,
            };
            fresh.index(&entry, !held.waiting);
            if held.waiting {
                fresh
                    .waiting
                    .entry(row_key(&entry.intent.target))
                    .or_default()
                    .push_back(entry);
            } else {
                fresh.active.insert(entry.intent.id.clone(), entry);
            }
        }
        *self.lock() = fresh;
    }

    /// Applies one of the authority's events to the copy and announces it.
    pub(crate) fn apply(&self, event: &CoordinationEvent) {
        let kind = board_kind(event.kind);
        let id = event.intent.id.clone();
        let mut entry = Entry {
            intent: event.intent.clone(),
            ttl: Duration::from_millis(event.ttl_ms),
            deadline: instant_of(event.intent.expires_at),
            sync_groups: event.sync_groups.clone(),
            guard_stamp: event.guard_stamp,
            credential: None,
        };
        let mut state = self.lock();
        match kind {
            BoardEventKind::Created | BoardEventKind::Granted => {
                state.remove(&id);
                state.index(&entry, true);
                state.active.insert(id, entry.clone());
            }
            BoardEventKind::Queued => {
                state.remove(&id);
                state.index(&entry, false);
                state
                    .waiting
                    .entry(row_key(&entry.intent.target))
                    .or_default()
                    .push_back(entry.clone());
            }
            BoardEventKind::Renewed => {
                let Some(known) = state.find_mut(&id) else {
                    drop(state);
                    emit(&self.events, kind, &entry, event.position);
                    return;
                };
                let old = known.deadline;
                known.deadline = entry.deadline;
                known.intent.expires_at = entry.intent.expires_at;
                // The guard moves with the holder's commits on its node;
                // keep what this copy knows.
                entry.guard_stamp = known.guard_stamp;
                state.deadlines.remove(&(old, id.clone()));
                state.deadlines.insert((entry.deadline, id));
            }
            BoardEventKind::Released | BoardEventKind::Expired => {
                state.remove(&id);
            }
        }
        emit(&self.events, kind, &entry, event.position);
    }
}

fn board_kind(kind: CoordinationEventKind) -> BoardEventKind {
    match kind {
        CoordinationEventKind::Created => BoardEventKind::Created,
        CoordinationEventKind::Renewed => BoardEventKind::Renewed,
        CoordinationEventKind::Released => BoardEventKind::Released,
        CoordinationEventKind::Expired => BoardEventKind::Expired,
        CoordinationEventKind::Granted => BoardEventKind::Granted,
        CoordinationEventKind::Queued => BoardEventKind::Queued,
    }
}

/// The local instant of a wall-clock deadline.
fn instant_of(at: Timestamp) -> Instant {
    let left = at.as_millis() - Timestamp::now().as_millis();
    Instant::now() + Duration::from_millis(left.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use ablo_runtime::SyncId;
    use ablo_runtime::wire::{Intent, Participant, ParticipantKind, Target};

    use super::*;
    use crate::storage::{CoordinationEvent, CoordinationEventKind, CoordinationSnapshot};

    fn mirror() -> IntentBoard {
        IntentBoard {
            state: Mutex::new(BoardState {
                mirror: true,
                ..BoardState::default()
            }),
            ..IntentBoard::new(BoardConfig::default())
        }
    }

    fn claim(id: &str, who: &str) -> Intent {
        Intent {
            id: id.into(),
            participant: Participant {
                id: who.into(),
                kind: ParticipantKind::Agent,
            },
            target: Target {
                model: "tasks".into(),
                id: "t1".into(),
                field: None,
            },
            action: "update".into(),
            exclusive: true,
            created_at: Timestamp::now(),
            // Already past: a mirror never expires on its own.
            expires_at: Timestamp::from_millis(Timestamp::now().as_millis() - 1000).unwrap(),
        }
    }

    fn event(kind: CoordinationEventKind, intent: &Intent, seq: u64) -> CoordinationEvent {
        CoordinationEvent {
            seq,
            kind,
            intent: intent.clone(),
            sync_groups: vec!["default".into()],
            position: (kind == CoordinationEventKind::Queued).then_some(1),
            guard_stamp: matches!(
                kind,
                CoordinationEventKind::Created | CoordinationEventKind::Granted
            )
            .then_some(SyncId(7)),
            ttl_ms: 30_000,
        }
    }

    #[tokio::test]
    async fn applied_events_move_the_line_and_are_announced_in_order() {
        let board = mirror();
        let mut announced = board.subscribe();
        let (first, second) = (claim("int_a", "a"), claim("int_b", "b"));
        board.apply(&event(CoordinationEventKind::Created, &first, 1));
        board.apply(&event(CoordinationEventKind::Queued, &second, 2));
        let target = first.target.clone();
        assert_eq!(board.active_on(&target), vec![first.clone()]);
        assert_eq!(board.queue_position("int_b"), Some(1));
        assert_eq!(board.guard_stamp("int_a"), Some(SyncId(7)));
        // Lapsed by the clock, yet held until the authority says so.
        assert_eq!(board.expire_lapsed(), 0);
        assert!(board.active("int_a").is_some());
        board.apply(&event(CoordinationEventKind::Expired, &first, 3));
        board.apply(&event(CoordinationEventKind::Granted, &second, 4));
        assert_eq!(board.active_on(&target), vec![second.clone()]);
        assert_eq!(board.queue_position("int_b"), None);
        board.apply(&event(CoordinationEventKind::Released, &second, 5));
        assert!(board.is_empty());
        let mut kinds = Vec::new();
        while let Ok(event) = announced.try_recv() {
            kinds.push((event.kind, event.intent.id));
        }
        assert_eq!(
            kinds,
            [
                (BoardEventKind::Created, "int_a".to_owned()),
                (BoardEventKind::Queued, "int_b".to_owned()),
                (BoardEventKind::Expired, "int_a".to_owned()),
                (BoardEventKind::Granted, "int_b".to_owned()),
                (BoardEventKind::Released, "int_b".to_owned()),
            ]
        );
    }

    #[tokio::test]
    async fn a_snapshot_replaces_the_copy() {
        let board = mirror();
        board.apply(&event(
            CoordinationEventKind::Created,
            &claim("int_old", "a"),
            1,
        ));
        let held = crate::storage::HeldIntent {
            intent: claim("int_new", "b"),
            waiting: false,
            sync_groups: vec!["default".into()],
            guard_stamp: Some(SyncId(3)),
            ttl: Duration::from_secs(30),
        };
        board.load(&CoordinationSnapshot {
            intents: vec![held],
            seq: 9,
        });
        assert!(board.active("int_old").is_none());
        assert_eq!(board.guard_stamp("int_new"), Some(SyncId(3)));
        assert_eq!(board.len(), 1);
    }
}
