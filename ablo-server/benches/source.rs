//! Data Source benchmark: what backing a model by a Data Source costs a
//! confirmed write, against the same write to an Ablo-managed model, in the
//! same server and run.
//!
//! The source is a Rust app in this process (`ablo_runtime::source::handle`
//! over an in-memory table, served by axum on loopback), so the figures are
//! the server's own cost: signing, the HTTP round trip, the mirror and the
//! per-source lock, without a database behind the source.
//!
//! 1. latency of one confirmed single-row update, one client (p50, p99);
//! 2. confirmed updates per second with 16 concurrent clients, each on its
//!    own row.
//!
//! Medians of 3 runs. `cargo bench -p ablo-server --bench source`
//! (`ABLO_BENCH_QUICK=1` for a short smoke run).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ablo_runtime::source::{DataSource, Reply, handle};
use ablo_runtime::wire::{JsonObject, SourceCommit};
use ablo_runtime::{FieldDescriptor, FieldType, ModelDescriptor, SchemaDescriptor, TypeRegistry};
use serde_json::{Value, json};

const KEY: &str = "sk_test_source_bench_0123456789";
const SECRET: &str = "whsec_source_bench_secret_0123456789";

fn quick() -> bool {
    std::env::var_os("ABLO_BENCH_QUICK").is_some()
}

fn schema() -> SchemaDescriptor {
    let value = || {
        vec![FieldDescriptor::new(
            "value",
            "value",
            FieldType::Integer {
                bits: 64,
                signed: true,
            },
        )]
    };
    let model = |name: &str| ModelDescriptor {
        name: name.into(),
        type_name: name.into(),
        doc: None,
        fields: value(),
        sync_groups: vec![],
        ts: String::new(),
        json_schema: json!({}),
    };
    SchemaDescriptor::build(
        "SourceBench",
        vec![model("counters"), model("ledger")],
        TypeRegistry::default(),
    )
}

/// The source: rows in memory, written as asked.
#[derive(Default)]
struct Table(Mutex<HashMap<String, JsonObject>>);

impl DataSource for Table {
    async fn commit(&self, commit: SourceCommit) -> Result<Vec<JsonObject>, Reply> {
        let mut rows = self.0.lock().unwrap();
        Ok(commit
            .operations
            .iter()
            .map(|op| {
                let row = rows.entry(op.id.clone()).or_default();
                row.extend(op.input.clone());
                row.insert("id".into(), json!(op.id));
                row.clone()
            })
            .collect())
    }

    async fn load(&self, _model: &str, id: &str) -> Result<Option<JsonObject>, Reply> {
        Ok(self.0.lock().unwrap().get(id).cloned())
    }

    async fn list(&self, _model: &str, _query: Value) -> Result<Vec<JsonObject>, Reply> {
        Ok(self.0.lock().unwrap().values().cloned().collect())
    }
}

async fn serve_source() -> String {
    let table = Arc::new(Table::default());
    let app = axum::Router::new().route(
        "/source",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let table = table.clone();
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned)
                    };
                    let (status, answer) = handle(table.as_ref(), SECRET, header, &body).await;
                    (
                        axum::http::StatusCode::from_u16(status).unwrap(),
                        axum::Json(answer),
                    )
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/source", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

struct Setup {
    url: String,
    http: reqwest::Client,
    _server: ablo_server::RunningServer,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ablo_server::ServerConfig::new(dir.path())
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_api_key(KEY);
    config.source_poll_interval = Duration::from_secs(3600);
    let server = ablo_server::start(config).await.unwrap();
    let url = server.url();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let pushed = http
        .put(format!("{url}/v1/schema"))
        .bearer_auth(KEY)
        .json(&schema())
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status().as_u16(), 200);
    let source_url = serve_source().await;
    let configured = http
        .put(format!("{url}/v1/sources/bench"))
        .bearer_auth(KEY)
        .json(&json!({"url": source_url, "models": ["ledger"], "signingSecret": SECRET}))
        .send()
        .await
        .unwrap();
    assert_eq!(configured.status().as_u16(), 201);
    Setup {
        url,
        http,
        _server: server,
        _dir: dir,
    }
}

impl Setup {
    async fn create(&self, model: &str, id: &str) {
        let response = self
            .http
            .post(format!("{}/v1/models/{model}", self.url))
            .bearer_auth(KEY)
            .json(&json!({"id": id, "data": {"value": 0}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201);
    }

    async fn update(&self, model: &str, id: &str, value: i64) {
        let response = self
            .http
            .patch(format!("{}/v1/models/{model}/{id}", self.url))
            .bearer_auth(KEY)
            .json(&json!({"data": {"value": value}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
}

/// Latencies in milliseconds of `count` sequential updates of one row.
async fn latencies(setup: &Setup, model: &str, count: usize) -> Vec<f64> {
    let id = format!("lat_{}", uuid::Uuid::new_v4().simple());
    setup.create(model, &id).await;
    for value in 0..count / 10 {
        setup.update(model, &id, value as i64).await;
    }
    let mut taken = Vec::with_capacity(count);
    for value in 0..count {
        let start = Instant::now();
        setup.update(model, &id, value as i64).await;
        taken.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    taken.sort_by(|a, b| a.partial_cmp(b).unwrap());
    taken
}

/// Confirmed updates per second with `clients` concurrent clients.
async fn rate(setup: &Arc<Setup>, model: &str, clients: usize, window: Duration) -> f64 {
    let prefix = uuid::Uuid::new_v4().simple().to_string();
    for c in 0..clients {
        setup.create(model, &format!("{prefix}_{c}")).await;
    }
    let counted = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let (from, until) = (start + window / 5, start + window / 5 + window);
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (setup, counted, model) = (setup.clone(), counted.clone(), model.to_owned());
            let id = format!("{prefix}_{c}");
            tokio::spawn(async move {
                let mut value = 0;
                while Instant::now() < until {
                    value += 1;
                    setup.update(&model, &id, value).await;
                    let done = Instant::now();
                    if done >= from && done < until {
                        counted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    counted.load(Ordering::Relaxed) as f64 / window.as_secs_f64()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let setup = Arc::new(setup().await);
        let (count, window, runs) = if quick() {
            (50, Duration::from_millis(500), 1)
        } else {
            (500, Duration::from_secs(3), 3)
        };
        let mut p50 = (Vec::new(), Vec::new());
        let mut p99 = (Vec::new(), Vec::new());
        let mut rates = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let managed = latencies(&setup, "counters", count).await;
            let sourced = latencies(&setup, "ledger", count).await;
            p50.0.push(percentile(&managed, 0.5));
            p50.1.push(percentile(&sourced, 0.5));
            p99.0.push(percentile(&managed, 0.99));
            p99.1.push(percentile(&sourced, 0.99));
            rates.0.push(rate(&setup, "counters", 16, window).await);
            rates.1.push(rate(&setup, "ledger", 16, window).await);
        }
        let row = |label: &str, managed: f64, sourced: f64, unit: &str| {
            println!(
                "{label:32} Ablo-managed {managed:9.2} {unit}   Data Source {sourced:9.2} {unit}   ratio {:5.2}x",
                sourced / managed
            )
        };
        println!("Data Source vs Ablo-managed, medians of {runs} run(s):");
        row("update latency p50", median(p50.0), median(p50.1), "ms");
        row("update latency p99", median(p99.0), median(p99.1), "ms");
        row("updates/s, 16 clients", median(rates.0), median(rates.1), "/s");
    });
}
