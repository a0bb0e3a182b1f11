//! `ablo-server`: run the Ablo sync server.
//!
//! ```text
//! ablo-server serve --addr 127.0.0.1:7700 --data ./ablo-data
//! ```

mod keys_cli;

use std::net::SocketAddr;
use std::path::PathBuf;
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
    /// Serve the HTTP and WebSocket API (data in embedded SQLite).
    Serve {
        /// Address to listen on (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:7700")]
        addr: SocketAddr,
        /// Data directory, created on first start.
        #[arg(long, default_value = "./ablo-data")]
        data: PathBuf,
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
    },
    /// Create, list or revoke API keys.
    Keys {
        #[command(subcommand)]
        action: keys_cli::KeysAction,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let (addr, data, api_key, body_limit, json_logs, rate_limit, rate_limit_burst) =
        match Cli::parse().command {
            Command::Serve {
                addr,
                data,
                api_key,
                body_limit,
                json_logs,
                rate_limit,
                rate_limit_burst,
            } => (
                addr,
                data,
                api_key,
                body_limit,
                json_logs,
                rate_limit,
                rate_limit_burst,
            ),
            Command::Keys { action } => return keys_cli::run(action),
        };
    let filter = EnvFilter::try_from_env("ABLO_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    if json_logs {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let mut config = ServerConfig::new(data)
        .with_addr(addr)
        .with_body_limit(body_limit);
    if let Some(rate) = rate_limit {
        let limit = ablo_server::RateLimit::per_second(rate);
        config.rate_limit = Some(match rate_limit_burst {
            Some(burst) => limit.with_burst(burst),
            None => limit,
        });
    }
    let configured_key = api_key.is_some();
    config.api_key = api_key;
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
    wait_for_signal().await;
    tracing::info!("shutting down: finishing in-flight commits");
    match server.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ablo-server: shutdown: {err}");
            ExitCode::FAILURE
        }
    }
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
