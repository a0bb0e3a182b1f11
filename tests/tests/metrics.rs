//! `GET /metrics` against a real server: after commits, a refusal, a
//! subscriber and an intent, a scrape parses with a Prometheus text parser
//! and every documented series is there with the counts the traffic made.

mod authz_common;
mod server_common;

use std::time::Duration;

use authz_common::{agent_request, http_with, mint, ws_connect, ws_next, ws_subscribe};
use prometheus_parse::{Scrape, Value as Sample};
use reqwest::StatusCode;
use serde_json::json;
use server_common::{TestServer, assert_error, task};

fn value(scrape: &Scrape, name: &str, label: Option<(&str, &str)>) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
        .map(|s| match &s.value {
            Sample::Counter(v) | Sample::Gauge(v) | Sample::Untyped(v) => *v,
            Sample::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            Sample::Summary(_) => 0.0,
        })
        .sum()
}

#[tokio::test]
async fn a_scrape_parses_and_counts_the_traffic() {
    let server = TestServer::start().await;
    for i in 0..3 {
        server.http.create_task(&format!("t{i}"), "x").await;
    }
    let stale = server
        .http
        .patch(
            "/v1/models/tasks/t0",
            &json!({"data": {"title": "y"}, "readAt": 0}),
        )
        .await;
    assert_error(&stale, 409, "stale_context", "stale_context");
    let (status, _) = server
        .http
        .post(
            "/v1/intents",
            &json!({"target": {"model": "tasks", "id": "t1"}, "action": "edit"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let mut socket = ws_connect(&server, Some(server_common::API_KEY))
        .await
        .unwrap();
    ws_subscribe(&mut socket, 0, None).await;
    let _ = ws_next(&mut socket, Duration::from_secs(5)).await;
    let _ = ws_next(&mut socket, Duration::from_secs(5)).await;
    server
        .http
        .create_task("t3", task("live")["title"].as_str().unwrap())
        .await;
    // The intent on t1 comes first (subscribers are told who is working
    // when they join); the live delta after it.
    loop {
        match ws_next(&mut socket, Duration::from_secs(5)).await {
            Some(ablo_runtime::wire::ServerMessage::Deltas { .. }) => break,
            Some(_) => {}
            None => panic!("the live delta did not arrive"),
        }
    }

    let response = server
        .http
        .client
        .get(format!("{}/metrics", server.url))
        .bearer_auth(server_common::API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    assert_eq!(
        value(&scrape, "ablo_commits_total", Some(("status", "confirmed"))),
        4.0,
        "{text}"
    );
    assert_eq!(
        value(
            &scrape,
            "ablo_commit_rejections_total",
            Some(("code", "stale_context"))
        ),
        1.0
    );
    assert_eq!(
        value(&scrape, "ablo_commit_latency_seconds_count", None),
        5.0,
        "{text}"
    );
    assert!(value(&scrape, "ablo_writer_group_size_count", None) >= 4.0);
    assert_eq!(value(&scrape, "ablo_websocket_connections", None), 1.0);
    assert_eq!(value(&scrape, "ablo_websocket_subscriptions", None), 1.0);
    assert_eq!(value(&scrape, "ablo_replays_total", None), 1.0);
    assert_eq!(value(&scrape, "ablo_intents_active", None), 1.0);
    assert!(value(&scrape, "ablo_fanout_lag_seconds_count", None) >= 1.0);
    // Set at scrape time; Data Source calls appear once a source is called
    // (`tests/tests/source_rust.rs` has sources).
    assert!(text.contains("ablo_writer_queue_depth 0"), "{text}");

    // Capabilities cannot read it.
    let (_, token) = mint(&server, agent_request(&["*"], &["*"])).await;
    let agent = http_with(&server, Some(&token));
    assert_error(
        &agent.get("/metrics").await,
        403,
        "permission",
        "api_key_required",
    );
    server.stop().await;
}
