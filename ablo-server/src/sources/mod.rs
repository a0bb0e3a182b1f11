//! Data Sources: models backed by a customer's own database behind a signed
//! HTTP endpoint (DESIGN section 5, the seed's `docs/data-sources.md`).
//!
//! For a source-backed model the server keeps a mirror of the rows in its
//! own store, so stamps, stale checks, the sync log, fan-out and audit work
//! exactly as for Ablo-managed rows, while the source's database stays
//! canonical:
//!
//! - [`commit`]: a write is checked (auth, intents, staleness, idempotency)
//!   against the mirror, sent to the source as a signed `commit`, and the
//!   canonical rows it answers are written to the mirror through the
//!   ordinary commit pipeline;
//! - [`reads`]: `retrieve` and `list` ask the source (`load`, `list`) and
//!   bring the mirror up to date before answering;
//! - [`events`]: changes made outside Ablo arrive polled (`events`) or
//!   pushed (`POST /v1/sources/{name}/events`), are de-duplicated by event
//!   id, and dropped as echoes when their `clientTxId` is one of Ablo's own
//!   commits;
//! - [`call`]: signing ([`ablo_runtime::signing`]), retries with backoff on
//!   network errors and 5xx, and the per-source status.
//!
//! Every change to the mirror happens under [`locks`]: a commit holds the
//! rows it writes (commits on other rows go on side by side), so a stale
//! check made before calling the source still holds when its answer is
//! written; a list or an events poll holds the whole source from the
//! request to the write, so its answer is never older than the mirror.
//!
//! None of it sees the server's state: what it uses is a
//! [`SourceContext`], built by the caller.

pub(crate) mod address;
pub(crate) mod call;
pub(crate) mod commit;
pub(crate) mod events;
pub(crate) mod locks;
pub(crate) mod reads;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use ablo_runtime::wire::{SourceFailure, SourceStatus};
use ablo_runtime::{Json, Timestamp};
use tokio::sync::Notify;

use crate::group_commit::GroupCommitter;
use crate::schema::SchemaSlot;
use crate::storage::SourceRecord;
use crate::store::Store;

/// What Data Source reads, commits and polls use of the server: shared
/// handles, cheap to clone.
#[derive(Clone)]
pub(crate) struct SourceContext {
    /// The store the mirror lives in.
    pub store: Store,
    /// The writer the source's canonical rows are committed through.
    pub committer: Arc<GroupCommitter>,
    /// The schema in force.
    pub schema: Arc<SchemaSlot>,
    /// Every configured source.
    pub sources: Arc<Sources>,
    /// The HTTP client source requests go through.
    pub http: reqwest::Client,
    /// Retries of a source request.
    pub retry: call::SourceRetry,
    /// `source_calls_total`, by source and result.
    pub calls: prometheus::IntCounterVec,
}

/// Every configured source, by name and by the models it backs.
#[derive(Default)]
pub(crate) struct Sources {
    by_name: RwLock<HashMap<String, Arc<Source>>>,
}

impl Sources {
    /// The sources stored at start.
    pub(crate) fn load(records: Vec<SourceRecord>) -> Sources {
        let sources = Sources::default();
        for record in records {
            sources.put(record);
        }
        sources
    }

    /// The source named `name`.
    pub(crate) fn get(&self, name: &str) -> Option<Arc<Source>> {
        self.by_name.read().expect("sources").get(name).cloned()
    }

    /// The source backing `model`, if one does.
    pub(crate) fn for_model(&self, model: &str) -> Option<Arc<Source>> {
        self.by_name
            .read()
            .expect("sources")
            .values()
            .find(|source| source.backs(model))
            .cloned()
    }

    /// Every source.
    pub(crate) fn all(&self) -> Vec<Arc<Source>> {
        self.by_name
            .read()
            .expect("sources")
            .values()
            .cloned()
            .collect()
    }

    /// Adds a source or replaces its configuration (status and lock are
    /// kept); a changed configuration is polled for events again.
    pub(crate) fn put(&self, record: SourceRecord) -> Arc<Source> {
        let mut by_name = self.by_name.write().expect("sources");
        match by_name.get(&record.name) {
            Some(source) => {
                *source.record.write().expect("source record") = record;
                source
                    .status
                    .lock()
                    .expect("source status")
                    .events_supported = true;
                source.wake.notify_one();
                source.clone()
            }
            None => {
                let source = Arc::new(Source::new(record));
                by_name.insert(source.name.clone(), source.clone());
                source
            }
        }
    }

    /// Names of other sources already backing any of `models`.
    pub(crate) fn claimed_elsewhere(&self, name: &str, models: &[String]) -> Vec<String> {
        self.by_name
            .read()
            .expect("sources")
            .values()
            .filter(|source| source.name != name)
            .flat_map(|source| {
                let record = source.record();
                models
                    .iter()
                    .filter(|m| record.models.contains(m))
                    .map(|m| format!("{m} (source {})", record.name))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// One Data Source: its configuration, its lock and its status.
pub(crate) struct Source {
    pub name: String,
    record: RwLock<SourceRecord>,
    /// Held while the mirror of this source's models changes.
    pub locks: locks::MirrorLocks,
    status: Mutex<StatusState>,
    /// Wakes the events poller early (new configuration).
    pub wake: Notify,
}

struct StatusState {
    last_success_at: Option<Timestamp>,
    last_error: Option<SourceFailure>,
    attempts: u64,
    failures: u64,
    events_supported: bool,
}

impl Source {
    fn new(record: SourceRecord) -> Source {
        Source {
            name: record.name.clone(),
            record: RwLock::new(record),
            locks: locks::MirrorLocks::default(),
            status: Mutex::new(StatusState {
                last_success_at: None,
                last_error: None,
                attempts: 0,
                failures: 0,
                events_supported: true,
            }),
            wake: Notify::new(),
        }
    }

    /// The current configuration.
    pub(crate) fn record(&self) -> SourceRecord {
        self.record.read().expect("source record").clone()
    }

    /// Whether the source backs `model`.
    pub(crate) fn backs(&self, model: &str) -> bool {
        self.record
            .read()
            .expect("source record")
            .models
            .iter()
            .any(|m| m == model)
    }

    /// Remembers where the next events poll continues.
    pub(crate) fn set_events_cursor(&self, cursor: Json) {
        self.record.write().expect("source record").events_cursor = cursor;
    }

    /// Whether `events` requests are answered.
    pub(crate) fn events_supported(&self) -> bool {
        self.status.lock().expect("source status").events_supported
    }

    /// The source answered `events` with a 4xx: stop polling until the
    /// configuration changes.
    pub(crate) fn events_unsupported(&self) {
        self.status.lock().expect("source status").events_supported = false;
    }

    pub(crate) fn record_attempt(&self, outcome: Result<(), SourceFailure>) {
        let mut status = self.status.lock().expect("source status");
        status.attempts += 1;
        match outcome {
            Ok(()) => status.last_success_at = Some(Timestamp::now()),
            Err(failure) => {
                status.failures += 1;
                status.last_error = Some(failure);
            }
        }
    }

    /// `GET /v1/sources/{name}/status`.
    pub(crate) fn status(&self) -> SourceStatus {
        let status = self.status.lock().expect("source status");
        SourceStatus {
            name: self.name.clone(),
            last_success_at: status.last_success_at,
            last_error: status.last_error.clone(),
            attempts: status.attempts,
            failures: status.failures,
            events_cursor: self.record().events_cursor,
            events_supported: status.events_supported,
        }
    }
}
