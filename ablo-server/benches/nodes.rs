//! One node against three: the real `ablo-server` binary in its own
//! process(es), this program (a multi-threaded tokio runtime) as the load
//! generator, in three set-ups measured in one run:
//!
//! - SQLite, one node (a fresh `--data` directory);
//! - PostgreSQL, one node (a fresh database);
//! - PostgreSQL, three nodes on one fresh database.
//!
//! In each set-up:
//!
//! 1. **Confirmed writes per second.** 32 HTTP writers (spread round-robin
//!    over the nodes), each looping `PATCH /v1/models/probes/{its row}` and
//!    waiting for the answer; a write counts when it is answered 2xx (a
//!    confirmed commit) inside the window. A 1 s untimed warm-up, then 3
//!    windows of 3 s after 0.5 s each; the median is reported.
//! 2. **Commit-to-delivery latency.** 30 WebSocket subscribers spread
//!    round-robin over the nodes; writes paced at 100/s, each sent through
//!    the next node in turn, each writing its send time (and the node it
//!    went through) into the row. A subscriber scans each delta for the
//!    send time and records send to receipt.
//! 3. **Fan-out capacity.** Writes paced at 50/s round-robin over the
//!    nodes (well under what one PostgreSQL node confirms, so the steps
//!    load the fan-out rather than the commit path) to 100 subscribers per
//!    node, then 1.5 times more subscribers per node each step (so three
//!    nodes have three times the subscribers of one), 4 s steps with the
//!    first second not counted, until a step is not sustained or 4000 per
//!    node are reached. A step is sustained when every write was
//!    confirmed, every subscriber received every write of the step,
//!    deliveries per second reached 95 % of writes/s times subscribers,
//!    and p99 latency stayed at or under 250 ms. The capacity is the
//!    highest deliveries per second of a sustained step.
//!
//! For every phase it prints the CPU each part used (cores busy over the
//! phase: the whole machine from `/proc/stat`, the server processes, every
//! `postgres` process on the machine, this program) and `/proc/loadavg`.
//!
//! `ABLO_TEST_POSTGRES_URL=postgres://... cargo bench -p ablo-server --bench nodes`
//! (without the variable the PostgreSQL set-ups are skipped with a notice).
//! `ABLO_BENCH_QUICK=1` for a short run; `ABLO_BENCH_ONLY=sqlite,pg1,pg3`
//! for some set-ups; `ABLO_BENCH_WRITERS`, `ABLO_BENCH_SUBSCRIBERS` (per
//! node, first fan-out step), `ABLO_BENCH_LATENCY_SUBSCRIBERS` (in all),
//! `ABLO_BENCH_FANOUT_RATE` and `ABLO_BENCH_STEP_SECS` change the load;
//! `ABLO_SERVER_BIN=path` runs another build of the server.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ablo_runtime::wire::ClientMessage;
use ablo_runtime::{FieldDescriptor, FieldType, ModelDescriptor, SchemaDescriptor, SyncId};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

mod support;

use support::ServerProcess;

const KEY: &str = "sk_test_nodes_bench_0123456789abcd";
/// Rows the paced writes rotate over.
const PROBE_ROWS: usize = 64;
/// The fan-out steps' write rate, writes per second (well under what one
/// PostgreSQL node confirms, so the steps load the fan-out, not the
/// commit path).
const FANOUT_RATE: f64 = 50.0;
/// Subscribers per node of the first fan-out step.
const FIRST_PER_NODE: f64 = 100.0;
/// Each step's subscribers over the previous one's.
const STEP_FACTOR: f64 = 1.5;
/// At most this many subscribers per node (this program holds one file
/// descriptor per subscriber).
const MAX_PER_NODE: usize = 4000;
/// A sustained step's p99 commit-to-delivery latency is at most this.
const SUSTAINED_P99_MS: f64 = 250.0;
/// A sustained step delivers at least this share of what it asked for.
const SUSTAINED_SHARE: f64 = 0.95;

fn quick() -> bool {
    std::env::var_os("ABLO_BENCH_QUICK").is_some()
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn schema() -> SchemaDescriptor {
    let int = FieldType::Integer {
        bits: 64,
        signed: true,
    };
    let model = ModelDescriptor {
        name: "probes".into(),
        type_name: "Probe".into(),
        doc: None,
        fields: vec![
            FieldDescriptor::new("value", "value", int.clone()),
            FieldDescriptor::new("sentAtUs", "sent_at_us", int.clone()),
            FieldDescriptor::new("viaNode", "via_node", int),
        ],
        sync_groups: vec![],
        ts: String::new(),
        json_schema: json!({}),
    };
    SchemaDescriptor::build("Nodes", vec![model], Default::default())
}

fn percentile<T: Copy>(sorted: &[T], p: f64) -> T {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_owned()
}

// ------------------------------------------------------------------ CPU use

/// CPU seconds used so far, by part.
#[derive(Clone, Copy)]
struct CpuSample {
    at: Instant,
    /// Busy time of the whole machine (user, nice, system, irq, softirq).
    machine: f64,
    /// Time stolen by the hypervisor.
    steal: f64,
    /// The server processes of the set-up.
    nodes: f64,
    /// Every process named `postgres` on the machine.
    postgres: f64,
    /// This program.
    bench: f64,
}

fn sample(nodes: &[ServerProcess]) -> CpuSample {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let field = |i: usize| cpu.get(i).copied().unwrap_or(0.0) / 100.0;
    // user nice system idle iowait irq softirq steal
    let machine = field(0) + field(1) + field(2) + field(5) + field(6);
    let mut postgres = 0.0;
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let name = entry.file_name();
            if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            if stat.contains("(postgres)") {
                postgres += support::cpu_seconds_in(&stat).unwrap_or(0.0);
            }
        }
    }
    CpuSample {
        at: Instant::now(),
        machine,
        steal: field(7),
        nodes: nodes.iter().map(ServerProcess::cpu_seconds).sum(),
        postgres,
        bench: support::own_cpu_seconds(),
    }
}

/// Cores busy between two samples.
#[derive(Clone, Copy, Default)]
struct CpuUse {
    machine: f64,
    steal: f64,
    nodes: f64,
    postgres: f64,
    bench: f64,
}

impl CpuUse {
    fn between(a: CpuSample, b: CpuSample) -> CpuUse {
        let wall = (b.at - a.at).as_secs_f64().max(1e-3);
        CpuUse {
            machine: (b.machine - a.machine) / wall,
            steal: (b.steal - a.steal) / wall,
            nodes: (b.nodes - a.nodes) / wall,
            postgres: (b.postgres - a.postgres) / wall,
            bench: (b.bench - a.bench) / wall,
        }
    }

    fn cells(&self) -> String {
        let rest = (self.machine - self.nodes - self.postgres - self.bench).max(0.0);
        format!(
            "{:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2}",
            self.machine, self.nodes, self.postgres, self.bench, rest, self.steal
        )
    }
}

const CPU_HEADER: &str = "machine | nodes | postgres | bench | other | steal";
const CPU_RULE: &str = "---|---|---|---|---|---";

// ------------------------------------------------------------------ set-ups

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Sqlite,
    Postgres1,
    Postgres3,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Sqlite => "SQLite, 1 node",
            Kind::Postgres1 => "PostgreSQL, 1 node",
            Kind::Postgres3 => "PostgreSQL, 3 nodes",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Kind::Sqlite => "sqlite",
            Kind::Postgres1 => "pg1",
            Kind::Postgres3 => "pg3",
        }
    }
}

/// The server options every node runs with: the benchmark is its own many
/// clients, so the per-credential limits are lifted.
const SERVER_OPTIONS: [&str; 6] = [
    "--capability-rate-limit",
    "0",
    "--max-ws-per-credential",
    "100000",
    "--max-connections",
    "30000",
];

/// Starts the set-up's nodes, pushes the schema through the first and
/// waits until every node knows it. `None` when PostgreSQL is not set up.
async fn start(kind: Kind, http: &reqwest::Client) -> Option<Vec<ServerProcess>> {
    let nodes = match kind {
        Kind::Sqlite => vec![ServerProcess::start(KEY, &SERVER_OPTIONS)],
        Kind::Postgres1 | Kind::Postgres3 => {
            let count = if kind == Kind::Postgres1 { 1 } else { 3 };
            let label = format!("nodes bench, {}", kind.label());
            let database =
                tokio::task::spawn_blocking(move || ablo_tests::postgres::fresh_database(&label))
                    .await
                    .unwrap()?;
            // The first node migrates the fresh database; the others start
            // on it after.
            let mut nodes = vec![ServerProcess::start_on_database(
                KEY,
                &database,
                &SERVER_OPTIONS,
            )];
            for _ in 1..count {
                nodes.push(ServerProcess::start_on_database(
                    KEY,
                    &database,
                    &SERVER_OPTIONS,
                ));
            }
            nodes
        }
    };
    nodes[0].push_schema(KEY, &schema()).await;
    // The other nodes load a pushed schema within a second.
    for node in &nodes {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let response = http
                .get(format!("{}/v1/models/probes?limit=1", node.url))
                .bearer_auth(KEY)
                .send()
                .await
                .unwrap();
            if response.status().is_success() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} never learned the schema",
                node.url
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Some(nodes)
}

/// Creates `ids` through the first node.
async fn create_rows(http: &reqwest::Client, url: &str, ids: &[String]) {
    for chunk in ids.chunks(500) {
        let operations: Vec<Value> = chunk
            .iter()
            .map(|id| json!({"type": "create", "model": "probes", "id": id, "data": {"value": 0, "sentAtUs": 0, "viaNode": 0}}))
            .collect();
        let response = http
            .post(format!("{url}/v1/commits"))
            .bearer_auth(KEY)
            .json(&json!({"operations": operations}))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "creating rows: {status}: {body}");
    }
}

// ------------------------------------------------------------ write rate

struct RateRun {
    rate: f64,
    /// Milliseconds, sorted, of the counted writes' round trips.
    round_trips: Vec<f64>,
    errors: u64,
    first_error: Option<String>,
}

/// `writers` concurrent writers, writer `c` on node `c % nodes`, each
/// updating row `w{c}` in a loop; writes answered 2xx inside the window.
async fn write_rate(
    http: &reqwest::Client,
    urls: &[String],
    writers: usize,
    warmup: Duration,
    window: Duration,
) -> RateRun {
    let counted = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(Mutex::new(None));
    let start = Instant::now();
    let (from, until) = (start + warmup, start + warmup + window);
    let tasks: Vec<_> = (0..writers)
        .map(|c| {
            let url = format!("{}/v1/models/probes/w{c}", urls[c % urls.len()]);
            let (http, counted, errors) = (http.clone(), counted.clone(), errors.clone());
            let first_error = first_error.clone();
            tokio::spawn(async move {
                let mut value = 0u64;
                let mut round_trips = Vec::new();
                while Instant::now() < until {
                    value += 1;
                    let sent = Instant::now();
                    let outcome = http
                        .patch(&url)
                        .bearer_auth(KEY)
                        .json(&json!({"data": {"value": value}}))
                        .send()
                        .await;
                    let done = Instant::now();
                    let ok = match outcome {
                        Ok(response) if response.status().is_success() => {
                            // Read the body: the answer is the confirmation.
                            response.bytes().await.is_ok()
                        }
                        Ok(response) => {
                            let status = response.status();
                            let body = response.text().await.unwrap_or_default();
                            first_error
                                .lock()
                                .unwrap()
                                .get_or_insert(format!("{status}: {body}"));
                            false
                        }
                        Err(error) => {
                            first_error.lock().unwrap().get_or_insert(error.to_string());
                            false
                        }
                    };
                    if done >= from && done < until {
                        if ok {
                            counted.fetch_add(1, Ordering::Relaxed);
                            round_trips.push((done - sent).as_secs_f64() * 1000.0);
                        } else {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                round_trips
            })
        })
        .collect();
    let mut round_trips = Vec::new();
    for task in tasks {
        round_trips.extend(task.await.unwrap());
    }
    round_trips.sort_by(|a, b| a.partial_cmp(b).unwrap());
    RateRun {
        rate: counted.load(Ordering::Relaxed) as f64 / window.as_secs_f64(),
        round_trips,
        errors: errors.load(Ordering::Relaxed),
        first_error: first_error.lock().unwrap().take(),
    }
}

struct WriteFigures {
    median: f64,
    runs: Vec<f64>,
    p50: f64,
    p99: f64,
    errors: u64,
    first_error: Option<String>,
    cpu: CpuUse,
}

async fn writes(http: &reqwest::Client, nodes: &[ServerProcess], writers: usize) -> WriteFigures {
    let urls: Vec<String> = nodes.iter().map(|n| n.url.clone()).collect();
    let ids: Vec<String> = (0..writers).map(|c| format!("w{c}")).collect();
    create_rows(http, &urls[0], &ids).await;
    let (runs, window) = if quick() {
        (1, Duration::from_secs(1))
    } else {
        (3, Duration::from_secs(3))
    };
    // Untimed: connections opened, SQLite past its first WAL wrap.
    write_rate(http, &urls, writers, Duration::ZERO, Duration::from_secs(1)).await;
    let before = sample(nodes);
    let mut rates = Vec::new();
    let mut round_trips = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for _ in 0..runs {
        let run = write_rate(http, &urls, writers, Duration::from_millis(500), window).await;
        rates.push(run.rate);
        round_trips.extend(run.round_trips);
        errors += run.errors;
        first_error = first_error.or(run.first_error);
    }
    let cpu = CpuUse::between(before, sample(nodes));
    round_trips.sort_by(|a, b| a.partial_cmp(b).unwrap());
    WriteFigures {
        median: median(rates.clone()),
        runs: rates,
        p50: percentile(&round_trips, 0.5),
        p99: percentile(&round_trips, 0.99),
        errors,
        first_error,
        cpu,
    }
}

// ------------------------------------------------------------ subscribers

/// What one subscriber received: (sent µs, received µs, node the write
/// went through) for every delta, since it was last drained.
struct Receipts {
    /// The node the subscriber is connected to.
    node: usize,
    log: Mutex<Vec<(u64, u64, u8)>>,
    /// The socket ended (closed, `resyncRequired`, an error).
    ended: AtomicBool,
}

/// Every `"sentAtUs":<n>` of a message with the `"viaNode":<n>` of the same
/// delta, without parsing the JSON (each delta has one `"syncId":`).
fn stamps(text: &str, mut each: impl FnMut(u64, u8)) {
    fn number(text: &str, field: &str) -> Option<u64> {
        let start = text.find(field)? + field.len();
        Some(
            text[start..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .fold(0u64, |n, b| n * 10 + u64::from(b - b'0')),
        )
    }
    for delta in text.split("\"syncId\":").skip(1) {
        if let Some(sent) = number(delta, "\"sentAtUs\":") {
            let via = number(delta, "\"viaNode\":").unwrap_or(0) as u8;
            each(sent, via);
        }
    }
}

/// The newest sync id, as `node` sees it.
async fn head(http: &reqwest::Client, url: &str) -> u64 {
    let body: Value = http
        .get(format!("{url}/v1/sync/deltas?after=0&limit=1"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["stamp"].as_u64().unwrap()
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn subscribe(url: &str, cursor: u64) -> Socket {
    let mut request = format!("{}/v1/sync/ws", url.replacen("http://", "ws://", 1))
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {KEY}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let subscribe = ClientMessage::Subscribe {
        cursor: Some(SyncId(cursor)),
        sync_groups: None,
    };
    socket
        .send(Message::text(serde_json::to_string(&subscribe).unwrap()))
        .await
        .unwrap();
    while let Some(Ok(frame)) = socket.next().await {
        if let Message::Text(text) = frame
            && text.contains("\"caughtUp\"")
        {
            return socket;
        }
    }
    panic!("subscriber closed before caughtUp");
}

/// Subscribers connected and reading; aborted when dropped.
struct Subscribers {
    receipts: Vec<Arc<Receipts>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Subscribers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Subscribers {
    /// `count` subscribers, subscriber `i` on node `i % nodes`, each from
    /// its node's head, read by one task each.
    async fn connect(http: &reqwest::Client, urls: &[String], count: usize, base: Instant) -> Self {
        let mut subscribers = Subscribers {
            receipts: Vec::new(),
            tasks: Vec::new(),
        };
        subscribers.add(http, urls, count, base).await;
        subscribers
    }

    /// `count` more subscribers, spread round-robin over the nodes.
    async fn add(&mut self, http: &reqwest::Client, urls: &[String], count: usize, base: Instant) {
        let (receipts, tasks) = (&mut self.receipts, &mut self.tasks);
        let mut heads = Vec::new();
        for url in urls {
            heads.push(head(http, url).await);
        }
        let indexes: Vec<usize> = (0..count).collect();
        for chunk in indexes.chunks(100) {
            let sockets = futures::future::join_all(chunk.iter().map(|&i| {
                let node = i % urls.len();
                let (url, cursor) = (urls[node].clone(), heads[node]);
                async move { (node, subscribe(&url, cursor).await) }
            }))
            .await;
            for (node, mut socket) in sockets {
                let mine = Arc::new(Receipts {
                    node,
                    log: Mutex::new(Vec::new()),
                    ended: AtomicBool::new(false),
                });
                receipts.push(mine.clone());
                tasks.push(tokio::spawn(async move {
                    while let Some(Ok(frame)) = socket.next().await {
                        let Message::Text(text) = frame else {
                            continue;
                        };
                        let received = base.elapsed().as_micros() as u64;
                        let mut found = false;
                        {
                            let mut log = mine.log.lock().unwrap();
                            stamps(&text, |sent, via| {
                                found = true;
                                log.push((sent, received, via));
                            });
                        }
                        if found {
                            continue;
                        }
                        if text.contains("\"ping\"") {
                            let pong = Message::text(r#"{"type":"pong"}"#);
                            if socket.send(pong).await.is_err() {
                                break;
                            }
                        } else if text.contains("\"resyncRequired\"") {
                            break;
                        }
                    }
                    mine.ended.store(true, Ordering::Relaxed);
                }));
            }
        }
    }

    fn ended(&self) -> usize {
        self.receipts
            .iter()
            .filter(|r| r.ended.load(Ordering::Relaxed))
            .count()
    }

    fn received(&self) -> usize {
        self.receipts
            .iter()
            .map(|r| r.log.lock().unwrap().len())
            .sum()
    }

    /// Everything received since the last drain, with each subscriber's
    /// node: (subscriber node, sent, received, via node).
    fn drain(&self) -> Vec<(usize, u64, u64, u8)> {
        let mut all = Vec::new();
        for r in &self.receipts {
            let log = std::mem::take(&mut *r.log.lock().unwrap());
            all.extend(log.into_iter().map(|(s, t, v)| (r.node, s, t, v)));
        }
        all
    }
}

// ------------------------------------------------------------ paced writes

struct Paced {
    /// Send times (µs since base) of the writes of the measured window.
    sent: u64,
    /// Writes answered 2xx.
    confirmed: u64,
    errors: u64,
    first_error: Option<String>,
    /// µs since base: the measured window.
    from: u64,
    until: u64,
}

/// Writes at `rate` per second for `duration`, write `i` through node
/// `i % nodes` on row `p{i % PROBE_ROWS}`, each spawned at its time (an
/// open loop: a slow answer does not delay the next write). The window
/// measured is after the first `skip`.
async fn paced_writes(
    http: &reqwest::Client,
    urls: &[String],
    rate: f64,
    duration: Duration,
    skip: Duration,
    base: Instant,
) -> Paced {
    let count = (rate * duration.as_secs_f64()).round() as usize;
    let start = Instant::now();
    let from = (start + skip - base).as_micros() as u64;
    let until = (start + duration - base).as_micros() as u64;
    let confirmed = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(Mutex::new(None));
    let mut tasks = Vec::with_capacity(count);
    let mut sent_in_window = 0;
    for i in 0..count {
        let at = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(at.into()).await;
        let node = i % urls.len();
        let url = format!("{}/v1/models/probes/p{}", urls[node], i % PROBE_ROWS);
        let (http, confirmed, errors) = (http.clone(), confirmed.clone(), errors.clone());
        let first_error = first_error.clone();
        let sent = base.elapsed().as_micros() as u64;
        if sent >= from && sent < until {
            sent_in_window += 1;
        }
        tasks.push(tokio::spawn(async move {
            let body = json!({"data": {"sentAtUs": sent, "viaNode": node}});
            match http.patch(&url).bearer_auth(KEY).json(&body).send().await {
                Ok(response) if response.status().is_success() => {
                    let _ = response.bytes().await;
                    confirmed.fetch_add(1, Ordering::Relaxed);
                }
                Ok(response) => {
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    first_error
                        .lock()
                        .unwrap()
                        .get_or_insert(format!("{status}: {body}"));
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                Err(error) => {
                    first_error.lock().unwrap().get_or_insert(error.to_string());
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    Paced {
        sent: sent_in_window,
        confirmed: confirmed.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        first_error: first_error.lock().unwrap().take(),
        from,
        until,
    }
}

/// Waits until `subscribers` hold `expected` receipts or `grace` passes.
async fn settle(subscribers: &Subscribers, expected: usize, grace: Duration) {
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && subscribers.received() < expected {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ------------------------------------------------------------ latency

struct LatencyFigures {
    subscribers: usize,
    rate: f64,
    /// µs, sorted: all, same node as the write, another node.
    all: Vec<u64>,
    same: Vec<u64>,
    other: Vec<u64>,
    expected: usize,
    errors: u64,
    first_error: Option<String>,
    cpu: CpuUse,
}

async fn latency(
    http: &reqwest::Client,
    nodes: &[ServerProcess],
    count: usize,
    base: Instant,
) -> LatencyFigures {
    let urls: Vec<String> = nodes.iter().map(|n| n.url.clone()).collect();
    let subscribers = Subscribers::connect(http, &urls, count, base).await;
    let rate = 100.0;
    let duration = Duration::from_secs(if quick() { 3 } else { 6 });
    let before = sample(nodes);
    let paced = paced_writes(http, &urls, rate, duration, Duration::from_secs(1), base).await;
    let expected = paced.confirmed as usize * count;
    settle(&subscribers, expected, Duration::from_secs(5)).await;
    let cpu = CpuUse::between(before, sample(nodes));
    let (mut all, mut same, mut other) = (Vec::new(), Vec::new(), Vec::new());
    for (node, sent, received, via) in subscribers.drain() {
        if sent < paced.from || sent >= paced.until {
            continue;
        }
        let micros = received.saturating_sub(sent);
        all.push(micros);
        if node == usize::from(via) {
            same.push(micros);
        } else {
            other.push(micros);
        }
    }
    for list in [&mut all, &mut same, &mut other] {
        list.sort_unstable();
    }
    LatencyFigures {
        subscribers: count,
        rate,
        all,
        same,
        other,
        expected: paced.sent as usize * count,
        errors: paced.errors,
        first_error: paced.first_error,
        cpu,
    }
}

// ------------------------------------------------------------ fan-out

struct Step {
    rate: f64,
    subscribers: usize,
    /// Deliveries per second asked for (writes/s times subscribers).
    asked: f64,
    /// Deliveries received inside the window, per second.
    delivered: f64,
    /// Of the writes sent in the window: deliveries received / expected.
    complete: f64,
    p50: f64,
    p99: f64,
    errors: u64,
    first_error: Option<String>,
    ended: usize,
    sustained: bool,
    cpu: CpuUse,
}

async fn fanout(
    http: &reqwest::Client,
    nodes: &[ServerProcess],
    first_per_node: usize,
    rate: f64,
    base: Instant,
) -> Vec<Step> {
    let urls: Vec<String> = nodes.iter().map(|n| n.url.clone()).collect();
    let mut subscribers = Subscribers::connect(http, &urls, 0, base).await;
    let step_secs = env_number("ABLO_BENCH_STEP_SECS", if quick() { 2 } else { 4 }) as u64;
    let duration = Duration::from_secs(step_secs.max(2));
    let skip = Duration::from_secs(1);
    let mut steps = Vec::new();
    let mut per_node = first_per_node as f64;
    while (per_node.round() as usize) <= MAX_PER_NODE {
        let count = per_node.round() as usize * urls.len();
        let more = count - subscribers.receipts.len();
        subscribers.add(http, &urls, more, base).await;
        subscribers.drain();
        let before = sample(nodes);
        let paced = paced_writes(http, &urls, rate, duration, skip, base).await;
        let cpu = CpuUse::between(before, sample(nodes));
        // Every write sent; give the deliveries up to two seconds more.
        let total = (rate * duration.as_secs_f64()).round() as usize;
        settle(&subscribers, total * count, Duration::from_secs(2)).await;
        let receipts = subscribers.drain();
        let window = (paced.until - paced.from) as f64 / 1e6;
        let delivered = receipts
            .iter()
            .filter(|(_, _, received, _)| *received >= paced.from && *received < paced.until)
            .count() as f64
            / window;
        let mut latencies: Vec<u64> = receipts
            .iter()
            .filter(|(_, sent, _, _)| *sent >= paced.from && *sent < paced.until)
            .map(|(_, sent, received, _)| received.saturating_sub(*sent))
            .collect();
        latencies.sort_unstable();
        let expected = paced.sent as usize * count;
        let complete = latencies.len() as f64 / expected.max(1) as f64;
        let (p50, p99) = if latencies.is_empty() {
            (f64::NAN, f64::NAN)
        } else {
            (
                ms(percentile(&latencies, 0.5)),
                ms(percentile(&latencies, 0.99)),
            )
        };
        let asked = rate * count as f64;
        let ended = subscribers.ended();
        let sustained = paced.errors == 0
            && ended == 0
            && latencies.len() >= expected
            && delivered >= SUSTAINED_SHARE * asked
            && p99 <= SUSTAINED_P99_MS;
        let step = Step {
            rate,
            subscribers: count,
            asked,
            delivered,
            complete,
            p50,
            p99,
            errors: paced.errors,
            first_error: paced.first_error,
            ended,
            sustained,
            cpu,
        };
        println!(
            "  {rate:.0} writes/s x {count}: {:.0} delivered/s of {asked:.0}, p50 {p50:.1} ms, p99 {p99:.1} ms, {}",
            step.delivered,
            if sustained {
                "sustained"
            } else {
                "not sustained"
            }
        );
        steps.push(step);
        if !sustained {
            break;
        }
        per_node *= STEP_FACTOR;
    }
    steps
}

// ------------------------------------------------------------ report

struct SetupFigures {
    kind: Kind,
    load_before: String,
    writes: WriteFigures,
    latency: LatencyFigures,
    steps: Vec<Step>,
}

impl SetupFigures {
    fn capacity(&self) -> Option<&Step> {
        self.steps
            .iter()
            .filter(|s| s.sustained)
            .max_by(|a, b| a.delivered.partial_cmp(&b.delivered).unwrap())
    }
}

fn pcts(sorted: &[u64]) -> String {
    if sorted.is_empty() {
        return "—".into();
    }
    format!(
        "{:.2} / {:.2}",
        ms(percentile(sorted, 0.5)),
        ms(percentile(sorted, 0.99))
    )
}

fn report(all: &[SetupFigures], writers: usize) {
    println!("\n### Confirmed writes per second ({writers} writers, round-robin over the nodes)\n");
    println!(
        "| set-up | writes/s (median) | runs | round trip p50 / p99 ms | errors | cores busy: {CPU_HEADER} |"
    );
    println!("|---|---|---|---|---|{CPU_RULE}|");
    for s in all {
        let w = &s.writes;
        let runs: Vec<String> = w.runs.iter().map(|r| format!("{r:.0}")).collect();
        println!(
            "| {} | {:.0} | {} | {:.2} / {:.2} | {} | {} |",
            s.kind.label(),
            w.median,
            runs.join(" / "),
            w.p50,
            w.p99,
            w.errors,
            w.cpu.cells()
        );
        if let Some(error) = &w.first_error {
            println!("    first error: {error}");
        }
    }
    println!("\n### Commit-to-delivery latency (write sent to delta received)\n");
    println!(
        "| set-up | subscribers | writes/s | deliveries | p50 / p99 ms | max ms | same node p50 / p99 | other node p50 / p99 | cores busy: {CPU_HEADER} |"
    );
    println!("|---|---|---|---|---|---|---|---|{CPU_RULE}|");
    for s in all {
        let l = &s.latency;
        println!(
            "| {} | {} | {:.0} | {} of {} | {} | {:.2} | {} | {} | {} |",
            s.kind.label(),
            l.subscribers,
            l.rate,
            l.all.len(),
            l.expected,
            pcts(&l.all),
            l.all.last().map_or(f64::NAN, |m| ms(*m)),
            pcts(&l.same),
            pcts(&l.other),
            l.cpu.cells()
        );
        if let Some(error) = &l.first_error {
            println!("    {} write errors, first: {error}", l.errors);
        }
    }
    println!("\n### Fan-out: paced writes to more subscribers per node each step\n");
    println!(
        "| set-up | writes/s | subscribers | deliveries/s asked | delivered/s | received | p50 ms | p99 ms | sustained | cores busy: {CPU_HEADER} |"
    );
    println!("|---|---|---|---|---|---|---|---|---|{CPU_RULE}|");
    for s in all {
        for step in &s.steps {
            let mut note = String::new();
            if step.errors > 0 {
                note.push_str(&format!(", {} write errors", step.errors));
            }
            if step.ended > 0 {
                note.push_str(&format!(", {} subscribers ended", step.ended));
            }
            println!(
                "| {} | {:.0} | {} | {:.0} | {:.0} | {:.1} % | {:.1} | {:.1} | {}{note} | {} |",
                s.kind.label(),
                step.rate,
                step.subscribers,
                step.asked,
                step.delivered,
                step.complete * 100.0,
                step.p50,
                step.p99,
                if step.sustained { "yes" } else { "no" },
                step.cpu.cells()
            );
            if let Some(error) = &step.first_error {
                println!("    first write error: {error}");
            }
        }
    }
    println!("\n### Summary\n");
    println!(
        "| set-up | load before | writes/s | latency p50 / p99 ms | fan-out capacity deliveries/s (at writes/s x subscribers, p99 ms) | highest delivered/s of any step |"
    );
    println!("|---|---|---|---|---|---|");
    for s in all {
        let capacity = s.capacity().map_or("none sustained".to_owned(), |c| {
            format!(
                "{:.0} ({:.0} x {}, {:.1})",
                c.delivered, c.rate, c.subscribers, c.p99
            )
        });
        let highest = s.steps.iter().map(|s| s.delivered).fold(0.0, f64::max);
        println!(
            "| {} | {} | {:.0} | {} | {capacity} | {highest:.0} |",
            s.kind.label(),
            s.load_before,
            s.writes.median,
            pcts(&s.latency.all)
        );
    }
    let find = |kind: Kind| all.iter().find(|s| s.kind == kind);
    let ratio = |a: Option<&SetupFigures>, b: Option<&SetupFigures>, label: &str| {
        let (Some(a), Some(b)) = (a, b) else {
            return;
        };
        let cap = |s: &SetupFigures| s.capacity().map(|c| c.delivered);
        let capacity = match (cap(a), cap(b)) {
            (Some(x), Some(y)) => format!("{:.2}x", x / y),
            _ => "n/a (a set-up sustained no step)".into(),
        };
        println!(
            "{label}: write rate {:.2}x, fan-out capacity {capacity}, latency p50 {:.2}x, p99 {:.2}x",
            a.writes.median / b.writes.median,
            ms(percentile(&a.latency.all, 0.5)) / ms(percentile(&b.latency.all, 0.5)),
            ms(percentile(&a.latency.all, 0.99)) / ms(percentile(&b.latency.all, 0.99)),
        );
    };
    println!();
    ratio(
        find(Kind::Postgres3),
        find(Kind::Postgres1),
        "PostgreSQL 3 nodes / 1 node",
    );
    ratio(
        find(Kind::Postgres1),
        find(Kind::Sqlite),
        "PostgreSQL 1 node / SQLite 1 node",
    );
    ratio(
        find(Kind::Postgres3),
        find(Kind::Sqlite),
        "PostgreSQL 3 nodes / SQLite 1 node",
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let only = std::env::var("ABLO_BENCH_ONLY").ok();
    let wants = |kind: Kind| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|w| w.trim() == kind.short()))
    };
    let writers = env_number("ABLO_BENCH_WRITERS", 32);
    let per_node = env_number("ABLO_BENCH_SUBSCRIBERS", FIRST_PER_NODE as usize);
    let fanout_rate = env_number("ABLO_BENCH_FANOUT_RATE", FANOUT_RATE as usize) as f64;
    let latency_subscribers = env_number("ABLO_BENCH_LATENCY_SUBSCRIBERS", 30);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "nodes bench: {writers} writers; latency {latency_subscribers} subscribers; fan-out {fanout_rate:.0} writes/s to {per_node} subscribers per node and then {STEP_FACTOR} times more each step; {cores} cores shared by every node, PostgreSQL and this program"
    );
    println!("load average before: {}", load());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(writers.max(64))
        .build()
        .unwrap();
    let base = Instant::now();
    let started = Instant::now();
    let mut all = Vec::new();
    for kind in [Kind::Sqlite, Kind::Postgres1, Kind::Postgres3] {
        if !wants(kind) {
            continue;
        }
        let load_before = load();
        println!("{} (load {load_before})", kind.label());
        let Some(nodes) = start(kind, &http).await else {
            println!(
                "  skipped: set ABLO_TEST_POSTGRES_URL (a role that may create databases) to run the PostgreSQL set-ups"
            );
            continue;
        };
        let ids: Vec<String> = (0..PROBE_ROWS).map(|i| format!("p{i}")).collect();
        create_rows(&http, &nodes[0].url, &ids).await;
        let writes = writes(&http, &nodes, writers).await;
        println!("  writes: {:.0}/s", writes.median);
        let latency = latency(&http, &nodes, latency_subscribers, base).await;
        println!("  latency: {}", pcts(&latency.all));
        let steps = fanout(&http, &nodes, per_node, fanout_rate, base).await;
        all.push(SetupFigures {
            kind,
            load_before,
            writes,
            latency,
            steps,
        });
        drop(nodes);
        // Let the killed nodes' PostgreSQL connections close.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    report(&all, writers);
    println!(
        "\nload average after: {} ({:.0} s in all)",
        load(),
        started.elapsed().as_secs_f64()
    );
}
