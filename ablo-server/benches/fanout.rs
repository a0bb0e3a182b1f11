//! Commit-to-delivery latency of the live fan-out with the real
//! `ablo-server` binary in its own process and this program (a
//! multi-threaded tokio runtime) as the load generator:
//!
//! - N WebSocket subscribers (1, 1000 and 10 000) in five visibility classes:
//!   the API key for every group, the API key subscribed to one group, and
//!   capabilities for one group, two groups and `team:*`;
//! - a writer commits at a fixed pace; each commit updates one row in each
//!   of four groups and carries its send time, so every subscriber gets one
//!   message per commit (with one to four deltas, by class) and records
//!   send to receipt, and receipt against the moment the writer had the
//!   commit's answer (confirmed and durable);
//! - the same with a share of extra subscribers that never read (4 KiB
//!   receive buffer), beside the run without them.
//!
//! `cargo bench -p ablo-server --bench fanout` (`ABLO_BENCH_QUICK=1` for a
//! short run, `ABLO_BENCH_ONLY=1|1000|10000|slow` for one scenario,
//! `ABLO_SERVER_BIN=path` to run another build of the server).

use std::time::{Duration, Instant};

use ablo_runtime::wire::ClientMessage;
use ablo_runtime::{FieldDescriptor, FieldType, ModelDescriptor, SchemaDescriptor, SyncId};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

mod support;

use support::{ServerProcess, Socket};

const KEY: &str = "sk_test_fanout_bench_0123456789";
/// The groups a commit touches, one row in each.
const GROUPS: [&str; 4] = ["g0", "g1", "g2", "g3"];
/// Bytes of filler in each row, so a message is about 1.5 KiB for a
/// subscriber of every group and a subscriber that does not read fills its
/// socket buffers within the run.
const PAD: usize = 256;

fn quick() -> bool {
    std::env::var_os("ABLO_BENCH_QUICK").is_some()
}

fn schema() -> SchemaDescriptor {
    let model = ModelDescriptor {
        name: "probes".into(),
        type_name: "Probe".into(),
        doc: None,
        fields: vec![
            FieldDescriptor::new("team", "team", FieldType::String),
            FieldDescriptor::new("pad", "pad", FieldType::String),
            FieldDescriptor::new(
                "sentAtUs",
                "sent_at_us",
                FieldType::Integer {
                    bits: 64,
                    signed: true,
                },
            ),
        ],
        sync_groups: vec!["team:{team}".into()],
        ts: String::new(),
        json_schema: json!({}),
    };
    SchemaDescriptor::build("Fanout", vec![model], Default::default())
}

async fn call(http: &reqwest::Client, method: reqwest::Method, url: String, body: Value) -> Value {
    let response = http
        .request(method, url)
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {body}");
    body
}

/// Who a subscriber is: the credential and the groups it subscribes to.
#[derive(Clone)]
struct Class {
    name: &'static str,
    token: String,
    groups: Option<Vec<String>>,
}

/// The schema, one row per group, and the five visibility classes.
async fn prepare(http: &reqwest::Client, url: &str) -> (Vec<Class>, u64) {
    call(
        http,
        reqwest::Method::PUT,
        format!("{url}/v1/schema"),
        serde_json::to_value(schema()).unwrap(),
    )
    .await;
    let creates: Vec<Value> = GROUPS
        .iter()
        .map(|g| json!({"type": "create", "model": "probes", "id": format!("p_{g}"), "data": {"team": g, "pad": "x".repeat(PAD), "sentAtUs": 0}}))
        .collect();
    call(
        http,
        reqwest::Method::POST,
        format!("{url}/v1/commits"),
        json!({"operations": creates}),
    )
    .await;
    let mint = |groups: &[&str]| {
        let body = json!({"participantKind": "agent", "participantId": format!("agent_{}", groups.join("_")), "operations": ["probes.read"], "syncGroups": groups, "ttlSeconds": 3600});
        async move {
            let minted = call(
                http,
                reqwest::Method::POST,
                format!("{url}/v1/capabilities"),
                body,
            )
            .await;
            minted["token"].as_str().unwrap().to_owned()
        }
    };
    let classes = vec![
        Class {
            name: "api key, every group",
            token: KEY.into(),
            groups: None,
        },
        Class {
            name: "api key, syncGroups [team:g3]",
            token: KEY.into(),
            groups: Some(vec!["team:g3".into()]),
        },
        Class {
            name: "capability team:g0",
            token: mint(&["team:g0"]).await,
            groups: None,
        },
        Class {
            name: "capability team:g0 + team:g1",
            token: mint(&["team:g0", "team:g1"]).await,
            groups: None,
        },
        Class {
            name: "capability team:*",
            token: mint(&["team:*"]).await,
            groups: None,
        },
    ];
    let head = call(
        http,
        reqwest::Method::GET,
        format!("{url}/v1/sync/deltas?after=0&limit=1"),
        Value::Null,
    )
    .await;
    (classes, head["stamp"].as_u64().unwrap())
}

/// Connects as `class` from `cursor` and waits for `caughtUp`; a `slow`
/// subscriber has a 4 KiB kernel receive buffer.
async fn subscriber(url: &str, class: &Class, cursor: u64, slow: bool) -> Socket {
    let addr: std::net::SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    if slow {
        tcp.set_recv_buffer_size(4096).unwrap();
    }
    let tcp = tcp.connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let mut request = format!("ws://{addr}/v1/sync/ws")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", class.token).parse().unwrap(),
    );
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (mut socket, _) = tokio_tungstenite::client_async_with_config(
        request,
        tokio_tungstenite::MaybeTlsStream::Plain(tcp),
        Some(config),
    )
    .await
    .unwrap();
    let subscribe = ClientMessage::Subscribe {
        cursor: Some(SyncId(cursor)),
        sync_groups: class.groups.clone(),
    };
    support::subscribe_until_caught_up(&mut socket, &subscribe).await;
    socket
}

/// `count` subscribers spread over the classes, connected 200 at a time.
async fn subscribers(
    url: &str,
    classes: &[Class],
    count: usize,
    cursor: u64,
    slow: bool,
) -> Vec<(usize, Socket)> {
    let mut sockets = Vec::with_capacity(count);
    for chunk in (0..count).collect::<Vec<_>>().chunks(200) {
        let batch = futures::future::join_all(chunk.iter().map(|&i| async move {
            let class = i % classes.len();
            (class, subscriber(url, &classes[class], cursor, slow).await)
        }))
        .await;
        sockets.extend(batch);
    }
    sockets
}

/// The first `"sentAtUs":<n>` in a message, without parsing the JSON.
fn sent_at(text: &str) -> Option<u64> {
    const FIELD: &str = "\"sentAtUs\":";
    let start = text.find(FIELD)? + FIELD.len();
    let digits = text[start..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0u64, |n, b| n * 10 + u64::from(b - b'0'));
    Some(digits)
}

/// One scenario's figures.
struct Figures {
    /// Microseconds, sorted, of every fast subscriber's measured messages,
    /// from the commit's request being sent.
    latencies: Vec<u64>,
    /// Microseconds, sorted, of the same messages from the commit's answer
    /// reaching the writer (the commit confirmed and durable); negative
    /// when a subscriber got the delta before the writer got its answer.
    after_confirmation: Vec<i64>,
    /// Per class: name, subscribers, median microseconds.
    by_class: Vec<(&'static str, usize, u64)>,
    /// Milliseconds of each commit's POST round trip, sorted.
    commits: Vec<f64>,
    /// Server CPU microseconds per message delivered while commits ran.
    cpu_per_message: f64,
}

fn percentile<T: Copy>(sorted: &[T], p: f64) -> T {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// `count` reading subscribers (plus `slow` that never read) receive
/// `warmup + commits` commits sent every `spacing`.
async fn run(count: usize, slow: usize, commits: usize, spacing: Duration) -> Figures {
    let server = ServerProcess::start(
        KEY,
        &[
            "--capability-rate-limit",
            "0",
            "--max-ws-per-credential",
            "100000",
            "--max-connections",
            "30000",
        ],
    );
    let http = reqwest::Client::new();
    let (classes, cursor) = prepare(&http, &server.url).await;
    let warmup = 10;
    let total = warmup + commits;
    let started = Instant::now();
    let sockets = subscribers(&server.url, &classes, count, cursor, false).await;
    let stalled = subscribers(&server.url, &classes, slow, cursor, true).await;
    println!(
        "  {count} subscribers (+{slow} not reading) connected in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let base = Instant::now();
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|(class, mut socket)| {
            tokio::spawn(async move {
                // (sent, received) of each measured message.
                let mut receipts = Vec::with_capacity(commits);
                let mut seen = 0;
                while seen < total {
                    let next = tokio::time::timeout(Duration::from_secs(30), socket.next());
                    let Ok(Some(Ok(Message::Text(text)))) = next.await else {
                        break;
                    };
                    let received = base.elapsed().as_micros() as u64;
                    let Some(sent) = sent_at(&text) else {
                        // A ping: unanswered ones end the connection.
                        if text.contains("\"ping\"") {
                            let pong = Message::text(r#"{"type":"pong"}"#);
                            if socket.send(pong).await.is_err() {
                                break;
                            }
                        }
                        continue;
                    };
                    seen += 1;
                    if seen > warmup {
                        receipts.push((sent, received));
                    }
                }
                (class, receipts)
            })
        })
        .collect();
    let cpu_before = server.cpu_seconds();
    let mut ticks = tokio::time::interval(spacing);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut round_trips = Vec::with_capacity(total);
    let mut confirmed_at = std::collections::HashMap::with_capacity(total);
    for _ in 0..total {
        ticks.tick().await;
        let sent = base.elapsed().as_micros() as u64;
        let operations: Vec<Value> = GROUPS
            .iter()
            .map(|g| json!({"type": "update", "model": "probes", "id": format!("p_{g}"), "data": {"sentAtUs": sent}}))
            .collect();
        call(
            &http,
            reqwest::Method::POST,
            format!("{}/v1/commits", server.url),
            json!({"operations": operations}),
        )
        .await;
        let confirmed = base.elapsed().as_micros() as u64;
        confirmed_at.insert(sent, confirmed);
        round_trips.push((confirmed - sent) as f64 / 1000.0);
    }
    let mut by_class: Vec<Vec<u64>> = vec![Vec::new(); classes.len()];
    // Every reader has every commit once the readers end.
    let mut latencies = Vec::with_capacity(count * commits);
    let mut after_confirmation = Vec::with_capacity(count * commits);
    for reader in readers {
        let (class, receipts) = reader.await.unwrap();
        for (sent, received) in receipts {
            let latency = received.saturating_sub(sent);
            by_class[class].push(latency);
            latencies.push(latency);
            after_confirmation.push(received as i64 - confirmed_at[&sent] as i64);
        }
    }
    assert_eq!(
        latencies.len(),
        count * commits,
        "every reading subscriber got every commit"
    );
    let cpu = server.cpu_seconds() - cpu_before;
    drop(stalled);
    latencies.sort_unstable();
    after_confirmation.sort_unstable();
    round_trips.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let by_class = by_class
        .into_iter()
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, mut l)| {
            l.sort_unstable();
            (classes[i].name, l.len() / commits, percentile(&l, 0.5))
        })
        .collect();
    Figures {
        latencies,
        after_confirmation,
        by_class,
        commits: round_trips,
        cpu_per_message: cpu * 1e6 / (total * count) as f64,
    }
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

fn report(label: &str, commits: usize, spacing: Duration, figures: &Figures) -> (f64, f64) {
    let l = &figures.latencies;
    let (p50, p99, max) = (
        ms(percentile(l, 0.5)),
        ms(percentile(l, 0.99)),
        ms(*l.last().unwrap()),
    );
    let a = &figures.after_confirmation;
    let (a50, a99) = (
        percentile(a, 0.5) as f64 / 1000.0,
        percentile(a, 0.99) as f64 / 1000.0,
    );
    println!(
        "| {label} | {commits} every {} ms | {p50:.2} | {p99:.2} | {max:.2} | {a50:.2} / {a99:.2} | {:.2} / {:.2} | {:.1} |",
        spacing.as_millis(),
        percentile(&figures.commits, 0.5),
        percentile(&figures.commits, 0.99),
        figures.cpu_per_message,
    );
    for (name, subscribers, median) in &figures.by_class {
        println!(
            "    {name}: {subscribers} subscribers, p50 {:.2} ms",
            ms(*median)
        );
    }
    (p50, p99)
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg").unwrap_or_default()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let only = std::env::var("ABLO_BENCH_ONLY").ok();
    let wants = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let commits = if quick() { 20 } else { 100 };
    println!("load average before: {}", load().trim());
    println!(
        "| subscribers | commits | p50 ms | p99 ms | max ms | after confirmation p50 / p99 ms | commit round trip p50 / p99 ms | server CPU µs per message |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut p99s = Vec::new();
    let mut scenario = |label: String, figures: Figures, spacing: Duration| {
        let figures = report(&label, commits, spacing, &figures);
        p99s.push((label, figures));
    };
    if wants("1") {
        // The commit path alone: one subscriber.
        let spacing = Duration::from_millis(20);
        scenario("1".into(), run(1, 0, commits, spacing).await, spacing);
    }
    if wants("1000") || wants("slow") {
        let spacing = Duration::from_millis(100);
        scenario("1000".into(), run(1000, 0, commits, spacing).await, spacing);
    }
    if wants("slow") {
        let spacing = Duration::from_millis(100);
        let figures = run(1000, 200, commits, spacing).await;
        scenario("1000 + 200 not reading".into(), figures, spacing);
    }
    if wants("10000") {
        let count = if quick() { 2000 } else { 10_000 };
        // Each commit is 10 000 sends: a slower pace leaves the two cores
        // room between commits.
        let spacing = Duration::from_millis(1000);
        scenario(
            count.to_string(),
            run(count, 0, commits, spacing).await,
            spacing,
        );
    }
    // Ratios to the 1000-subscriber run.
    let baseline = p99s.iter().position(|(label, _)| label == "1000");
    if let Some(base) = baseline {
        let (b50, b99) = p99s[base].1;
        for (label, (p50, p99)) in p99s.iter().skip(base + 1) {
            println!(
                "{label} vs 1000: p50 {:.2}x, p99 {:.2}x",
                p50 / b50,
                p99 / b99
            );
        }
    }
    println!("load average after: {}", load().trim());
}
