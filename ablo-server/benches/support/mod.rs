//! What the benchmarks that run the server in its own process share: the
//! `ablo-server` binary started on a free loopback port and a fresh data
//! directory, and what `/proc` tells of that process. Each benchmark uses
//! part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The server binary in its own process, killed when dropped.
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts `ablo-server serve` with `key` as its API key and `extra`
    /// arguments, and waits until it listens. `ABLO_SERVER_BIN` runs
    /// another build (or a profiler wrapping one) instead of this
    /// package's binary.
    pub fn start(key: &str, extra: &[&str]) -> ServerProcess {
        ServerProcess::spawn(key, None, extra)
    }

    /// [`ServerProcess::start`] on the PostgreSQL database at `database`
    /// (`--database URL`) instead of a fresh data directory; several
    /// processes may share one database (nodes).
    pub fn start_on_database(key: &str, database: &str, extra: &[&str]) -> ServerProcess {
        ServerProcess::spawn(key, Some(database), extra)
    }

    fn spawn(key: &str, database: Option<&str>, extra: &[&str]) -> ServerProcess {
        let dir = tempfile::tempdir().unwrap();
        let binary = std::env::var_os("ABLO_SERVER_BIN")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_ablo-server").into());
        let mut command = Command::new(binary);
        command.args(["serve", "--addr", "127.0.0.1:0"]);
        match database {
            Some(url) => command.args(["--database", url]),
            None => command.arg("--data").arg(dir.path()),
        };
        let mut child = command
            .args(extra)
            .env("ABLO_API_KEY", key)
            .env("ABLO_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("the server prints its address")
                .unwrap();
            if let Some(url) = line.strip_prefix("ablo-server listening on ") {
                break url.trim().to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        ServerProcess { child, url, dir }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's data directory (empty and unused on a database).
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A number field of `/proc/PID/status` (`VmRSS:`, `Threads:`, ...).
    pub fn status_field(&self, name: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// Resident memory in KiB.
    pub fn rss_kib(&self) -> u64 {
        self.status_field("VmRSS:")
    }

    /// Pushes `schema` (a `SchemaDescriptor`) with `key`, asserting it is
    /// taken.
    pub async fn push_schema(&self, key: &str, schema: &impl serde::Serialize) {
        let response = reqwest::Client::new()
            .put(format!("{}/v1/schema", self.url))
            .bearer_auth(key)
            .json(schema)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "schema push: {}",
            response.status()
        );
    }

    /// CPU seconds (user + system) the process has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds_in(&std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap())
            .expect("a /proc stat line")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User + system CPU seconds in a `/proc/PID/stat` line (utime and stime,
/// the 14th and 15th fields, counted after the parenthesised command name).
pub fn cpu_seconds_in(stat: &str) -> Option<f64> {
    let after = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// CPU seconds this process (the benchmark) has used so far.
pub fn own_cpu_seconds() -> f64 {
    cpu_seconds_in(&std::fs::read_to_string("/proc/self/stat").unwrap()).expect("a /proc stat line")
}

/// Creates a `counters` row (value 0) for each id of `rows`; a row already
/// there (409, from an earlier run on the same rows) is left as it is.
pub async fn create_counters(url: &str, key: &str, rows: &[String]) {
    let http = reqwest::Client::new();
    for row in rows {
        let response = http
            .post(format!("{url}/v1/models/counters"))
            .bearer_auth(key)
            .json(&serde_json::json!({"id": row, "data": {"value": 0}}))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert!(
            matches!(status, 200 | 201 | 409),
            "creating {row}: {status}"
        );
    }
}

/// One client per row of `rows`, each looping `PATCH /v1/models/counters/{row}`
/// with a rising `value` until `until`; the returned count is of the updates
/// confirmed (200) between `from` and `until`. Await the tasks for the end.
pub fn spawn_counter_updates(
    url: &str,
    key: &str,
    rows: Vec<String>,
    from: std::time::Instant,
    until: std::time::Instant,
) -> (
    std::sync::Arc<std::sync::atomic::AtomicU64>,
    Vec<tokio::task::JoinHandle<()>>,
) {
    use std::sync::atomic::Ordering;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(rows.len())
        .build()
        .unwrap();
    let counted = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let tasks = rows
        .into_iter()
        .map(|row| {
            let (http, counted) = (http.clone(), counted.clone());
            let (url, key) = (format!("{url}/v1/models/counters/{row}"), key.to_owned());
            tokio::spawn(async move {
                let mut value = 0;
                while std::time::Instant::now() < until {
                    value += 1;
                    let response = http
                        .patch(&url)
                        .bearer_auth(&key)
                        .json(&serde_json::json!({"data": {"value": value}}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status().as_u16(), 200);
                    let done = std::time::Instant::now();
                    if done >= from && done < until {
                        counted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    (counted, tasks)
}

/// A benchmark's WebSocket connection to the server.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Sends `subscribe` on a connected socket and reads until `caughtUp`.
pub async fn subscribe_until_caught_up(
    socket: &mut Socket,
    subscribe: &ablo_runtime::wire::ClientMessage,
) {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    socket
        .send(Message::text(serde_json::to_string(subscribe).unwrap()))
        .await
        .unwrap();
    while let Some(Ok(frame)) = socket.next().await {
        if let Message::Text(text) = frame
            && text.contains("\"caughtUp\"")
        {
            return;
        }
    }
    panic!("subscriber closed before caughtUp");
}
