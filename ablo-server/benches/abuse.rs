//! What a hostile or buggy client costs everyone else, each figure beside
//! its baseline in the same run, with the real `ablo-server` binary in its
//! own process and this program as the load generator:
//!
//! - **intents**: median latency of an unrelated `PATCH` on a server
//!   holding 200 000 intents of 200 agents, as a ratio to a second server
//!   holding none, the updates alternating between the two;
//! - **replay**: server RSS per WebSocket subscriber that asks for the
//!   whole log (`cursor: 0`, 300 000 deltas) and never reads, at 1000 such
//!   connections, beside the RSS per subscriber that is caught up.
//!
//! `cargo bench -p ablo-server --bench abuse` (`ABLO_BENCH_QUICK=1` for a
//! short run, `ABLO_BENCH_ONLY=intents|replay` for one scenario,
//! `ABLO_SERVER_BIN=path` for another server binary).

use std::time::{Duration, Instant};

use ablo_runtime::wire::ClientMessage;
use ablo_runtime::{FieldDescriptor, FieldType, ModelDescriptor, SchemaDescriptor, SyncId};
use futures::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

mod support;

use support::ServerProcess;

const KEY: &str = "sk_test_abuse_bench_0123456789";

fn quick() -> bool {
    std::env::var_os("ABLO_BENCH_QUICK").is_some()
}

fn schema() -> SchemaDescriptor {
    let model = ModelDescriptor {
        name: "items".into(),
        type_name: "Item".into(),
        doc: None,
        fields: vec![FieldDescriptor::new(
            "n",
            "n",
            FieldType::Integer {
                bits: 64,
                signed: true,
            },
        )],
        sync_groups: vec![],
        ts: String::new(),
        json_schema: json!({}),
    };
    SchemaDescriptor::build("Abuse", vec![model], Default::default())
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Value,
) -> (u16, Value) {
    let response = http
        .request(method, url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn push_schema(http: &reqwest::Client, url: &str) {
    let (status, body) = call(
        http,
        reqwest::Method::PUT,
        format!("{url}/v1/schema"),
        KEY,
        serde_json::to_value(schema()).unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    samples[samples.len() / 2]
}

/// Milliseconds of one update of the row `unrelated`.
async fn patch_once(http: &reqwest::Client, url: &str, n: usize) -> f64 {
    let started = Instant::now();
    let (status, body) = call(
        http,
        reqwest::Method::PATCH,
        format!("{url}/v1/models/items/unrelated"),
        KEY,
        json!({"data": {"n": n}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    started.elapsed().as_secs_f64() * 1000.0
}

/// The server for the intents scenario, with `items` rows `i0..` and
/// `unrelated`.
async fn intents_server(http: &reqwest::Client, items: usize) -> ServerProcess {
    let server = ServerProcess::start(
        KEY,
        &[
            "--capability-rate-limit",
            "0",
            "--max-intents-per-participant",
            "1000",
            "--max-intents-per-row",
            "1000",
        ],
    );
    push_schema(http, &server.url).await;
    let operations: Vec<Value> = (0..items)
        .map(|i| format!("i{i}"))
        .chain(["unrelated".to_owned()])
        .map(|id| json!({"type": "create", "model": "items", "id": id, "data": {"n": 0}}))
        .collect();
    for chunk in operations.chunks(1000) {
        let (status, body) = call(
            http,
            reqwest::Method::POST,
            format!("{}/v1/commits", server.url),
            KEY,
            json!({"operations": chunk}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    server
}

/// Two servers side by side, one holding no intents (the baseline) and one
/// holding `agents × per_agent`; unrelated updates alternate between them
/// (in alternating order), so both see the same noise of a shared machine.
async fn intents() {
    let (agents, per_agent) = if quick() { (20, 1000) } else { (200, 1000) };
    let http = reqwest::Client::new();
    let items = 1000;
    let baseline = intents_server(&http, items).await;
    let loaded = intents_server(&http, items).await;

    let started = Instant::now();
    let mut tasks = Vec::new();
    for agent in 0..agents {
        let (http, url) = (http.clone(), loaded.url.clone());
        tasks.push(tokio::spawn(async move {
            let (status, minted) = call(&http, reqwest::Method::POST, format!("{url}/v1/capabilities"), KEY,
                json!({"participantKind": "agent", "participantId": format!("agent_{agent}"), "operations": ["items.read"], "syncGroups": ["*"], "ttlSeconds": 3600})).await;
            assert_eq!(status, 201, "{minted}");
            let token = minted["token"].as_str().unwrap().to_owned();
            for i in 0..per_agent {
                // Spread over 1000 rows: 200 intents on each at full size.
                let (status, body) = call(&http, reqwest::Method::POST, format!("{url}/v1/intents"), &token,
                    json!({"target": {"model": "items", "id": format!("i{}", i % items)}, "action": "look", "ttlMs": 600_000})).await;
                assert_eq!(status, 201, "{body}");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let seeded = started.elapsed();
    let (_, held) = call(
        &http,
        reqwest::Method::GET,
        format!("{}/v1/intents?model=items&id=i0", loaded.url),
        KEY,
        Value::Null,
    )
    .await;

    let samples = if quick() { 200 } else { 2000 };
    for n in 0..500 {
        patch_once(&http, &baseline.url, n).await;
        patch_once(&http, &loaded.url, n).await;
    }
    let (mut without, mut with, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for n in 0..samples {
        let (a, b) = if n % 2 == 0 {
            let a = patch_once(&http, &baseline.url, n).await;
            (a, patch_once(&http, &loaded.url, n).await)
        } else {
            let b = patch_once(&http, &loaded.url, n).await;
            (patch_once(&http, &baseline.url, n).await, b)
        };
        without.push(a);
        with.push(b);
        ratios.push(b / a);
    }
    let (without, with) = (median(without), median(with));
    println!(
        "intents: {agents} agents x {per_agent} intent requests in {:.1} s ({} active on row i0); unrelated PATCH median {without:.3} ms on the server holding none, {with:.3} ms on the one holding them: {:.3}x (median of {samples} paired ratios {:.3}x)",
        seeded.as_secs_f64(),
        held["data"].as_array().map_or(0, Vec::len),
        with / without,
        median(ratios),
    );
}

/// A WebSocket with a small receive buffer that subscribes from `cursor`
/// and is then never read.
async fn stuck_subscriber(
    url: &str,
    token: &str,
    cursor: u64,
) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    let addr: std::net::SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(addr).await.unwrap();
    let mut request = format!("ws://{addr}/v1/sync/ws")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::client_async(request, tcp).await.unwrap();
    let subscribe = ClientMessage::Subscribe {
        cursor: Some(SyncId(cursor)),
        sync_groups: None,
    };
    ws.send(Message::text(serde_json::to_string(&subscribe).unwrap()))
        .await
        .unwrap();
    ws
}

async fn replay() {
    let (deltas, connections) = if quick() {
        (30_000, 200)
    } else {
        (300_000, 1000)
    };
    let server = ServerProcess::start(
        KEY,
        &[
            "--capability-rate-limit",
            "0",
            "--max-ws-per-credential",
            "100000",
        ],
    );
    let http = reqwest::Client::new();
    push_schema(&http, &server.url).await;
    // Commits of 10 rows, written by 8 writers at once (the writer groups
    // them): a log of `deltas` entries in small commits.
    let (rows, per_commit, writers) = (1000usize, 10usize, 8usize);
    let started = Instant::now();
    let commits = deltas / per_commit;
    let commit_of = move |commit: usize, kind: &str| {
        let operations: Vec<Value> = (0..per_commit)
            .map(|i| {
                let row = (commit * per_commit + i) % rows;
                json!({"type": kind, "model": "items", "id": format!("r{row}"), "data": {"n": commit}})
            })
            .collect();
        json!({"operations": operations})
    };
    // The rows first, then the updates.
    let creates = rows / per_commit;
    for commit in 0..creates {
        let (status, body) = call(
            &http,
            reqwest::Method::POST,
            format!("{}/v1/commits", server.url),
            KEY,
            commit_of(commit, "create"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let (http, url) = (http.clone(), server.url.clone());
        tasks.push(tokio::spawn(async move {
            for commit in (creates + writer..commits).step_by(writers) {
                let body = commit_of(commit, "update");
                let (status, body) = call(
                    &http,
                    reqwest::Method::POST,
                    format!("{url}/v1/commits"),
                    KEY,
                    body,
                )
                .await;
                assert_eq!(status, 200, "{body}");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let (_, head) = call(
        &http,
        reqwest::Method::GET,
        format!("{}/v1/sync/deltas?after=0&limit=1", server.url),
        KEY,
        Value::Null,
    )
    .await;
    let head = head["stamp"].as_u64().unwrap();
    println!(
        "replay: {deltas} deltas logged in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let measure = |cursor: u64| {
        let url = server.url.clone();
        async move {
            let mut sockets = Vec::with_capacity(connections);
            for _ in 0..connections {
                sockets.push(stuck_subscriber(&url, KEY, cursor).await);
            }
            sockets
        }
    };
    let warm = measure(head).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = server.rss_kib();
    let caught_up = measure(head).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = server.rss_kib();
    let before_anon = server.status_field("RssAnon:");
    let stuck = measure(0).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = server.rss_kib();
    println!(
        "replay: with the subscribers at cursor 0: {} server threads, RssAnon {} KiB, RssFile {} KiB (before: RssAnon {before_anon} KiB)",
        server.status_field("Threads:"),
        server.status_field("RssAnon:"),
        server.status_field("RssFile:"),
    );
    let idle_per = (idle.saturating_sub(before)) as f64 / connections as f64;
    let stuck_per = (after.saturating_sub(idle)) as f64 / connections as f64;
    println!(
        "replay: RSS {before} KiB -> {idle} KiB with {connections} caught-up subscribers ({idle_per:.1} KiB each) -> {after} KiB with {connections} more at cursor 0 not reading ({stuck_per:.1} KiB each, {:.2}x a caught-up one)",
        stuck_per / idle_per.max(0.1)
    );
    drop((warm, caught_up, stuck));
}

#[tokio::main]
async fn main() {
    let only = std::env::var("ABLO_BENCH_ONLY").ok();
    if only.as_deref().is_none_or(|o| o == "intents") {
        intents().await;
    }
    if only.as_deref().is_none_or(|o| o == "replay") {
        replay().await;
    }
}
