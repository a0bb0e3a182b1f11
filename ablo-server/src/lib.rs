#![warn(missing_docs)]
//! The Ablo sync server: the HTTP and WebSocket API of `docs/protocol.md`,
//! the commit pipeline ([`commit`](crate) stages: authenticate, validate,
//! idempotency, stale check, apply, sync id, log, fan out), storage on
//! embedded SQLite with group commit, and live fan-out by sync group.
//!
//! Run it with the `ablo-server serve` binary, or embed it:
//!
//! ```no_run
//! # async fn demo() -> Result<(), ablo_server::StartError> {
//! let dir = std::env::temp_dir().join("ablo-embedded");
//! let config = ablo_server::ServerConfig::new(&dir).with_addr("127.0.0.1:0".parse().unwrap());
//! let server = ablo_server::start(config).await?;
//! println!("listening on {} with key {:?}", server.url(), server.api_key());
//! server.shutdown().await?;
//! # Ok(()) }
//! ```

pub mod agent_runs;
pub mod audit;
pub mod auth;
pub mod capability;
mod commit;
mod config;
pub mod coordination;
mod cursor;
mod error;
mod extract;
mod fanout;
mod group_commit;
mod http;
mod listener;
mod log_follower;
mod metrics;
mod openapi;
mod pipeline;
mod rate_limit;
mod reads;
mod retention;
pub mod schema;
mod scope;
mod shared_state;
mod snapshot;
mod sources;
mod state;
pub mod storage;
mod store;
pub mod transfer;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::watch;

pub use config::ServerConfig;
pub use error::{ApiError, Refusal};
pub use openapi::openapi_document;
pub use rate_limit::RateLimit;
pub use sources::call::SourceRetry;

use crate::auth::ApiKeys;
use crate::fanout::Hub;
use crate::group_commit::GroupCommitter;
use crate::state::AppState;
use crate::storage::{Storage, StorageError};

/// Why a server could not start or stop cleanly.
///
/// ```
/// let err = ablo_server::StartError::InvalidApiKey;
/// assert!(err.to_string().contains("sk_test_"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory or database could not be opened.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The address could not be bound, or a task failed.
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
    /// The bootstrap API key has the wrong shape.
    #[error(
        "the bootstrap API key must be `sk_test_` or `sk_live_` followed by at least 16 letters, digits or `_`"
    )]
    InvalidApiKey,
}

/// A server started with [`start`]: its address, its key, and a way to stop
/// it. Dropping it also starts a shutdown, without waiting.
///
/// ```no_run
/// # async fn demo(server: ablo_server::RunningServer) {
/// let health = format!("{}/v1/health", server.url());
/// # let _ = health;
/// server.shutdown().await.unwrap();
/// # }
/// ```
pub struct RunningServer {
    addr: SocketAddr,
    api_key: Option<String>,
    shutdown: watch::Sender<bool>,
    serve: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    state: Arc<AppState>,
    writer: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// The address the server listens on (the real port when configured
    /// with port 0).
    ///
    /// ```no_run
    /// # async fn demo(server: ablo_server::RunningServer) {
    /// assert_ne!(server.addr().port(), 0);
    /// # }
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    ///
    /// ```no_run
    /// # async fn demo(server: ablo_server::RunningServer) {
    /// assert!(server.url().starts_with("http://"));
    /// # }
    /// ```
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bootstrap key from the configuration, or the key generated on
    /// first start; `None` when the data directory already held keys and
    /// none was configured.
    ///
    /// ```no_run
    /// # async fn demo(server: ablo_server::RunningServer) {
    /// if let Some(key) = server.api_key() {
    ///     println!("Authorization: Bearer {key}");
    /// }
    /// # }
    /// ```
    pub fn api_key(&self) -> Option<&str> {
        self.api_key.as_deref()
    }

    /// Resolves if the commit writer dies (a panic in storage code): the
    /// `serve` binary then exits non-zero so a supervisor restarts it.
    ///
    /// ```no_run
    /// # async fn demo(server: ablo_server::RunningServer) {
    /// server.writer_died().await;
    /// std::process::exit(70);
    /// # }
    /// ```
    pub async fn writer_died(&self) {
        self.state.committer.died().await
    }

    /// Stops accepting connections, lets in-flight requests and queued
    /// commits finish, closes WebSocket subscribers and waits for the
    /// writer to stop.
    ///
    /// ```no_run
    /// # async fn demo(server: ablo_server::RunningServer) {
    /// server.shutdown().await.expect("clean shutdown");
    /// # }
    /// ```
    pub async fn shutdown(mut self) -> Result<(), StartError> {
        let _ = self.shutdown.send(true);
        if let Some(serve) = self.serve.take() {
            serve.await.map_err(std::io::Error::other)??;
        }
        self.state.committer.stop().await;
        if let Some(writer) = self.writer.take() {
            tokio::task::spawn_blocking(move || writer.join())
                .await
                .map_err(std::io::Error::other)?
                .map_err(|_| std::io::Error::other("commit writer panicked"))?;
        }
        Ok(())
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// Opens the data directory, loads or creates API keys and the schema,
/// starts the commit writer and listens.
///
/// ```no_run
/// # async fn demo() {
/// let config = ablo_server::ServerConfig::new("./ablo-data")
///     .with_addr("127.0.0.1:0".parse().unwrap())
///     .with_api_key("sk_test_0123456789abcdef");
/// let server = ablo_server::start(config).await.expect("server starts");
/// assert_eq!(server.api_key(), Some("sk_test_0123456789abcdef"));
/// # }
/// ```
pub async fn start(config: ServerConfig) -> Result<RunningServer, StartError> {
    check_config(&config)?;
    let location = config.storage.clone();
    // Every storage call blocks (the PostgreSQL driver runs its own
    // runtime), so opening runs on a blocking thread.
    let storage = tokio::task::spawn_blocking(move || storage::open(&location))
        .await
        .map_err(std::io::Error::other)??;
    start_with_storage(config, storage).await
}

/// Starts a server on a store opened by the caller instead of the one
/// `config` names: a [`Storage`] of your own (one that wraps a backend to
/// add tracing or fault injection, say). Everything else is as
/// [`start`] does it.
///
/// ```no_run
/// # async fn demo() {
/// use std::sync::Arc;
/// let dir = std::path::Path::new("./ablo-data");
/// let storage = ablo_server::storage::SqliteStorage::open(dir).expect("store opens");
/// let config = ablo_server::ServerConfig::new(dir).with_addr("127.0.0.1:0".parse().unwrap());
/// let server = ablo_server::start_with_storage(config, Arc::new(storage))
///     .await
///     .expect("server starts");
/// # let _ = server;
/// # }
/// ```
pub async fn start_with_storage(
    config: ServerConfig,
    storage: Arc<dyn Storage>,
) -> Result<RunningServer, StartError> {
    check_config(&config)?;
    let bootstrap_key = config.api_key.clone();
    let loaded = tokio::task::spawn_blocking(move || load(storage, bootstrap_key))
        .await
        .map_err(std::io::Error::other)??;
    let Loaded {
        storage,
        keys,
        api_key,
        capabilities,
        sources,
        schema,
        list_cursor_secret,
        head,
    } = loaded;
    let rate_limiter =
        rate_limit::RateLimiter::new(config.rate_limit, config.capability_rate_limit);
    let metrics = metrics::Metrics::new();
    let cursors = cursor::CursorSeal::new(&list_cursor_secret);
    let hub = Hub::new(config.ws_backlog, config.ws_inline_limit, head);
    let (committer, writer) = GroupCommitter::start(
        storage.clone(),
        hub.clone(),
        config.max_group_size,
        metrics.group_size.clone(),
    )?;
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let intents = Arc::new(coordination::IntentBoard::for_storage(
        config.coordination.clone(),
        storage.as_ref(),
    ));
    let presence = Arc::new(coordination::PresenceBoard::new(4096));
    let snapshot_gate = snapshot::Gate::new(
        config.max_concurrent_snapshots,
        metrics.snapshots_waiting.clone(),
    );
    let state = Arc::new(AppState {
        intents,
        presence,
        config,
        store: store::Store::new(storage)?,
        cursors: Arc::new(cursors),
        capabilities: Arc::new(capabilities),
        schema: Arc::new(schema::SchemaSlot::new(schema)),
        keys,
        rate_limiter,
        committer: Arc::new(committer),
        hub,
        snapshot_gate,
        sources: Arc::new(sources),
        source_http: sources::address::source_client(),
        sockets: Default::default(),
        metrics,
        shutdown: shutdown_rx.clone(),
    });
    tokio::spawn(expire_records(state.clone()));
    tokio::spawn(reload_api_keys(state.clone()));
    tokio::spawn(end_revoked_intents(state.clone()));
    tokio::spawn(coordination::run_board_timers(state.coordination_context()));
    tokio::spawn(sources::events::poll(
        state.source_context(),
        state.config.source_poll_interval,
        state.shutdown.clone(),
    ));
    tokio::spawn(log_follower::run(
        state.store.clone(),
        state.hub.clone(),
        shutdown_rx.clone(),
    ));
    tokio::spawn(retention::run(
        state.store.clone(),
        state.config.log_retention,
        state.config.log_retention_commits,
        state.config.log_compact_interval,
        state.metrics.compacted.clone(),
        shutdown_rx.clone(),
    ));
    if state.store.backend().is_shared() {
        tokio::spawn(shared_state::follow(
            state.store.clone(),
            state.capabilities.clone(),
            state.schema.clone(),
            state.sources.clone(),
            shutdown_rx.clone(),
        ));
    }
    let router = http::router(state.clone());
    let limits = listener::ConnectionLimits {
        max_connections: state.config.max_connections,
        header_read_timeout: state.config.header_read_timeout,
    };
    let serve = tokio::spawn(listener::serve(listener, router, limits, shutdown_rx));
    tracing::info!(%addr, "ablo-server listening");
    Ok(RunningServer {
        addr,
        api_key,
        shutdown,
        serve: Some(serve),
        state,
        writer: Some(writer),
    })
}

/// Refuses a configuration before anything is opened.
fn check_config(config: &ServerConfig) -> Result<(), StartError> {
    match &config.api_key {
        Some(key) if !auth::is_api_key_format(key) => Err(StartError::InvalidApiKey),
        _ => Ok(()),
    }
}

/// What the server reads from its store before it serves.
struct Loaded {
    storage: Arc<dyn Storage>,
    keys: ApiKeys,
    api_key: Option<String>,
    capabilities: capability::Capabilities,
    sources: sources::Sources,
    schema: Option<Arc<ablo_runtime::SchemaDescriptor>>,
    list_cursor_secret: Vec<u8>,
    head: ablo_runtime::SyncId,
}

fn load(storage: Arc<dyn Storage>, bootstrap_key: Option<String>) -> Result<Loaded, StorageError> {
    let keys = ApiKeys::default();
    for record in storage.api_keys()? {
        keys.insert(record);
    }
    let api_key = match bootstrap_key {
        Some(key) => Some(key),
        None if keys.is_empty() => Some(auth::generate_key()),
        None => None,
    };
    if let Some(key) = &api_key {
        let record = auth::record_for(key, "bootstrap");
        storage.put_api_key(&record)?;
        keys.insert(record);
    }
    let capabilities = capability::Capabilities::default();
    let now = ablo_runtime::Timestamp::now();
    for mut record in storage.capabilities()? {
        // A key revoked while the server was stopped takes what it minted.
        if record.revoked_at.is_none() && !keys.contains_id(&record.created_by) {
            storage.revoke_capability(&record.id, now)?;
            record.revoked_at = Some(now);
        }
        capabilities.insert(record);
    }
    Ok(Loaded {
        sources: sources::Sources::load(storage.sources()?),
        schema: storage.schema()?.map(Arc::new),
        list_cursor_secret: storage.server_secret("list_cursor")?,
        head: storage.head()?,
        storage,
        keys,
        api_key,
        capabilities,
    })
}

/// Reloads the API keys four times a second, so keys created or revoked
/// with `ablo-server keys` while the server runs take effect within a
/// second: a revoked key's open WebSockets close, and the capabilities it
/// minted are revoked with it (their sessions close, their intents end).
async fn reload_api_keys(state: Arc<AppState>) {
    let mut shutdown = state.shutdown.clone();
    let mut every = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.wait_for(|stopping| *stopping) => return,
        }
        let records = match state.storage(|s| s.api_keys()).await {
            Ok(records) => records,
            Err(err) => {
                tracing::warn!(error = %err, "reloading API keys failed");
                continue;
            }
        };
        for key_id in state.keys.replace_all(records) {
            let now = ablo_runtime::Timestamp::now();
            state.intents.end_credential(&key_id);
            let minted = state.capabilities.revoke_minted_by(&key_id, now);
            tracing::info!(key = %key_id, capabilities = minted.len(), "API key revoked");
            let result = state
                .storage(move |s| {
                    for id in &minted {
                        s.revoke_capability(id, now)?;
                    }
                    Ok(())
                })
                .await;
            if let Err(err) = result {
                tracing::warn!(error = %err, "storing revocations failed");
            }
        }
    }
}

/// Ends the intents and claims of every revoked capability.
async fn end_revoked_intents(state: Arc<AppState>) {
    let mut revocations = state.capabilities.revocations();
    let mut shutdown = state.shutdown.clone();
    loop {
        tokio::select! {
            id = revocations.recv() => match id {
                Ok(id) => {
                    let ended = state.intents.end_credential(&id);
                    if ended > 0 {
                        tracing::info!(capability = %id, ended, "revoked capability's intents ended");
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            _ = shutdown.wait_for(|stopping| *stopping) => return,
        }
    }
}

/// Every `record_purge_interval`: deletes idempotency and Data Source
/// records past their retention and forgets capabilities that ended more
/// than a day ago.
async fn expire_records(state: Arc<AppState>) {
    let mut shutdown = state.shutdown.clone();
    let mut every = tokio::time::interval(state.config.record_purge_interval);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.wait_for(|stopping| *stopping) => return,
        }
        state.rate_limiter.shrink();
        if let Some(day_ago) = retention::ago(Duration::from_secs(24 * 60 * 60)) {
            let pruned = state.capabilities.prune_ended(day_ago);
            if pruned > 0 {
                tracing::info!(pruned, "capabilities ended a day ago forgotten in memory");
            }
        }
        let kinds: [(&str, Duration, PurgeFn); 2] = [
            (
                "idempotency",
                state.config.idempotency_retention,
                |s, before| s.purge_idempotency(before),
            ),
            (
                "Data Source event and commit",
                state.config.source_record_retention,
                |s, before| s.purge_source_records(before),
            ),
        ];
        for (records, retention, purge) in kinds {
            let Some(before) = retention::ago(retention) else {
                continue;
            };
            match state.storage(move |s| purge(s, before)).await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, records, "expired records removed"),
                Err(err) => tracing::warn!(error = %err, records, "record purge failed"),
            }
        }
    }
}

/// Removes one kind of record made before a time; returns how many went.
type PurgeFn = fn(&dyn Storage, ablo_runtime::Timestamp) -> Result<usize, StorageError>;
