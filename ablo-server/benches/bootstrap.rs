//! Bootstrap at scale, against the real `ablo-server` binary (the release
//! build `cargo bench` makes) in its own process: N rows of a small model
//! are loaded with 1000-operation commits, then
//!
//! - the **baseline**: a WebSocket subscriber that holds nothing and only
//!   counts the bytes of the snapshot until `caughtUp` (the server's cost
//!   of streaming every message), and the same over
//!   `GET /v1/sync/snapshot` (HTTP, NDJSON);
//! - a **new Rust client** (`snapshot_on_connect(true)`), from connect to
//!   `ready()` with every row in its pool, reported as a ratio to the
//!   WebSocket baseline;
//! - **bytes on disk**: the data directory after loading N rows, and after
//!   M updates with log retention off and on, per live row and per
//!   retained change.
//!
//! ```text
//! cargo bench -p ablo-server --bench bootstrap          # 100k and 1M rows
//! ABLO_BENCH_QUICK=1 cargo bench -p ablo-server --bench bootstrap   # 10k rows
//! ```
//!
//! `ABLO_BENCH_KEEP_SERVER=1` leaves the last server running with its URL
//! and key printed, for the TypeScript bench (`ts/client/scripts/bootstrap-bench.mjs`).

use std::path::Path;
use std::time::{Duration, Instant};

use ablo::prelude::*;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

mod support;

use support::ServerProcess;

const KEY: &str = "sk_test_benchmark_bootstrap_0123456789";

fn quick() -> bool {
    std::env::var_os("ABLO_BENCH_QUICK").is_some()
}

/// The small model: a title, a status and an optional team.
#[ablo::model]
pub struct Task {
    pub title: String,
    pub status: String,
    pub team: Option<String>,
}

ablo::schema! {
    pub struct Bench {
        tasks: Task,
    }
}

/// The release binary in its own process with the benchmark's schema.
async fn start_server(extra: &[&str]) -> ServerProcess {
    let server = ServerProcess::start(KEY, extra);
    server.push_schema(KEY, &Bench::descriptor()).await;
    server
}

/// Creates `rows` tasks with 1000-operation commits, two in flight.
async fn load(url: &str, rows: usize) -> f64 {
    let started = Instant::now();
    let http = reqwest::Client::new();
    let statuses = ["todo", "doing", "done"];
    let batches: Vec<usize> = (0..rows.div_ceil(1000)).collect();
    futures::stream::iter(batches)
        .map(|batch| {
            let http = http.clone();
            async move {
                let operations: Vec<Value> = (batch * 1000..rows.min(batch * 1000 + 1000))
                    .map(|n| {
                        json!({"type": "create", "model": "tasks", "id": format!("task{n:07}"),
                               "data": {"title": format!("task number {n}"), "status": statuses[n % 3],
                                        "team": if n % 4 == 0 { json!("red") } else { Value::Null }}})
                    })
                    .collect();
                let response = http
                    .post(format!("{url}/v1/commits"))
                    .bearer_auth(KEY)
                    .json(&json!({"operations": operations}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status().as_u16(), 200);
            }
        })
        .buffer_unordered(2)
        .collect::<Vec<()>>()
        .await;
    started.elapsed().as_secs_f64()
}

/// A subscriber that holds nothing, counting the snapshot's bytes and rows
/// until `caughtUp` without parsing the rows: the server's share.
async fn raw_ws(url: &str) -> (usize, usize, f64) {
    let started = Instant::now();
    let mut request = format!("{}/v1/sync/ws", url.replacen("http", "ws", 1))
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {KEY}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket
        .send(Message::text(r#"{"type":"subscribe"}"#))
        .await
        .unwrap();
    let (mut bytes, mut rows) = (0, 0);
    while let Some(Ok(message)) = socket.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        bytes += text.len();
        if text.starts_with(r#"{"type":"caughtUp""#) {
            break;
        }
        // Each row carries one `"stamp":`.
        rows += text.matches(r#""stamp":"#).count();
    }
    (bytes, rows, started.elapsed().as_secs_f64())
}

/// `GET /v1/sync/snapshot`, counting bytes and rows until the body ends.
async fn raw_http(url: &str) -> (usize, usize, f64) {
    let started = Instant::now();
    let mut response = reqwest::Client::new()
        .get(format!("{url}/v1/sync/snapshot"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let (mut bytes, mut rows) = (0, 0);
    let mut tail = String::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        bytes += chunk.len();
        // A row's marker may straddle two chunks: carry the last bytes.
        tail.push_str(std::str::from_utf8(&chunk).unwrap_or(""));
        rows += tail.matches(r#""stamp":"#).count();
        let keep = tail.len().saturating_sub(8);
        let keep = (keep..tail.len())
            .find(|i| tail.is_char_boundary(*i))
            .unwrap_or(tail.len());
        tail.drain(..keep);
    }
    (bytes, rows, started.elapsed().as_secs_f64())
}

/// A new Rust client with `snapshot_on_connect(true)`: seconds from
/// connect to `ready()` (every row in its pool).
async fn rust_client(url: &str, rows: usize) -> f64 {
    let started = Instant::now();
    let client = Client::builder(url, KEY)
        .schema(Bench::descriptor())
        .snapshot_on_connect(true)
        .timeout(Duration::from_secs(600))
        .connect()
        .await
        .unwrap();
    client.ready().await.unwrap();
    let secs = started.elapsed().as_secs_f64();
    let held = client.model::<Task>().get_count(&Query::new());
    assert_eq!(held, rows, "the client holds every row");
    client.dispose().await;
    secs
}

/// Bytes of every file under `dir`.
fn disk_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                disk_bytes(&entry.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

/// `PRAGMA wal_checkpoint(TRUNCATE)` on the server's store, so the size is
/// the database file's (the WAL folded in), not the WAL's high-water mark.
fn checkpoint(dir: &Path) {
    let conn = ablo_server::storage::open_connection(&dir.join("ablo.db")).unwrap();
    let _: (i64, i64, i64) = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
}

fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

async fn bootstrap(rows: usize, report: &mut Vec<String>) {
    let server = start_server(&[]).await;
    let load_secs = load(&server.url, rows).await;
    println!(
        "{rows} rows loaded in {load_secs:.1} s (load {})",
        load_avg()
    );
    let (ws_bytes, ws_rows, ws_secs) = raw_ws(&server.url).await;
    assert_eq!(ws_rows, rows);
    let (http_bytes, http_rows, http_secs) = raw_http(&server.url).await;
    assert_eq!(http_rows, rows);
    let mut client_secs = Vec::new();
    for _ in 0..if quick() { 1 } else { 3 } {
        client_secs.push(rust_client(&server.url, rows).await);
    }
    client_secs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let client = client_secs[client_secs.len() / 2];
    let runs: Vec<String> = client_secs.iter().map(|s| format!("{s:.2}")).collect();
    let line = format!(
        "| {rows} | {load_secs:.1} s | {ws_secs:.2} s ({:.0} MiB) | {http_secs:.2} s ({:.0} MiB) | {client:.2} s ({}) | {:.2}x | {} |",
        ws_bytes as f64 / 1048576.0,
        http_bytes as f64 / 1048576.0,
        runs.join(", "),
        client / ws_secs,
        load_avg()
    );
    println!("{line}");
    report.push(line);
    if std::env::var_os("ABLO_BENCH_KEEP_SERVER").is_some() {
        println!(
            "server left running at {} (key {KEY}); Ctrl-C ends it",
            server.url
        );
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

/// Updates rows `0..updates % rows` one commit of 1000 updates at a time.
async fn update(url: &str, rows: usize, updates: usize) {
    let http = reqwest::Client::new();
    for start in (0..updates).step_by(1000) {
        let operations: Vec<Value> = (start..updates.min(start + 1000))
            .map(|u| {
                json!({"type": "update", "model": "tasks", "id": format!("task{:07}", u % rows),
                       "data": {"title": format!("update {u}")}})
            })
            .collect();
        let response = http
            .post(format!("{url}/v1/commits"))
            .bearer_auth(KEY)
            .json(&json!({"operations": operations}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
}

/// Bytes on disk per live row and per retained change, retention off
/// (every change kept) and on (the newest 10 commits kept).
async fn disk(rows: usize, updates: usize, report: &mut Vec<String>) {
    let retain = [
        "--log-retention-commits",
        "10",
        "--log-compact-interval-ms",
        "200",
    ];
    for (label, extra) in [("off", &[][..]), ("on (10 commits)", &retain[..])] {
        let server = start_server(extra).await;
        let empty = disk_bytes(server.data_dir());
        load(&server.url, rows).await;
        checkpoint(server.data_dir());
        let loaded = disk_bytes(server.data_dir());
        update(&server.url, rows, updates).await;
        // Let retention run, then fold the WAL in.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        checkpoint(server.data_dir());
        let updated = disk_bytes(server.data_dir());
        let per_row = (loaded - empty) as f64 / rows as f64;
        let per_change = (updated as f64 - loaded as f64) / updates as f64;
        let line = format!(
            "| {label} | {rows} | {:.1} MiB | {per_row:.0} B | {updates} | {:.1} MiB | {per_change:.0} B |",
            loaded as f64 / 1048576.0,
            updated as f64 / 1048576.0
        );
        println!("{line}");
        report.push(line);
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let sizes: &[usize] = if quick() { &[10_000] } else { &[100_000, 1_000_000] };
        let mut report = vec![
            format!("load average at start: {}", load_avg()),
            "| rows | loaded (1000-op commits) | baseline: WebSocket snapshot, bytes only | HTTP snapshot, bytes only | new Rust client to ready() (runs) | client / baseline | load average |".into(),
            "|---|---|---|---|---|---|---|".into(),
        ];
        for &rows in sizes {
            bootstrap(rows, &mut report).await;
        }
        report.push(String::new());
        report.push("| retention | rows | after load | per live row | updates | after updates | per retained change |".into());
        report.push("|---|---|---|---|---|---|---|".into());
        let (rows, updates) = if quick() { (10_000, 10_000) } else { (100_000, 100_000) };
        disk(rows, updates, &mut report).await;
        println!("\n{}", report.join("\n"));
    });
}
