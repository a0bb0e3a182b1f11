//! `ablo-server`: run the Ablo sync server.
//!
//! ```text
//! ablo-server serve --addr 127.0.0.1:7700 --data ./ablo-data
//! ablo-server serve --database postgres://ablo@db/ablo
//! ABLO_API_KEY=sk_... ablo-server schema push ablo.schema.json
//! ```

mod keys_cli;
mod migrate_cli;
mod schema_cli;
mod store_args;
mod transfer_cli;

use std::net::SocketAddr;
use std::process::ExitCode;

use ablo_server::ServerConfig;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// The Ablo sync server.
#[derive(Parser)]
#[command(name = "ablo-server", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP and WebSocket API (data in embedded SQLite, or in a
    /// PostgreSQL database shared by several nodes).
    Serve(Box<ServeArgs>),
    /// Apply the store's migrations and exit (`serve` also applies them).
    Migrate {
        #[command(flatten)]
        store: store_args::StoreArgs,
    },
    /// Create, list or revoke API keys.
    Keys {
        #[command(subcommand)]
        action: keys_cli::KeysAction,
    },
    /// Push a schema file to a running server, or print the one it holds.
    Schema {
        #[command(subcommand)]
        action: schema_cli::SchemaAction,
    },
    /// Write the whole store as a dump (line-delimited JSON) to stdout or
    /// a file, from one snapshot.
    Export(transfer_cli::ExportArgs),
    /// Read a dump into an empty store, in one transaction.
    Import(transfer_cli::ImportArgs),
    /// Copy a whole store into an empty one (say, SQLite to PostgreSQL).
    Copy(transfer_cli::CopyArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:7700")]
    addr: SocketAddr,
    #[command(flatten)]
    store: store_args::StoreArgs,
    /// A bootstrap API key (`sk_test_...`/`sk_live_...`). Without one,
    /// and with no key stored yet, a key is created and printed once.
    #[arg(long, env = "ABLO_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 1024 * 1024)]
    body_limit: usize,
    /// Log as JSON lines instead of text.
    #[arg(long)]
    json_logs: bool,
    /// Requests per second allowed per credential (API key or
    /// capability); no limit when absent.
    #[arg(long)]
    rate_limit: Option<u32>,
    /// Requests allowed at once per credential (default: the rate).
    #[arg(long, requires = "rate_limit")]
    rate_limit_burst: Option<u32>,
    /// Most participants waiting in one row's claim line.
    #[arg(long, default_value_t = 256)]
    claim_queue_depth: usize,
    /// Milliseconds between polls of each Data Source for events.
    #[arg(long, default_value_t = 1000)]
    source_poll_ms: u64,
    /// A browser origin allowed to call the server (CORS), e.g.
    /// `http://localhost:5173`; repeat for several, `*` for any.
    #[arg(long = "allow-origin")]
    allow_origins: Vec<String>,
    /// Most intents and claims one participant may hold.
    #[arg(long, default_value_t = 1000)]
    max_intents_per_participant: usize,
    /// Most active intents on one row.
    #[arg(long, default_value_t = 64)]
    max_intents_per_row: usize,
    /// Most open connections (HTTP and WebSocket).
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// Most WebSockets open at once per credential.
    #[arg(long, default_value_t = 64)]
    max_ws_per_credential: usize,
    /// Seconds a client may take to send its request headers.
    #[arg(long, default_value_t = 10)]
    header_read_timeout_secs: u64,
    /// Drop commits older than this many seconds from the sync log (a
    /// client with an older cursor gets a snapshot of the current rows).
    #[arg(long)]
    log_retention: Option<u64>,
    /// Keep at most this many of the newest commits in the sync log.
    #[arg(long)]
    log_retention_commits: Option<u64>,
    /// Milliseconds between runs of log retention.
    #[arg(long, default_value_t = 10_000)]
    log_compact_interval_ms: u64,
    /// Seconds a commit's idempotency record is kept (a retry after that
    /// is a new commit).
    #[arg(long, default_value_t = 24 * 60 * 60)]
    idempotency_retention: u64,
    /// Seconds a Data Source's applied event ids and sent commit ids are
    /// kept (an event delivered again after that is applied again).
    #[arg(long, default_value_t = 7 * 24 * 60 * 60)]
    source_event_retention: u64,
    /// Milliseconds between runs of idempotency and Data Source record
    /// expiry.
    #[arg(long, default_value_t = 600_000)]
    record_purge_interval_ms: u64,
    /// Snapshots read at once; more subscribers wait their turn.
    #[arg(long, default_value_t = 4)]
    max_concurrent_snapshots: usize,
    /// Requests per second per capability when `--rate-limit` is not set
    /// (0 turns the default limit off).
    #[arg(long, default_value_t = 200)]
    capability_rate_limit: u32,
}

impl ServeArgs {
    fn config(&self) -> Result<ServerConfig, String> {
        let mut config = ServerConfig::new(&self.store.data)
            .with_storage(self.store.location()?)
            .with_addr(self.addr)
            .with_body_limit(self.body_limit);
        if let Some(rate) = self.rate_limit {
            let limit = ablo_server::RateLimit::per_second(rate);
            config.rate_limit = Some(match self.rate_limit_burst {
                Some(burst) => limit.with_burst(burst),
                None => limit,
            });
        }
        config.coordination.max_queue_depth = self.claim_queue_depth.max(1);
        config.coordination.max_per_participant = self.max_intents_per_participant.max(1);
        config.coordination.max_per_row = self.max_intents_per_row.max(1);
        config.max_connections = self.max_connections.max(1);
        config.allowed_origins = self.allow_origins.clone();
        config.max_ws_per_credential = self.max_ws_per_credential.max(1);
        config.header_read_timeout =
            std::time::Duration::from_secs(self.header_read_timeout_secs.max(1));
        config.capability_rate_limit = (self.capability_rate_limit > 0).then(|| {
            ablo_server::RateLimit::per_second(self.capability_rate_limit)
                .with_burst(self.capability_rate_limit.saturating_mul(2))
        });
        config.source_poll_interval = std::time::Duration::from_millis(self.source_poll_ms.max(10));
        config.api_key = self.api_key.clone();
        config.log_retention = self.log_retention.map(std::time::Duration::from_secs);
        config.log_retention_commits = self.log_retention_commits;
        config.log_compact_interval =
            std::time::Duration::from_millis(self.log_compact_interval_ms.max(10));
        config.idempotency_retention = std::time::Duration::from_secs(self.idempotency_retention);
        config.source_record_retention =
            std::time::Duration::from_secs(self.source_event_retention);
        config.record_purge_interval =
            std::time::Duration::from_millis(self.record_purge_interval_ms.max(10));
        config.max_concurrent_snapshots = self.max_concurrent_snapshots.max(1);
        Ok(config)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match Cli::parse().command {
        Command::Serve(args) => *args,
        // The store's calls block: run them off the async threads.
        Command::Keys { action } => {
            return blocking(move || keys_cli::run(action)).await;
        }
        Command::Migrate { store } => return blocking(move || migrate_cli::run(&store)).await,
        Command::Schema { action } => return schema_cli::run(action).await,
        Command::Export(args) => return blocking(move || transfer_cli::export(args)).await,
        Command::Import(args) => return blocking(move || transfer_cli::import(args)).await,
        Command::Copy(args) => return blocking(move || transfer_cli::copy(args)).await,
    };
    let filter = EnvFilter::try_from_env("ABLO_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    if args.json_logs {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let configured_key = args.api_key.is_some();
    let config = match args.config() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("ablo-server: {message}");
            return ExitCode::from(2);
        }
    };
    let server = match ablo_server::start(config).await {
        Ok(server) => server,
        Err(err) => {
            eprintln!("ablo-server: {err}");
            return ExitCode::FAILURE;
        }
    };
    match server.api_key() {
        Some(key) if !configured_key => {
            println!("Created API key (shown once, store it): {key}");
        }
        _ => {}
    }
    println!("ablo-server listening on {}", server.url());
    tokio::select! {
        _ = wait_for_signal() => {}
        _ = server.writer_died() => {
            eprintln!("ablo-server: the commit writer stopped; exiting so a supervisor restarts the server");
            return ExitCode::from(70);
        }
    }
    tracing::info!("shutting down: finishing in-flight commits");
    match server.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ablo-server: shutdown: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn blocking(run: impl FnOnce() -> ExitCode + Send + 'static) -> ExitCode {
    tokio::task::spawn_blocking(run)
        .await
        .unwrap_or(ExitCode::FAILURE)
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
