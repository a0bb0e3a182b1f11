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

#[path = "../support/mod.rs"]
mod support;

mod cpu;
mod fanout;
mod latency;
mod report;
mod subscribers;
mod writes;

use cpu::*;
use fanout::*;
use latency::*;
use report::*;
use subscribers::*;
use writes::*;

use support::{ServerProcess, Socket};

pub(crate) const KEY: &str = "sk_test_nodes_bench_0123456789abcd";
/// Rows the paced writes rotate over.
pub(crate) const PROBE_ROWS: usize = 64;
/// The fan-out steps' write rate, writes per second (well under what one
/// PostgreSQL node confirms, so the steps load the fan-out, not the
/// commit path).
pub(crate) const FANOUT_RATE: f64 = 50.0;
/// Subscribers per node of the first fan-out step.
pub(crate) const FIRST_PER_NODE: f64 = 100.0;
/// Each step's subscribers over the previous one's.
pub(crate) const STEP_FACTOR: f64 = 1.5;
/// At most this many subscribers per node (this program holds one file
/// descriptor per subscriber).
pub(crate) const MAX_PER_NODE: usize = 4000;
/// A sustained step's p99 commit-to-delivery latency is at most this.
pub(crate) const SUSTAINED_P99_MS: f64 = 250.0;
/// A sustained step delivers at least this share of what it asked for.
pub(crate) const SUSTAINED_SHARE: f64 = 0.95;

pub(crate) fn quick() -> bool {
    std::env::var_os("ABLO_BENCH_QUICK").is_some()
}

pub(crate) fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub(crate) fn schema() -> SchemaDescriptor {
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

pub(crate) fn percentile<T: Copy>(sorted: &[T], p: f64) -> T {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

pub(crate) fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

pub(crate) fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_owned()
}

// ------------------------------------------------------------------ set-ups

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    Sqlite,
    Postgres1,
    Postgres3,
}

impl Kind {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Kind::Sqlite => "SQLite, 1 node",
            Kind::Postgres1 => "PostgreSQL, 1 node",
            Kind::Postgres3 => "PostgreSQL, 3 nodes",
        }
    }

    pub(crate) fn short(self) -> &'static str {
        match self {
            Kind::Sqlite => "sqlite",
            Kind::Postgres1 => "pg1",
            Kind::Postgres3 => "pg3",
        }
    }
}

/// The server options every node runs with: the benchmark is its own many
/// clients, so the per-credential limits are lifted.
pub(crate) const SERVER_OPTIONS: [&str; 6] = [
    "--capability-rate-limit",
    "0",
    "--max-ws-per-credential",
    "100000",
    "--max-connections",
    "30000",
];

/// Starts the set-up's nodes, pushes the schema through the first and
/// waits until every node knows it. `None` when PostgreSQL is not set up.
pub(crate) async fn start(kind: Kind, http: &reqwest::Client) -> Option<Vec<ServerProcess>> {
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
pub(crate) async fn create_rows(http: &reqwest::Client, url: &str, ids: &[String]) {
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
