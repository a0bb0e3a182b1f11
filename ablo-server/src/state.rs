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
    /// The threads [`AppState::storage`] calls run on.
    pub storage_threads: StorageThreads,
}

/// A fixed set of threads for storage calls, as many as the store has read
/// connections. A call past it waits in a queue (a boxed closure) instead
/// of as one more blocked thread: on the runtime's shared blocking pool a
/// thousand replaying subscribers grew the pool to dozens of threads, each
/// keeping its stack and allocator cache for ten seconds after its call.
pub(crate) struct StorageThreads {
    /// Only its blocking pool is used; it is never driven.
    runtime: Option<tokio::runtime::Runtime>,
}

impl StorageThreads {
    /// Storage calls that may run at once.
    pub const COUNT: usize = 16;

    pub fn new() -> std::io::Result<StorageThreads> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .max_blocking_threads(Self::COUNT)
            .thread_keep_alive(std::time::Duration::from_secs(60))
            .thread_name("ablo-storage")
            .build()?;
        Ok(StorageThreads {
            runtime: Some(runtime),
        })
    }

    fn spawn<T: Send + 'static>(
        &self,
        call: impl FnOnce() -> T + Send + 'static,
    ) -> tokio::task::JoinHandle<T> {
        self.runtime
            .as_ref()
            .expect("storage threads until dropped")
            .spawn_blocking(call)
    }
}

impl Drop for StorageThreads {
    fn drop(&mut self) {
        // The state may be dropped on an async thread, where a runtime may
        // not block; running calls finish on their own.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

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
        let storage = self.storage.clone();
        let joined = self
            .storage_threads
            .spawn(move || call(storage.as_ref()))
            .await;
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
