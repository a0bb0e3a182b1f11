//! The state every request handler shares.

use std::sync::{Arc, RwLock};

use ablo_runtime::SchemaDescriptor;
use tokio::sync::watch;

use crate::auth::ApiKeys;
use crate::config::ServerConfig;
use crate::coordination::{IntentBoard, PresenceBoard};
use crate::error::ApiError;
use crate::fanout::Hub;
use crate::group_commit::GroupCommitter;
use crate::storage::{Storage, StorageError};

pub(crate) struct AppState {
    pub config: ServerConfig,
    pub storage: Arc<dyn Storage>,
    /// Seals list cursors.
    pub cursors: crate::cursor::CursorSeal,
    pub schema: RwLock<Option<Arc<SchemaDescriptor>>>,
    pub keys: ApiKeys,
    /// Capabilities by token hash, and their revocation signal.
    pub capabilities: crate::capability::Capabilities,
    /// Requests per credential.
    pub rate_limiter: crate::rate_limit::RateLimiter,
    pub committer: GroupCommitter,
    pub hub: Hub,
    /// Active intents, claims and their wait lines.
    pub intents: Arc<IntentBoard>,
    /// Who is viewing or editing what, per live connection.
    pub presence: Arc<PresenceBoard>,
    /// Data Sources, by name and by model.
    pub sources: crate::sources::Sources,
    /// The HTTP client Data Source requests go through.
    pub source_http: reqwest::Client,
    /// The series of `GET /metrics`.
    pub metrics: crate::metrics::Metrics,
    /// Open WebSockets per credential (capability id or API key id).
    pub sockets: std::sync::Mutex<std::collections::HashMap<String, usize>>,
    /// Turns `true` when the server starts shutting down.
    pub shutdown: watch::Receiver<bool>,
    /// Bounds the storage calls running at once (see [`AppState::storage`]).
    pub storage_calls: tokio::sync::Semaphore,
}

/// Storage calls that may run at once: as many as the store has read
/// connections. A call past it waits as a parked task (a few hundred bytes)
/// instead of as a blocked thread (its stack, plus the thread the runtime
/// keeps alive afterwards), which is what a thousand replaying subscribers
/// would otherwise cost.
pub(crate) const STORAGE_CALLS_AT_ONCE: usize = 16;

impl AppState {
    /// The schema in force.
    pub fn schema(&self) -> Option<Arc<SchemaDescriptor>> {
        self.schema.read().expect("schema lock").clone()
    }

    /// Runs a blocking storage call off the async threads.
    pub async fn storage<T: Send + 'static>(
        &self,
        call: impl FnOnce(&dyn Storage) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let _slot = self
            .storage_calls
            .acquire()
            .await
            .map_err(|_| ApiError::unavailable())?;
        let storage = self.storage.clone();
        let joined = tokio::task::spawn_blocking(move || call(storage.as_ref())).await;
        match joined {
            Ok(result) => Ok(result?),
            Err(err) => {
                tracing::error!(error = %err, "storage task failed");
                Err(ApiError::internal())
            }
        }
    }
}

pub(crate) type SharedState = Arc<AppState>;
