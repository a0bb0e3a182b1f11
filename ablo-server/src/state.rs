//! The state every request handler shares: the composition of every
//! service the server runs. Most handlers take it whole; a handler that
//! needs one part takes that part as a `FromRef` substate (the agent-run
//! handlers take [`Store`], the read handlers [`Reads`]). The domain
//! services never take it: each gets the few handles it uses, built here
//! ([`AppState::source_context`], [`AppState::coordination_context`],
//! [`AppState::reads`]).

use std::sync::Arc;

use ablo_runtime::SchemaDescriptor;
use tokio::sync::watch;

use crate::auth::ApiKeys;
use crate::config::ServerConfig;
use crate::coordination::{CoordinationContext, IntentBoard, PresenceBoard};
use crate::error::ApiError;
use crate::fanout::Hub;
use crate::group_commit::GroupCommitter;
use crate::reads::{PageLimits, Reads};
use crate::schema::SchemaSlot;
use crate::sources::{SourceContext, Sources};
use crate::storage::{Storage, StorageError};
use crate::store::Store;

pub(crate) struct AppState {
    pub config: ServerConfig,
    /// The store, and the threads its calls run on.
    pub store: Store,
    /// Seals list cursors.
    pub cursors: Arc<crate::cursor::CursorSeal>,
    /// The schema in force.
    pub schema: Arc<SchemaSlot>,
    pub keys: ApiKeys,
    /// Capabilities by token hash, and their revocation signal.
    pub capabilities: Arc<crate::capability::Capabilities>,
    /// Requests per credential.
    pub rate_limiter: crate::rate_limit::RateLimiter,
    pub committer: Arc<GroupCommitter>,
    pub hub: Hub,
    /// Bounds the snapshots read at once.
    pub snapshot_gate: crate::snapshot::Gate,
    /// Active intents, claims and their wait lines.
    pub intents: Arc<IntentBoard>,
    /// Who is viewing or editing what, per live connection.
    pub presence: Arc<PresenceBoard>,
    /// Data Sources, by name and by model.
    pub sources: Arc<Sources>,
    /// The HTTP client Data Source requests go through.
    pub source_http: reqwest::Client,
    /// The series of `GET /metrics`.
    pub metrics: crate::metrics::Metrics,
    /// Open WebSockets per credential (capability id or API key id).
    pub sockets: std::sync::Mutex<std::collections::HashMap<String, usize>>,
    /// Turns `true` when the server starts shutting down.
    pub shutdown: watch::Receiver<bool>,
}

impl AppState {
    /// The schema in force.
    pub fn schema(&self) -> Option<Arc<SchemaDescriptor>> {
        self.schema.get()
    }

    /// Runs a blocking storage call off the async threads.
    pub async fn storage<T: Send + 'static>(
        &self,
        call: impl FnOnce(&dyn Storage) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, ApiError> {
        Ok(self.store.call(call).await?)
    }

    /// What Data Source reads, commits and polls use.
    pub fn source_context(&self) -> SourceContext {
        SourceContext {
            store: self.store.clone(),
            committer: self.committer.clone(),
            schema: self.schema.clone(),
            sources: self.sources.clone(),
            http: self.source_http.clone(),
            retry: self.config.source_retry,
            calls: self.metrics.source_calls.clone(),
        }
    }

    /// The read service: rows, log pages and snapshots.
    pub fn reads(&self) -> Reads {
        Reads::new(
            self.store.clone(),
            self.schema.clone(),
            self.cursors.clone(),
            self.intents.clone(),
            self.source_context(),
            PageLimits {
                max_page_size: self.config.max_page_size,
                max_page_bytes: self.config.max_page_bytes,
            },
            self.snapshot_gate.clone(),
        )
    }

    /// What the intent board's timers and the shared-store follower use.
    pub fn coordination_context(&self) -> CoordinationContext {
        CoordinationContext {
            store: self.store.clone(),
            intents: self.intents.clone(),
            presence: self.presence.clone(),
            shutdown: self.shutdown.clone(),
        }
    }
}

pub(crate) type SharedState = Arc<AppState>;

/// Lets a handler take only the store as its state
/// (`State(store): State<Store>`) instead of the whole server state.
impl axum::extract::FromRef<SharedState> for Store {
    fn from_ref(state: &SharedState) -> Store {
        state.store.clone()
    }
}

/// Lets a read handler take the read service as its state
/// (`State(reads): State<Reads>`).
impl axum::extract::FromRef<SharedState> for Reads {
    fn from_ref(state: &SharedState) -> Reads {
        state.reads()
    }
}
