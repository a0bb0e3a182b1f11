//! The board's data: every active intent and wait line, indexed by id, row,
//! participant and deadline, and the rules that move a line (grants in
//! order, expiry).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use ablo_runtime::wire::{Intent, Participant, Target};
use ablo_runtime::{SyncId, Timestamp};
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::board::{BoardEvent, BoardEventKind};

/// One intent on the board, with its lease.
#[derive(Clone, Debug)]
pub(super) struct Entry {
    pub(super) intent: Intent,
    pub(super) ttl: Duration,
    pub(super) deadline: Instant,
    pub(super) sync_groups: Vec<String>,
    /// The row's stamp when a claim was granted: the holder's writes are
    /// stale-checked from here.
    pub(super) guard_stamp: Option<SyncId>,
    pub(super) credential: Option<String>,
}

/// A row: model and id.
pub(super) type RowKey = (String, String);

/// The board's data, indexed so that every question a write asks costs
/// the number of intents on that row, not on the board: active intents by
/// id and by row, waiters by row and by id, counts by participant, and
/// deadlines in order for expiry.
#[derive(Default)]
pub(super) struct BoardState {
    pub(super) active: HashMap<String, Entry>,
    pub(super) active_by_row: HashMap<RowKey, Vec<String>>,
    pub(super) waiting: HashMap<RowKey, VecDeque<Entry>>,
    pub(super) waiting_row: HashMap<String, RowKey>,
    pub(super) held_by: HashMap<String, usize>,
    pub(super) deadlines: BTreeSet<(Instant, String)>,
    /// A mirror of a shared authority: leases are expired by the
    /// authority, never here.
    pub(super) mirror: bool,
}

pub(super) fn participant_key(participant: &Participant) -> String {
    format!("{}:{}", participant.kind.as_str(), participant.id)
}

impl BoardState {
    /// Adds an entry to the row, participant and deadline indexes (`active`
    /// for a held intent, otherwise a waiter).
    pub(super) fn index(&mut self, entry: &Entry, active: bool) {
        let row = row_key(&entry.intent.target);
        let id = entry.intent.id.clone();
        if active {
            self.active_by_row.entry(row).or_default().push(id.clone());
        } else {
            self.waiting_row.insert(id.clone(), row);
        }
        *self
            .held_by
            .entry(participant_key(&entry.intent.participant))
            .or_default() += 1;
        self.deadlines.insert((entry.deadline, id));
    }

    pub(super) fn unindex(&mut self, entry: &Entry) {
        let row = row_key(&entry.intent.target);
        let id = &entry.intent.id;
        if let Some(ids) = self.active_by_row.get_mut(&row) {
            ids.retain(|other| other != id);
            if ids.is_empty() {
                self.active_by_row.remove(&row);
            }
        }
        self.waiting_row.remove(id);
        let who = participant_key(&entry.intent.participant);
        if let Some(count) = self.held_by.get_mut(&who) {
            *count -= 1;
            if *count == 0 {
                self.held_by.remove(&who);
            }
        }
        self.deadlines.remove(&(entry.deadline, id.clone()));
    }

    pub(super) fn active_on_row<'s>(
        &'s self,
        row: &RowKey,
    ) -> impl Iterator<Item = &'s Entry> + 's {
        self.active_by_row
            .get(row)
            .into_iter()
            .flatten()
            .filter_map(|id| self.active.get(id))
    }

    pub(super) fn find_mut(&mut self, id: &str) -> Option<&mut Entry> {
        if self.active.contains_key(id) {
            return self.active.get_mut(id);
        }
        let row = self.waiting_row.get(id)?.clone();
        self.waiting
            .get_mut(&row)?
            .iter_mut()
            .find(|w| w.intent.id == id)
    }

    pub(super) fn remove(&mut self, id: &str) -> Option<Entry> {
        if let Some(entry) = self.active.remove(id) {
            self.unindex(&entry);
            return Some(entry);
        }
        let row = self.waiting_row.get(id)?.clone();
        let line = self.waiting.get_mut(&row)?;
        let index = line.iter().position(|w| w.intent.id == id)?;
        let entry = line.remove(index)?;
        if line.is_empty() {
            self.waiting.remove(&row);
        }
        self.unindex(&entry);
        Some(entry)
    }

    pub(super) fn conflicting_holders(&self, intent: &Intent) -> Vec<Intent> {
        self.active_on_row(&row_key(&intent.target))
            .filter(|e| {
                e.intent.exclusive
                    && e.intent.participant != intent.participant
                    && e.intent.target.overlaps(&intent.target)
            })
            .map(|e| e.intent.clone())
            .collect()
    }

    /// Grants waiting claims on a row from the front of its line, in order,
    /// stopping at the first one that still conflicts (no overtaking).
    pub(super) fn grant_waiters(
        &mut self,
        row: &RowKey,
        now: Instant,
        events: &broadcast::Sender<BoardEvent>,
    ) {
        loop {
            let Some(front) = self.waiting.get(row).and_then(|line| line.front()) else {
                self.waiting.remove(row);
                return;
            };
            if !self.conflicting_holders(&front.intent).is_empty() {
                return;
            }
            let mut entry = self
                .waiting
                .get_mut(row)
                .and_then(VecDeque::pop_front)
                .expect("front exists");
            self.unindex(&entry);
            entry.deadline = now + entry.ttl;
            entry.intent.expires_at = wall_deadline(entry.ttl);
            emit(events, BoardEventKind::Granted, &entry, None);
            self.index(&entry, true);
            self.active.insert(entry.intent.id.clone(), entry);
        }
    }

    pub(super) fn expire_lapsed(
        &mut self,
        now: Instant,
        events: &broadcast::Sender<BoardEvent>,
    ) -> usize {
        if self.mirror {
            return 0;
        }
        let mut lapsed = Vec::new();
        while let Some((deadline, id)) = self.deadlines.first().cloned() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            lapsed.push(id);
        }
        let mut rows = Vec::new();
        for id in &lapsed {
            if let Some(entry) = self.remove(id) {
                emit(events, BoardEventKind::Expired, &entry, None);
                rows.push(row_key(&entry.intent.target));
            }
        }
        rows.sort();
        rows.dedup();
        for row in &rows {
            self.grant_waiters(row, now, events);
        }
        lapsed.len()
    }
}

pub(super) fn emit(
    events: &broadcast::Sender<BoardEvent>,
    kind: BoardEventKind,
    entry: &Entry,
    position: Option<usize>,
) {
    // No listener is fine: the board's state is the source of truth.
    let _ = events.send(BoardEvent {
        kind,
        intent: entry.intent.clone(),
        sync_groups: entry.sync_groups.clone(),
        position,
    });
}

pub(super) fn row_key(target: &Target) -> RowKey {
    (target.model.clone(), target.id.clone())
}

pub(super) fn wall_deadline(ttl: Duration) -> Timestamp {
    let millis = Timestamp::now().as_millis() + ttl.as_millis() as i64;
    Timestamp::from_millis(millis).expect("deadline in range")
}
