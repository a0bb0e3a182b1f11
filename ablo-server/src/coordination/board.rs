//! The intent board: active intents, claims and their FIFO wait lines.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ablo_runtime::wire::{Intent, Participant, Target};
use ablo_runtime::{SyncId, Timestamp};
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::board_state::{BoardState, Entry, emit, participant_key, row_key, wall_deadline};
use super::scope::{WriteScope, same_row};
use super::shared::SharedCoordination;

/// Limits of the board.
///
/// ```
/// use ablo_server::coordination::BoardConfig;
/// let config = BoardConfig::default();
/// assert!(config.default_ttl <= config.max_ttl);
/// ```
#[derive(Clone, Debug)]
pub struct BoardConfig {
    /// Lease of an intent that asks for none.
    pub default_ttl: Duration,
    /// Longest lease an intent may ask for.
    pub max_ttl: Duration,
    /// Shortest lease an intent may ask for.
    pub min_ttl: Duration,
    /// Most waiters one row's wait line holds.
    pub max_queue_depth: usize,
    /// Most intents and claims (active or waiting) one participant holds.
    pub max_per_participant: usize,
    /// Most active intents on one row.
    pub max_per_row: usize,
    /// Events buffered for slow listeners before they miss some.
    pub event_buffer: usize,
}

impl Default for BoardConfig {
    fn default() -> Self {
        BoardConfig {
            default_ttl: Duration::from_secs(30),
            max_ttl: Duration::from_secs(600),
            min_ttl: Duration::from_millis(100),
            max_queue_depth: 256,
            max_per_participant: 1000,
            max_per_row: 64,
            event_buffer: 4096,
        }
    }
}

/// What a participant asks the board for.
///
/// ```
/// use ablo_server::coordination::IntentRequest;
/// use ablo_runtime::wire::{Participant, ParticipantKind, Target};
/// let request = IntentRequest {
///     participant: Participant { id: "agent_1".into(), kind: ParticipantKind::Agent },
///     target: Target { model: "tasks".into(), id: "t1".into(), field: None },
///     action: "update".into(),
///     ttl: None,
///     exclusive: true,
///     wait: true,
///     sync_groups: vec!["default".into()],
///     credential: None,
/// };
/// assert!(request.exclusive);
/// ```
#[derive(Clone, Debug)]
pub struct IntentRequest {
    /// Who asks (taken from the credential).
    pub participant: Participant,
    /// What it covers.
    pub target: Target,
    /// A short verb, for example `update`.
    pub action: String,
    /// The lease; `None` for the board's default.
    pub ttl: Option<Duration>,
    /// A claim (one holder per target) rather than an advisory intent.
    pub exclusive: bool,
    /// For a claim that is held: join the wait line (`true`) or fail at once.
    pub wait: bool,
    /// The target row's sync groups, to route events to the right subscribers.
    pub sync_groups: Vec<String>,
    /// The capability the request was made with (`None` for an API key):
    /// its intents end when it is revoked.
    pub credential: Option<String>,
}

/// The board's answer to [`IntentBoard::create`].
///
/// ```
/// use ablo_server::coordination::ClaimOutcome;
/// fn describe(outcome: &ClaimOutcome) -> &'static str {
///     match outcome {
///         ClaimOutcome::Active(_) => "held",
///         ClaimOutcome::Queued { .. } => "waiting",
///     }
/// }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum ClaimOutcome {
    /// The intent is active (an advisory intent, or a claim granted at once).
    Active(Intent),
    /// The claim waits in line; `position` 1 is next.
    Queued {
        /// The waiting claim; its id is used to heartbeat or release it.
        intent: Intent,
        /// Place in the wait line, from 1.
        position: usize,
    },
}

/// Why the board refused a request.
///
/// ```
/// use ablo_server::coordination::BoardError;
/// let err = BoardError::QueueFull { depth: 3 };
/// assert!(err.to_string().contains("3"));
/// ```
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum BoardError {
    /// The target is claimed by someone else and the request did not wait.
    #[error("the target is claimed by another participant")]
    EntityClaimed {
        /// The conflicting claims.
        holders: Vec<Intent>,
    },
    /// The wait line of the target's row is full.
    #[error("the wait line for this row is full ({depth} waiting)")]
    QueueFull {
        /// Its depth.
        depth: usize,
    },
    /// No active or waiting intent has this id.
    #[error("no active intent with id {id}")]
    NotFound {
        /// The id asked for.
        id: String,
    },
    /// The intent belongs to another participant.
    #[error("intent {id} belongs to another participant")]
    NotHolder {
        /// The id asked for.
        id: String,
    },
    /// The participant holds as many intents as the board allows.
    #[error("this participant already holds {limit} intents; release some first")]
    ParticipantLimit {
        /// The limit.
        limit: usize,
    },
    /// The row carries as many active intents as the board allows.
    #[error("this row already carries {limit} active intents")]
    RowLimit {
        /// The limit.
        limit: usize,
    },
    /// The requested lease is outside the board's limits.
    #[error("ttl must be between {min_ms} ms and {max_ms} ms")]
    InvalidTtl {
        /// Shortest allowed, in milliseconds.
        min_ms: u64,
        /// Longest allowed, in milliseconds.
        max_ms: u64,
    },
}

/// What happened on the board.
///
/// ```
/// use ablo_server::coordination::BoardEventKind;
/// assert_ne!(BoardEventKind::Granted, BoardEventKind::Queued);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BoardEventKind {
    /// An intent became active at once.
    Created,
    /// A heartbeat renewed it.
    Renewed,
    /// Its holder released it.
    Released,
    /// Its lease lapsed.
    Expired,
    /// A waiting claim reached the front and now holds the target.
    Granted,
    /// A claim joined a wait line.
    Queued,
}

/// One change on the board, with the groups whose subscribers may see it.
///
/// ```
/// use ablo_server::coordination::{BoardEvent, BoardEventKind};
/// fn is_grant(event: &BoardEvent) -> bool { event.kind == BoardEventKind::Granted }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct BoardEvent {
    /// What happened.
    pub kind: BoardEventKind,
    /// The intent it happened to.
    pub intent: Intent,
    /// The target row's sync groups.
    pub sync_groups: Vec<String>,
    /// For `Queued`: the place in line, from 1.
    pub position: Option<usize>,
}

/// Every active intent and claim wait line, in memory.
///
/// ```
/// use ablo_server::coordination::{BoardConfig, ClaimOutcome, IntentBoard, IntentRequest};
/// use ablo_runtime::wire::{Participant, ParticipantKind, Target};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let board = IntentBoard::new(BoardConfig::default());
/// let agent = Participant { id: "agent_1".into(), kind: ParticipantKind::Agent };
/// let request = IntentRequest {
///     participant: agent.clone(),
///     target: Target { model: "tasks".into(), id: "t1".into(), field: None },
///     action: "update".into(), ttl: None, exclusive: true, wait: false,
///     sync_groups: vec!["default".into()], credential: None,
/// };
/// let ClaimOutcome::Active(claim) = board.create(request).unwrap() else { panic!() };
/// assert_eq!(board.active_on(&claim.target).len(), 1);
/// board.release(&claim.id, &agent).unwrap();
/// assert!(board.active_on(&claim.target).is_empty());
/// # });
/// ```
pub struct IntentBoard {
    pub(super) config: BoardConfig,
    pub(super) state: Mutex<BoardState>,
    pub(super) events: broadcast::Sender<BoardEvent>,
    /// On a shared store: the authority this board mirrors (see
    /// `mirror.rs`); `None` for a board that decides on its own.
    pub(super) shared: Option<Arc<SharedCoordination>>,
}

impl IntentBoard {
    /// An empty board.
    pub fn new(config: BoardConfig) -> Self {
        let (events, _) = broadcast::channel(config.event_buffer.max(1));
        IntentBoard {
            config,
            state: Mutex::new(BoardState::default()),
            events,
            shared: None,
        }
    }

    /// Every later change on the board.
    pub fn subscribe(&self) -> broadcast::Receiver<BoardEvent> {
        self.events.subscribe()
    }

    /// Takes an intent, or a claim: granted at once when nobody else holds or
    /// waits for an overlapping target, otherwise queued (or refused when the
    /// request does not wait or the line is full).
    pub fn create(&self, request: IntentRequest) -> Result<ClaimOutcome, BoardError> {
        let ttl = self.checked_ttl(request.ttl)?;
        let now = Instant::now();
        let entry = Entry {
            intent: Intent {
                id: format!("int_{}", uuid::Uuid::now_v7().simple()),
                participant: request.participant,
                target: request.target,
                action: request.action,
                exclusive: request.exclusive,
                created_at: Timestamp::now(),
                expires_at: wall_deadline(ttl),
            },
            ttl,
            deadline: now + ttl,
            sync_groups: request.sync_groups,
            guard_stamp: None,
            credential: request.credential,
        };
        let mut state = self.lock();
        state.expire_lapsed(now, &self.events);
        let held = state
            .held_by
            .get(&participant_key(&entry.intent.participant))
            .copied()
            .unwrap_or(0);
        if held >= self.config.max_per_participant {
            return Err(BoardError::ParticipantLimit {
                limit: self.config.max_per_participant,
            });
        }
        let on_row = state
            .active_by_row
            .get(&row_key(&entry.intent.target))
            .map_or(0, Vec::len);
        if on_row >= self.config.max_per_row {
            return Err(BoardError::RowLimit {
                limit: self.config.max_per_row,
            });
        }
        if !entry.intent.exclusive {
            return Ok(ClaimOutcome::Active(self.activate(
                &mut state,
                entry,
                BoardEventKind::Created,
            )));
        }
        let holders = state.conflicting_holders(&entry.intent);
        let row = row_key(&entry.intent.target);
        let waiting_ahead: Vec<Intent> = state
            .waiting
            .get(&row)
            .into_iter()
            .flatten()
            .filter(|w| w.intent.target.overlaps(&entry.intent.target))
            .map(|w| w.intent.clone())
            .collect();
        if holders.is_empty() && waiting_ahead.is_empty() {
            return Ok(ClaimOutcome::Active(self.activate(
                &mut state,
                entry,
                BoardEventKind::Created,
            )));
        }
        if !request.wait {
            let holders = if holders.is_empty() {
                waiting_ahead
            } else {
                holders
            };
            return Err(BoardError::EntityClaimed { holders });
        }
        let depth = state.waiting.get(&row).map_or(0, VecDeque::len);
        if depth >= self.config.max_queue_depth {
            return Err(BoardError::QueueFull { depth });
        }
        state.index(&entry, false);
        let line = state.waiting.entry(row).or_default();
        line.push_back(entry.clone());
        let position = line.len();
        self.emit(BoardEventKind::Queued, &entry, Some(position));
        Ok(ClaimOutcome::Queued {
            intent: entry.intent,
            position,
        })
    }

    /// Renews the lease of an active or waiting intent held by `participant`.
    pub fn heartbeat(&self, id: &str, participant: &Participant) -> Result<Intent, BoardError> {
        let now = Instant::now();
        let mut state = self.lock();
        state.expire_lapsed(now, &self.events);
        let entry = state
            .find_mut(id)
            .ok_or_else(|| BoardError::NotFound { id: id.to_owned() })?;
        if &entry.intent.participant != participant {
            return Err(BoardError::NotHolder { id: id.to_owned() });
        }
        let old_deadline = entry.deadline;
        entry.deadline = now + entry.ttl;
        entry.intent.expires_at = wall_deadline(entry.ttl);
        let renewed = entry.clone();
        state.deadlines.remove(&(old_deadline, id.to_owned()));
        state.deadlines.insert((renewed.deadline, id.to_owned()));
        self.emit(BoardEventKind::Renewed, &renewed, None);
        Ok(renewed.intent)
    }

    /// Releases an intent (active or waiting). Releasing an unknown or
    /// already released id succeeds with `None`, so retries are safe.
    pub fn release(
        &self,
        id: &str,
        participant: &Participant,
    ) -> Result<Option<Intent>, BoardError> {
        let now = Instant::now();
        let mut state = self.lock();
        state.expire_lapsed(now, &self.events);
        let Some(entry) = state.find_mut(id) else {
            return Ok(None);
        };
        if &entry.intent.participant != participant {
            return Err(BoardError::NotHolder { id: id.to_owned() });
        }
        let entry = state.remove(id).expect("found above");
        self.emit(BoardEventKind::Released, &entry, None);
        state.grant_waiters(&row_key(&entry.intent.target), now, &self.events);
        Ok(Some(entry.intent))
    }

    /// Expires every intent and waiter whose lease has lapsed and grants the
    /// claims that become free. The server calls this on a short timer;
    /// every other call does it first too. Returns how many lapsed.
    pub fn expire_lapsed(&self) -> usize {
        self.lock().expire_lapsed(Instant::now(), &self.events)
    }

    /// The active intents (claims included, waiters not) overlapping
    /// `target`: on the row, or on the same field.
    pub fn active_on(&self, target: &Target) -> Vec<Intent> {
        let mut state = self.lock();
        state.expire_lapsed(Instant::now(), &self.events);
        let mut found: Vec<Intent> = state
            .active_on_row(&row_key(target))
            .filter(|e| match &target.field {
                Some(_) => e.intent.target.overlaps(target),
                None => same_row(&e.intent.target, target),
            })
            .map(|e| e.intent.clone())
            .collect();
        found.sort_by(|a, b| a.id.cmp(&b.id));
        found
    }

    /// Other participants' active intents covering part of a write: what
    /// `ifBusy` looks at. A participant's own intents never make it busy.
    pub fn busy_for_write(
        &self,
        model: &str,
        id: &str,
        scope: &WriteScope,
        writer: &Participant,
    ) -> Vec<Intent> {
        self.others_covering(model, id, scope, writer, false)
    }

    /// Another participant's claim covering part of a write, which makes
    /// the write fail with `entity_claimed`.
    pub fn claim_conflict(
        &self,
        model: &str,
        id: &str,
        scope: &WriteScope,
        writer: &Participant,
    ) -> Vec<Intent> {
        self.others_covering(model, id, scope, writer, true)
    }

    /// The active intent (or held claim) with this id; `None` for a waiting,
    /// released or lapsed one.
    pub fn active(&self, intent_id: &str) -> Option<Intent> {
        let mut state = self.lock();
        state.expire_lapsed(Instant::now(), &self.events);
        state.active.get(intent_id).map(|e| e.intent.clone())
    }

    /// The stamp a claim's writes are guarded from, once recorded.
    pub fn guard_stamp(&self, intent_id: &str) -> Option<SyncId> {
        self.lock()
            .active
            .get(intent_id)
            .and_then(|e| e.guard_stamp)
    }

    /// Records the row's stamp at the moment a claim was granted.
    pub fn set_guard_stamp(&self, intent_id: &str, stamp: SyncId) {
        if let Some(entry) = self.lock().active.get_mut(intent_id) {
            entry.guard_stamp = Some(stamp);
        }
    }

    /// The active claims `participant` holds on the row, to guard its writes.
    pub fn claims_held_by(&self, model: &str, id: &str, participant: &Participant) -> Vec<Intent> {
        let state = self.lock();
        let row = (model.to_owned(), id.to_owned());
        state
            .active_on_row(&row)
            .filter(|e| e.intent.exclusive && &e.intent.participant == participant)
            .map(|e| e.intent.clone())
            .collect()
    }

    /// The place in line of a waiting claim, from 1.
    pub fn queue_position(&self, intent_id: &str) -> Option<usize> {
        let state = self.lock();
        let row = state.waiting_row.get(intent_id)?;
        state
            .waiting
            .get(row)?
            .iter()
            .position(|w| w.intent.id == intent_id)
            .map(|p| p + 1)
    }

    fn others_covering(
        &self,
        model: &str,
        id: &str,
        scope: &WriteScope,
        writer: &Participant,
        claims_only: bool,
    ) -> Vec<Intent> {
        let mut state = self.lock();
        state.expire_lapsed(Instant::now(), &self.events);
        let row = (model.to_owned(), id.to_owned());
        state
            .active_on_row(&row)
            .filter(|e| {
                (!claims_only || e.intent.exclusive)
                    && &e.intent.participant != writer
                    && scope.is_covered_by(&e.intent.target)
            })
            .map(|e| e.intent.clone())
            .collect()
    }

    pub(crate) fn checked_ttl(&self, ttl: Option<Duration>) -> Result<Duration, BoardError> {
        let ttl = ttl.unwrap_or(self.config.default_ttl);
        if ttl < self.config.min_ttl || ttl > self.config.max_ttl {
            return Err(BoardError::InvalidTtl {
                min_ms: self.config.min_ttl.as_millis() as u64,
                max_ms: self.config.max_ttl.as_millis() as u64,
            });
        }
        Ok(ttl)
    }

    fn activate(&self, state: &mut BoardState, entry: Entry, kind: BoardEventKind) -> Intent {
        self.emit(kind, &entry, None);
        let intent = entry.intent.clone();
        state.index(&entry, true);
        state.active.insert(intent.id.clone(), entry);
        intent
    }

    /// Ends every intent and claim taken with a capability (it was revoked);
    /// their rows' wait lines move on. Returns how many ended.
    pub fn end_credential(&self, credential: &str) -> usize {
        if let Some(shared) = &self.shared {
            // The authority's sweep ends them on every node.
            shared.sweep_soon();
            return 0;
        }
        let now = Instant::now();
        let mut state = self.lock();
        let ids: Vec<String> = state
            .active
            .values()
            .chain(state.waiting.values().flatten())
            .filter(|e| e.credential.as_deref() == Some(credential))
            .map(|e| e.intent.id.clone())
            .collect();
        let mut rows = Vec::new();
        for id in &ids {
            if let Some(entry) = state.remove(id) {
                self.emit(BoardEventKind::Released, &entry, None);
                rows.push(row_key(&entry.intent.target));
            }
        }
        rows.sort();
        rows.dedup();
        for row in &rows {
            state.grant_waiters(row, now, &self.events);
        }
        ids.len()
    }

    /// Every active intent (claims included) with its row's groups: what a
    /// subscriber is shown on `subscribe`, so a late joiner sees who works
    /// on what.
    pub fn snapshot(&self) -> Vec<(Intent, Vec<String>)> {
        let mut state = self.lock();
        state.expire_lapsed(Instant::now(), &self.events);
        state
            .active
            .values()
            .map(|e| (e.intent.clone(), e.sync_groups.clone()))
            .collect()
    }

    /// How many intents and claims (active or waiting) the board holds.
    pub fn len(&self) -> usize {
        let state = self.lock();
        state.active.len() + state.waiting_row.len()
    }

    /// Whether the board holds no intent.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn emit(&self, kind: BoardEventKind, entry: &Entry, position: Option<usize>) {
        emit(&self.events, kind, entry, position);
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, BoardState> {
        // A panic while holding the lock leaves plain data behind; keep going.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
#[path = "board_tests.rs"]
mod tests;
