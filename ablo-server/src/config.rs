//! [`ServerConfig`]: everything a server needs to start, with sensible
//! defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How to run a server. Build it with [`ServerConfig::new`] and adjust the
/// public fields or the `with_*` helpers.
///
/// ```
/// use ablo_server::ServerConfig;
/// let config = ServerConfig::new("./ablo-data")
///     .with_addr("127.0.0.1:0".parse().unwrap())
///     .with_api_key("sk_test_0123456789abcdef");
/// assert_eq!(config.addr.port(), 0);
/// assert_eq!(config.body_limit, 1024 * 1024);
/// ```
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port (see
    /// `RunningServer::addr`). Default `127.0.0.1:7700`.
    pub addr: SocketAddr,
    /// Drop commits older than this from the sync log (a client with an
    /// older cursor gets a snapshot). Default: keep every commit.
    pub log_retention: Option<Duration>,
    /// Keep at most this many of the newest commits in the sync log.
    /// Default: no limit.
    pub log_retention_commits: Option<u64>,
    /// How often retention runs. Default 10 s.
    pub log_compact_interval: Duration,
    /// Where the data lives: a directory for the embedded SQLite store
    /// (created if missing), or a PostgreSQL database that several nodes
    /// share.
    pub storage: crate::storage::StorageLocation,
    /// A bootstrap API key (`sk_test_...` or `sk_live_...`) accepted in
    /// addition to stored ones. Without it, and with no stored key, the
    /// server creates one (see `RunningServer::api_key`).
    pub api_key: Option<String>,
    /// Largest request body in bytes; larger bodies get 413. Default 1 MiB.
    pub body_limit: usize,
    /// Most operations in one commit. Default 1000.
    pub max_operations: usize,
    /// Most commits written in one group transaction. Default 512.
    pub max_group_size: usize,
    /// Commits kept for WebSocket subscribers that fall behind; one further
    /// behind is told to resync over HTTP. Default 1024.
    pub ws_backlog: usize,
    /// Interval of the server's WebSocket `ping` messages. Default 20 s.
    pub ws_ping_interval: Duration,
    /// Largest WebSocket message of one commit kept in the live ring
    /// (`ws_backlog` commits); a larger commit is read from the log by each
    /// subscriber instead. Default 64 KiB.
    pub ws_inline_limit: usize,
    /// How long a new WebSocket connection may take to send `subscribe`
    /// before it is refused and closed. Default 30 s.
    pub ws_subscribe_timeout: Duration,
    /// How long one WebSocket send may wait on a client that does not read
    /// before the connection is dropped. Default 10 s.
    pub ws_send_timeout: Duration,
    /// How long idempotency records are kept. Default 24 h.
    pub idempotency_retention: Duration,
    /// How long a Data Source's applied event ids and the ids of commits
    /// sent to it are kept (a duplicate delivered later is applied again).
    /// Default 7 days.
    pub source_record_retention: Duration,
    /// Time between runs of record expiry (idempotency and Data Source
    /// records). Default 10 min.
    pub record_purge_interval: Duration,
    /// Snapshots (of WebSocket subscribers without a usable cursor and of
    /// `GET /v1/sync/snapshot`) read at once; more wait their turn.
    /// Default 4.
    pub max_concurrent_snapshots: usize,
    /// Largest page of `GET /v1/models/{model}` and `/v1/sync/deltas`.
    /// Default 1000.
    pub max_page_size: usize,
    /// Requests allowed per credential (API key or capability); `None`
    /// (the default) for no limit. See [`RateLimit`](crate::rate_limit::RateLimit).
    pub rate_limit: Option<crate::rate_limit::RateLimit>,
    /// Requests allowed per capability when [`ServerConfig::rate_limit`] is
    /// not set: on by default, 200 per second with bursts of 400, so no
    /// agent or browser can flood the server however buggy it is. `None`
    /// turns it off.
    pub capability_rate_limit: Option<crate::rate_limit::RateLimit>,
    /// Browser origins answered with CORS headers (`https://app.example`,
    /// or `*`); none by default.
    pub allowed_origins: Vec<String>,
    /// Most open connections (HTTP and WebSocket together). Default 10 000.
    pub max_connections: usize,
    /// Longest a client may take to send a request's headers. Default 10 s.
    pub header_read_timeout: Duration,
    /// Most WebSockets open at once per credential. Default 64.
    pub max_ws_per_credential: usize,
    /// Messages per second a WebSocket client may send (presence, pings),
    /// with bursts of twice as many. Default 50.
    pub ws_messages_per_second: u32,
    /// Most bytes of JSON in one list page, delta page or replay message
    /// (one row or commit larger than this is still sent, alone). Default
    /// 4 MiB for pages, a quarter of it for replay messages.
    pub max_page_bytes: usize,
    /// How requests to Data Sources are retried and timed out.
    pub source_retry: crate::sources::call::SourceRetry,
    /// How often Data Sources are polled for events. Default 1 s.
    pub source_poll_interval: Duration,
    /// Intent leases and claim wait lines (default: 30 s leases, at most
    /// 600 s, 256 waiters per row).
    pub coordination: crate::coordination::BoardConfig,
}

impl ServerConfig {
    /// Defaults, storing data in `data_dir`.
    ///
    /// ```
    /// let c = ablo_server::ServerConfig::new("./ablo-data");
    /// assert_eq!(c.addr.to_string(), "127.0.0.1:7700");
    /// assert!(c.api_key.is_none());
    /// ```
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        ServerConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 7700)),
            storage: crate::storage::StorageLocation::Directory(data_dir.into()),
            log_retention: None,
            log_retention_commits: None,
            log_compact_interval: Duration::from_secs(10),
            api_key: None,
            body_limit: 1024 * 1024,
            max_operations: 1000,
            max_group_size: 512,
            ws_backlog: 1024,
            ws_ping_interval: Duration::from_secs(20),
            ws_inline_limit: 64 * 1024,
            ws_subscribe_timeout: Duration::from_secs(30),
            ws_send_timeout: Duration::from_secs(10),
            idempotency_retention: Duration::from_secs(24 * 60 * 60),
            source_record_retention: Duration::from_secs(7 * 24 * 60 * 60),
            record_purge_interval: Duration::from_secs(600),
            max_concurrent_snapshots: 4,
            max_page_size: 1000,
            rate_limit: None,
            capability_rate_limit: Some(
                crate::rate_limit::RateLimit::per_second(200).with_burst(400),
            ),
            allowed_origins: Vec::new(),
            max_connections: 10_000,
            header_read_timeout: Duration::from_secs(10),
            max_ws_per_credential: 64,
            ws_messages_per_second: 50,
            max_page_bytes: 4 * 1024 * 1024,
            source_retry: crate::sources::call::SourceRetry::default(),
            source_poll_interval: Duration::from_secs(1),
            coordination: crate::coordination::BoardConfig::default(),
        }
    }

    /// Keeps the data at `location` instead (for example a PostgreSQL
    /// database shared by several nodes).
    ///
    /// ```
    /// use ablo_server::storage::StorageLocation;
    /// let url = StorageLocation::parse("postgres://ablo@db/ablo").unwrap();
    /// let c = ablo_server::ServerConfig::new("unused").with_storage(url);
    /// assert_eq!(c.storage.backend(), "postgres");
    /// ```
    pub fn with_storage(mut self, location: crate::storage::StorageLocation) -> Self {
        self.storage = location;
        self
    }

    /// Sets the listen address.
    ///
    /// ```
    /// let c = ablo_server::ServerConfig::new("d").with_addr("0.0.0.0:8080".parse().unwrap());
    /// assert_eq!(c.addr.port(), 8080);
    /// ```
    pub fn with_addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Sets the bootstrap API key.
    ///
    /// ```
    /// let c = ablo_server::ServerConfig::new("d").with_api_key("sk_test_0123456789abcdef");
    /// assert!(c.api_key.is_some());
    /// ```
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Limits requests per credential.
    ///
    /// ```
    /// let c = ablo_server::ServerConfig::new("d").with_rate_limit(ablo_server::RateLimit::per_second(10));
    /// assert_eq!(c.rate_limit.unwrap().per_second.get(), 10);
    /// ```
    pub fn with_rate_limit(mut self, limit: crate::rate_limit::RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Sets the body limit in bytes.
    ///
    /// ```
    /// let c = ablo_server::ServerConfig::new("d").with_body_limit(4096);
    /// assert_eq!(c.body_limit, 4096);
    /// ```
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }
}
