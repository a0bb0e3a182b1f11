//! Claim hand-over latency: the time from a holder's release
//! (`DELETE /v1/intents/{id}` sent) to the `granted` event of the next
//! waiter arriving at a WebSocket subscriber, with 10 and 100 waiters in
//! line. Every participant is an agent with its own capability; the server
//! runs in this process on an embedded SQLite store.
//!
//! `cargo bench -p ablo-server --bench handover` (`ABLO_BENCH_QUICK=1` for a
//! short run).

use std::time::{Duration, Instant};

use ablo_runtime::wire::{ClientMessage, IntentEventKind, ServerMessage};
use ablo_runtime::{FieldDescriptor, FieldType, ModelDescriptor, SchemaDescriptor, SyncId};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const KEY: &str = "sk_test_handover_bench_0123456789";

fn schema() -> SchemaDescriptor {
    let model = ModelDescriptor {
        name: "items".into(),
        type_name: "Item".into(),
        doc: None,
        fields: vec![FieldDescriptor::new("title", "title", FieldType::String)],
        sync_groups: vec![],
        ts: String::new(),
        json_schema: json!({}),
    };
    SchemaDescriptor::build("Handover", vec![model], Default::default())
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// One run: a holder and `waiters` in line; every release is timed until
/// the next grant is seen on the WebSocket. Returns milliseconds.
async fn run(api: &Api, ws_url: &str, tokens: &[String], waiters: usize, row: &str) -> Vec<f64> {
    let mut request = ws_url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {KEY}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("ws");
    let subscribe = ClientMessage::Subscribe {
        cursor: Some(SyncId(u64::MAX / 2)),
        sync_groups: None,
    };
    socket
        .send(Message::text(serde_json::to_string(&subscribe).unwrap()))
        .await
        .unwrap();
    let claim =
        json!({"target": {"model": "items", "id": row}, "action": "update", "exclusive": true});
    let mut ids = Vec::new();
    for (n, token) in tokens.iter().take(waiters + 1).enumerate() {
        let (status, body) = api
            .call(
                reqwest::Method::POST,
                "/v1/intents",
                token,
                Some(claim.clone()),
            )
            .await;
        assert_eq!(status, if n == 0 { 201 } else { 202 }, "{body}");
        ids.push(body["intent"]["id"].as_str().unwrap().to_owned());
    }
    let mut samples = Vec::with_capacity(waiters);
    for n in 0..waiters {
        let started = Instant::now();
        let (status, _) = api
            .call(
                reqwest::Method::DELETE,
                &format!("/v1/intents/{}", ids[n]),
                &tokens[n],
                None,
            )
            .await;
        assert_eq!(status, 200);
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
                .await
                .expect("a grant in time")
                .expect("socket open")
                .expect("frame");
            let Message::Text(text) = frame else { continue };
            if let Ok(ServerMessage::Intent {
                event: IntentEventKind::Granted,
                intent,
                ..
            }) = serde_json::from_str(&text)
            {
                assert_eq!(intent.id, ids[n + 1], "grants follow arrival order");
                break;
            }
        }
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    api.call(
        reqwest::Method::DELETE,
        &format!("/v1/intents/{}", ids[waiters]),
        &tokens[waiters],
        None,
    )
    .await;
    let _ = socket.close(None).await;
    samples
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::var_os("ABLO_BENCH_QUICK").is_some();
    let dir = tempfile::tempdir().unwrap();
    let config = ablo_server::ServerConfig::new(dir.path())
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_api_key(KEY);
    let server = ablo_server::start(config).await.expect("server starts");
    let api = Api {
        http: reqwest::Client::new(),
        base: server.url(),
    };
    let ws_url = format!("{}/v1/sync/ws", server.url().replacen("http", "ws", 1));
    let (status, body) = api
        .call(
            reqwest::Method::PUT,
            "/v1/schema",
            KEY,
            Some(serde_json::to_value(schema()).unwrap()),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api
        .call(
            reqwest::Method::POST,
            "/v1/models/items",
            KEY,
            Some(json!({"id": "hot", "data": {"title": "contended"}})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mut tokens = Vec::new();
    for n in 0..=100 {
        let (status, body) = api
            .call(
                reqwest::Method::POST,
                "/v1/capabilities",
                KEY,
                Some(json!({
                    "participantKind": "agent",
                    "participantId": format!("agent_{n}"),
                    "operations": ["items.*"],
                    "syncGroups": ["*"],
                    "ttlSeconds": 3600,
                    "label": "handover bench",
                })),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        tokens.push(body["token"].as_str().unwrap().to_owned());
    }
    println!("claim hand-over latency (release sent -> next waiter's grant seen on a WebSocket)");
    for (waiters, runs) in [
        (10usize, if quick { 3 } else { 30 }),
        (100, if quick { 1 } else { 5 }),
    ] {
        // Warm-up run, not counted.
        run(&api, &ws_url, &tokens, waiters, "hot").await;
        let mut all = Vec::new();
        for _ in 0..runs {
            all.extend(run(&api, &ws_url, &tokens, waiters, "hot").await);
        }
        all.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "  {waiters:>3} waiters: {} hand-overs, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            all.len(),
            percentile(&all, 0.5),
            percentile(&all, 0.99),
            all.last().copied().unwrap_or_default()
        );
    }
    server.shutdown().await.expect("shutdown");
}
