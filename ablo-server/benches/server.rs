//! Server benchmark, one run on this machine:
//!
//! 1. confirmed single-row updates per second at 1, 16 and 64 concurrent
//!    HTTP clients, next to a raw SQLite baseline (one UPDATE plus one log
//!    INSERT per transaction, same pragmas, same disk), medians of 3 runs;
//! 2. commit-to-delivery latency (p50/p99) to 1, 100 and 1000 WebSocket
//!    subscribers;
//! 3. resident memory per idle WebSocket connection at 5000 connections
//!    (the real `ablo-server` binary in its own process);
//! 4. time to bootstrap 100k rows to a new client (HTTP list pages and
//!    WebSocket replay).
//!
//! `cargo bench -p ablo-server --bench server` (set `ABLO_BENCH_QUICK=1` for
//! a short smoke run, `ABLO_BENCH_ONLY=authorization` for the capability
//! vs API key comparison alone).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ablo_runtime::{FieldDescriptor, FieldType, ModelDescriptor, SchemaDescriptor, TypeRegistry};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

mod support;

use support::Socket;

const KEY: &str = "sk_test_benchmark_0123456789abcdef";

fn quick() -> bool {
    std::env::var_os("ABLO_BENCH_QUICK").is_some()
}

fn schema() -> SchemaDescriptor {
    let int = FieldType::Integer {
        bits: 64,
        signed: true,
    };
    let model = |name: &str, fields: Vec<FieldDescriptor>| ModelDescriptor {
        name: name.into(),
        type_name: name.into(),
        doc: None,
        fields,
        sync_groups: vec![],
        ts: String::new(),
        json_schema: json!({}),
    };
    SchemaDescriptor::build(
        "Bench",
        vec![
            model(
                "counters",
                vec![FieldDescriptor::new("value", "value", int.clone())],
            ),
            model(
                "probes",
                vec![FieldDescriptor::new("sentAtUs", "sent_at_us", int.clone())],
            ),
            model(
                "items",
                vec![
                    FieldDescriptor::new("title", "title", FieldType::String),
                    FieldDescriptor::new("n", "n", int),
                ],
            ),
        ],
        TypeRegistry::default(),
    )
}

async fn start_server(dir: &Path) -> ablo_server::RunningServer {
    let mut config = ablo_server::ServerConfig::new(dir)
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_api_key(KEY);
    // The benchmark is its own many clients: lift the per-client limits.
    config.max_ws_per_credential = usize::MAX;
    config.capability_rate_limit = None;
    let server = ablo_server::start(config).await.expect("server starts");
    push_schema(&server.url()).await;
    server
}

async fn push_schema(url: &str) {
    let response = reqwest::Client::new()
        .put(format!("{url}/v1/schema"))
        .bearer_auth(KEY)
        .json(&schema())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

// ---------------------------------------------------------------- throughput

/// Confirmed single-row updates per second with `clients` concurrent HTTP
/// clients, each updating its own row without `readAt`.
async fn server_update_rate(url: &str, clients: usize, warmup: Duration, window: Duration) -> f64 {
    server_update_rate_as(url, KEY, "c", clients, warmup, window).await
}

/// [`server_update_rate`] with bearer `key`, on rows `{prefix}{n}`.
async fn server_update_rate_as(
    url: &str,
    key: &str,
    prefix: &str,
    clients: usize,
    warmup: Duration,
    window: Duration,
) -> f64 {
    let rows: Vec<String> = (0..clients).map(|c| format!("{prefix}{c}")).collect();
    support::create_counters(url, key, &rows).await;
    let start = Instant::now();
    let (from, until) = (start + warmup, start + warmup + window);
    let (counted, tasks) = support::spawn_counter_updates(url, key, rows, from, until);
    for task in tasks {
        task.await.unwrap();
    }
    counted.load(Ordering::Relaxed) as f64 / window.as_secs_f64()
}

/// Raw SQLite: one transaction per update, each an UPDATE of the row and an
/// INSERT into a log, same pragmas as the server. The first `warmup`
/// transactions are not timed: until the WAL file has wrapped once, every
/// commit also grows the file, which makes its fsync slower than in steady
/// state (the server's database is measured warm too).
fn raw_sqlite_rate(dir: &Path, warmup: usize, window: Duration) -> f64 {
    let conn = ablo_server::storage::open_connection(&dir.join("raw.db")).unwrap();
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS rows (id TEXT PRIMARY KEY, data TEXT NOT NULL, stamp INTEGER NOT NULL) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS log (sync_id INTEGER PRIMARY KEY, delta TEXT NOT NULL);
         INSERT OR IGNORE INTO rows VALUES ('c', '{\"value\":0}', 0);",
    )
    .unwrap();
    let delta = json!({"model": "counters", "id": "c", "action": "update", "changedFields": ["value"],
        "actor": {"kind": "system", "id": "key_0123456789ab"}, "syncGroups": ["default"], "flagged": false,
        "data": {"id": "c", "value": 0, "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:00.000Z"}})
    .to_string();
    let mut sync_id: i64 = conn
        .query_row("SELECT COALESCE(MAX(sync_id), 0) FROM log", [], |r| {
            r.get(0)
        })
        .unwrap();
    let mut start = Instant::now();
    let mut done = 0u64;
    let mut untimed = warmup;
    while start.elapsed() < window || untimed > 0 {
        if untimed > 0 {
            untimed -= 1;
            start = Instant::now();
        } else {
            done += 1;
        }
        sync_id += 1;
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        conn.prepare_cached("UPDATE rows SET data = ?1, stamp = ?2 WHERE id = 'c'")
            .unwrap()
            .execute(rusqlite::params![
                format!("{{\"value\":{sync_id}}}"),
                sync_id
            ])
            .unwrap();
        conn.prepare_cached("INSERT INTO log (sync_id, delta) VALUES (?1, ?2)")
            .unwrap()
            .execute(rusqlite::params![sync_id, delta])
            .unwrap();
        conn.execute_batch("COMMIT").unwrap();
    }
    done as f64 / start.elapsed().as_secs_f64()
}

async fn throughput() -> Vec<String> {
    let runs = if quick() { 1 } else { 3 };
    let window = Duration::from_secs(if quick() { 1 } else { 3 });
    let warmup = Duration::from_millis(500);
    let levels = [1usize, 16, 64];
    let mut baseline = Vec::new();
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); levels.len()];
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(&dir.path().join("server")).await;
    // Warm the server's database past its first WAL wrap, like the baseline.
    server_update_rate(&server.url(), 16, Duration::ZERO, Duration::from_secs(1)).await;
    let raw_dir = dir.path().join("raw");
    std::fs::create_dir_all(&raw_dir).unwrap();
    for run in 0..runs {
        let raw_dir = raw_dir.clone();
        let raw_warmup = if run == 0 { 1500 } else { 100 };
        let raw =
            tokio::task::spawn_blocking(move || raw_sqlite_rate(&raw_dir, raw_warmup, window))
                .await
                .unwrap();
        baseline.push(raw);
        println!("run {run}: raw SQLite baseline {raw:.0} tx/s");
        for (i, clients) in levels.iter().enumerate() {
            let rate = server_update_rate(&server.url(), *clients, warmup, window).await;
            println!("run {run}: {clients:>2} clients {rate:.0} confirmed updates/s");
            rates[i].push(rate);
        }
    }
    server.shutdown().await.unwrap();
    let base = median(baseline);
    let mut lines = vec![
        "| clients | confirmed updates/s (median) | vs raw SQLite baseline |".to_owned(),
        "|---|---|---|".to_owned(),
        format!("| raw SQLite, 1 tx per update | {base:.0} | 1.00x |"),
    ];
    for (i, clients) in levels.iter().enumerate() {
        let rate = median(rates[i].clone());
        lines.push(format!("| {clients} | {rate:.0} | {:.2}x |", rate / base));
    }
    lines
}

// ------------------------------------------------------------- authorization

/// Confirmed updates per second with the API key and with a capability
/// token (operations `counters.*`, group `default`), interleaved runs on
/// one server, and the in-process cost of checking each credential.
async fn authorization() -> Vec<String> {
    let runs = if quick() { 1 } else { 5 };
    let window = Duration::from_secs(if quick() { 1 } else { 2 });
    let warmup = Duration::from_millis(300);
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let minted: Value = reqwest::Client::new()
        .post(format!("{}/v1/capabilities", server.url()))
        .bearer_auth(KEY)
        .json(
            &json!({"participantKind": "agent", "participantId": "bench-agent",
            "operations": ["counters.*"], "syncGroups": ["default"], "ttlSeconds": 3600,
            "label": "benchmark"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = minted["token"].as_str().unwrap().to_owned();
    server_update_rate_as(
        &server.url(),
        KEY,
        "k",
        16,
        Duration::ZERO,
        Duration::from_secs(1),
    )
    .await;
    let levels = [1usize, 16];
    let mut lines = vec![
        "| clients | API key, updates/s (median) | capability, updates/s (median) | capability / API key |".to_owned(),
        "|---|---|---|---|".to_owned(),
    ];
    for clients in levels {
        let (mut by_key, mut by_cap) = (Vec::new(), Vec::new());
        for run in 0..runs {
            let key_rate =
                server_update_rate_as(&server.url(), KEY, "k", clients, warmup, window).await;
            let cap_rate =
                server_update_rate_as(&server.url(), &token, "a", clients, warmup, window).await;
            println!(
                "run {run}: {clients:>2} clients, API key {key_rate:.0}/s, capability {cap_rate:.0}/s"
            );
            by_key.push(key_rate);
            by_cap.push(cap_rate);
        }
        let (k, c) = (median(by_key), median(by_cap));
        lines.push(format!("| {clients} | {k:.0} | {c:.0} | {:.3}x |", c / k));
    }
    server.shutdown().await.unwrap();
    lines.extend(credential_check_cost());
    lines
}

/// Nanoseconds to authenticate one request and authorize one single-row
/// update, API key vs capability, measured in process.
fn credential_check_cost() -> Vec<String> {
    use ablo_server::auth::{ApiKeys, record_for};
    use ablo_server::capability::{Action, Capabilities, MintRequest};
    let rounds = if quick() { 20_000 } else { 200_000 };
    let keys = ApiKeys::default();
    keys.insert(record_for(KEY, "bench"));
    let capabilities = Capabilities::default();
    let request: MintRequest = serde_json::from_value(json!({"participantKind": "agent",
        "participantId": "bench-agent", "operations": ["counters.*"], "syncGroups": ["default"]}))
    .unwrap();
    let (record, token) = capabilities.prepare_mint(request, "key_bench").unwrap();
    capabilities.insert(record);
    let groups = vec!["default".to_owned()];
    let time = |check: &dyn Fn() -> bool| {
        let start = Instant::now();
        let mut ok = 0u64;
        for _ in 0..rounds {
            ok += u64::from(check());
        }
        assert_eq!(ok, rounds);
        start.elapsed().as_nanos() as f64 / rounds as f64
    };
    let key_ns = time(&|| keys.principal_for(std::hint::black_box(KEY)).is_some());
    let cap_ns = time(&|| {
        let principal = capabilities
            .principal_for(std::hint::black_box(&token))
            .unwrap();
        principal
            .scope
            .check_operation("counters", Action::Update)
            .is_ok()
            && principal.scope.check_row_groups(&groups).is_ok()
            && principal.scope.check_row_groups(&groups).is_ok()
    });
    vec![
        String::new(),
        "| per request, in process | API key | capability (authenticate + operation + group before and after) |".to_owned(),
        "|---|---|---|".to_owned(),
        format!("| ns | {key_ns:.0} | {cap_ns:.0} |"),
    ]
}

// ---------------------------------------------------------------- latency

/// Connects and subscribes from `cursor`, waiting for `caughtUp`.
async fn subscriber(url: &str, cursor: u64) -> Socket {
    let mut request = format!("{}/v1/sync/ws", url.replacen("http", "ws", 1))
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {KEY}").parse().unwrap());
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), true)
        .await
        .unwrap();
    let subscribe = ablo_runtime::wire::ClientMessage::Subscribe {
        cursor: Some(ablo_runtime::SyncId(cursor)),
        sync_groups: None,
    };
    support::subscribe_until_caught_up(&mut socket, &subscribe).await;
    socket
}

async fn subscribers(url: &str, count: usize, cursor: u64) -> Vec<Socket> {
    let mut sockets = Vec::with_capacity(count);
    for chunk in (0..count).collect::<Vec<_>>().chunks(200) {
        let batch = futures::future::join_all(chunk.iter().map(|_| subscriber(url, cursor))).await;
        sockets.extend(batch);
    }
    sockets
}

async fn delivery_latency(
    url: &str,
    count: usize,
    commits: usize,
    spacing: Duration,
) -> (f64, f64) {
    let http = reqwest::Client::new();
    let _ = http
        .post(format!("{url}/v1/models/probes"))
        .bearer_auth(KEY)
        .json(&json!({"id": "p", "data": {"sentAtUs": 0}}))
        .send()
        .await
        .unwrap();
    let head: Value = http
        .get(format!("{url}/v1/sync/deltas?after=0&limit=1"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cursor = head["stamp"].as_u64().unwrap();
    let base = Instant::now();
    let sockets = subscribers(url, count, cursor).await;
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|mut socket| {
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(commits);
                while latencies.len() < commits {
                    let Some(Ok(Message::Text(text))) = socket.next().await else {
                        break;
                    };
                    let received = base.elapsed().as_micros() as f64;
                    let message: Value = serde_json::from_str(&text).unwrap();
                    for delta in message["deltas"].as_array().into_iter().flatten() {
                        if delta["model"] == "probes" {
                            let sent = delta["data"]["sentAtUs"].as_f64().unwrap();
                            latencies.push((received - sent) / 1000.0);
                        }
                    }
                }
                latencies
            })
        })
        .collect();
    for _ in 0..commits {
        let sent = base.elapsed().as_micros() as u64;
        let response = http
            .patch(format!("{url}/v1/models/probes/p"))
            .bearer_auth(KEY)
            .json(&json!({"data": {"sentAtUs": sent}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        tokio::time::sleep(spacing).await;
    }
    let mut all = Vec::new();
    for reader in readers {
        all.extend(reader.await.unwrap());
    }
    assert_eq!(
        all.len(),
        count * commits,
        "every subscriber got every delta"
    );
    all.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (percentile(&all, 0.5), percentile(&all, 0.99))
}

async fn latency() -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let mut lines = vec![
        "| subscribers | commits | p50 ms | p99 ms |".to_owned(),
        "|---|---|---|---|".to_owned(),
    ];
    for (count, commits, spacing_ms) in [(1, 200, 5), (100, 100, 20), (1000, 50, 100)] {
        let commits = if quick() { commits / 5 } else { commits };
        let (p50, p99) = delivery_latency(
            &server.url(),
            count,
            commits,
            Duration::from_millis(spacing_ms),
        )
        .await;
        println!("{count} subscribers: p50 {p50:.2} ms, p99 {p99:.2} ms");
        lines.push(format!("| {count} | {commits} | {p50:.2} | {p99:.2} |"));
    }
    server.shutdown().await.unwrap();
    lines
}

// ---------------------------------------------------------------- memory

fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

async fn idle_connection_memory() -> Vec<String> {
    let connections = if quick() { 500 } else { 5000 };
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ablo-server"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--max-ws-per-credential",
            "100000",
            "--data",
        ])
        .arg(dir.path())
        .env("ABLO_API_KEY", KEY)
        .env("ABLO_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(url) = line.strip_prefix("ablo-server listening on ") {
            break url.trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    push_schema(&url).await;
    let warm = subscribers(&url, 50, 0).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = resident_kib(child.id());
    let sockets = subscribers(&url, connections, 0).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = resident_kib(child.id());
    let per_connection = (after.saturating_sub(before)) as f64 * 1024.0 / connections as f64;
    println!(
        "idle WebSocket connections: {connections}, RSS {before} KiB -> {after} KiB, {:.1} KB per connection",
        per_connection / 1000.0
    );
    drop(sockets);
    drop(warm);
    child.kill().unwrap();
    child.wait().unwrap();
    vec![
        "| idle connections | server RSS before | server RSS after | per connection |".to_owned(),
        "|---|---|---|---|".to_owned(),
        format!(
            "| {connections} | {before} KiB | {after} KiB | {:.1} KiB |",
            per_connection / 1024.0
        ),
    ]
}

// ---------------------------------------------------------------- bootstrap

/// Subscribes with `subscribe` and counts the entries of `field` in every
/// message until `caughtUp`; returns the count and the seconds it took.
async fn bootstrap_over_ws(url: &str, subscribe: &str, field: &str) -> (usize, f64) {
    let started = Instant::now();
    let mut request = format!("{}/v1/sync/ws", url.replacen("http", "ws", 1))
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {KEY}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket.send(Message::text(subscribe)).await.unwrap();
    let mut received = 0;
    while let Some(Ok(Message::Text(text))) = socket.next().await {
        let message: Value = serde_json::from_str(&text).unwrap();
        if message["type"] == "caughtUp" {
            break;
        }
        received += message[field].as_array().map_or(0, Vec::len);
    }
    (received, started.elapsed().as_secs_f64())
}

async fn bootstrap() -> Vec<String> {
    let rows: usize = if quick() { 10_000 } else { 100_000 };
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let url = server.url();
    let http = reqwest::Client::new();
    let loading = Instant::now();
    for batch in 0..rows / 1000 {
        let operations: Vec<Value> = (0..1000)
            .map(|i| {
                let n = batch * 1000 + i;
                json!({"type": "create", "model": "items", "id": format!("item{n:07}"), "data": {"title": format!("item number {n}"), "n": n}})
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
    let load_secs = loading.elapsed().as_secs_f64();

    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut fetched = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut request = client
            .get(format!("{url}/v1/models/items"))
            .bearer_auth(KEY)
            .query(&[("limit", "1000")]);
        if let Some(c) = &cursor {
            request = request.query(&[("cursor", c)]);
        }
        let page: Value = request.send().await.unwrap().json().await.unwrap();
        fetched += page["data"].as_array().unwrap().len();
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let list_secs = started.elapsed().as_secs_f64();
    assert_eq!(fetched, rows);

    let (replayed, replay_secs) =
        bootstrap_over_ws(&url, r#"{"type":"subscribe","cursor":0}"#, "deltas").await;
    assert_eq!(replayed, rows);
    // The same rows as a snapshot: a subscriber that holds nothing.
    let (received, snapshot_secs) =
        bootstrap_over_ws(&url, r#"{"type":"subscribe"}"#, "rows").await;
    assert_eq!(received, rows);
    server.shutdown().await.unwrap();
    println!(
        "bootstrap {rows} rows: load {load_secs:.2} s, HTTP list {list_secs:.2} s, WebSocket replay {replay_secs:.2} s, WebSocket snapshot {snapshot_secs:.2} s"
    );
    vec![
        "| rows | loaded with 1000-op commits | new client via HTTP list (1000/page) | via WebSocket replay from 0 | via WebSocket snapshot | snapshot vs replay |".to_owned(),
        "|---|---|---|---|---|---|".to_owned(),
        format!(
            "| {rows} | {load_secs:.2} s | {list_secs:.2} s | {replay_secs:.2} s | {snapshot_secs:.2} s | {:.2}x |",
            replay_secs / snapshot_secs
        ),
    ]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        if std::env::var("ABLO_BENCH_ONLY").as_deref() == Ok("bootstrap") {
            let report = bootstrap().await;
            println!("\n{}", report.join("\n"));
            return;
        }
        if std::env::var("ABLO_BENCH_ONLY").as_deref() == Ok("authorization") {
            let report = authorization().await;
            println!("\n{}", report.join("\n"));
            return;
        }
        let mut report = Vec::new();
        report.push("### Confirmed single-row updates per second".to_owned());
        report.extend(throughput().await);
        report.push("\n### Cost of authorization: capability token vs API key".to_owned());
        report.extend(authorization().await);
        report.push("\n### Commit-to-delivery latency (POST sent to delta received)".to_owned());
        report.extend(latency().await);
        report.push("\n### Resident memory per idle WebSocket connection".to_owned());
        report.extend(idle_connection_memory().await);
        report.push("\n### Bootstrap a new client".to_owned());
        report.extend(bootstrap().await);
        println!("\n{}", report.join("\n"));
    });
}
