//! Every documented limit of `docs/security.md`, each driven past its
//! bound against a real server on a free port: the answer is a typed error
//! (or a closed socket, for the connection limits), nothing is lost, and
//! the server keeps serving everyone else.

mod authz_common;
mod server_common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ablo_runtime::wire::{ClientMessage, ServerMessage};
use authz_common::{agent_request, http_with, mint, ws_connect, ws_next, ws_subscribe};
use futures::SinkExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use server_common::{TestServer, assert_error, task};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

fn nested(depth: usize) -> Value {
    let mut value = json!("leaf");
    for _ in 0..depth {
        value = json!({ "n": value });
    }
    value
}

#[tokio::test]
async fn values_nested_too_deep_are_refused_and_nothing_else_is_affected() {
    let server = TestServer::start().await;
    let mut deep = task("deep");
    deep["meta"] = nested(125);
    let refused = server
        .http
        .post("/v1/models/tasks", &json!({"id": "t_deep", "data": deep}))
        .await;
    assert_error(&refused, 400, "validation", "nesting_too_deep");
    assert_eq!(refused.1["error"]["details"]["maxDepth"], 32);
    // The same retried: the same answer, never a 500.
    let again = server
        .http
        .post("/v1/models/tasks", &json!({"id": "t_deep", "data": deep}))
        .await;
    assert_error(&again, 400, "validation", "nesting_too_deep");
    // Within the limit, stored and read back.
    let mut fine = task("fine");
    fine["meta"] = nested(31);
    let (status, body) = server
        .http
        .post("/v1/models/tasks", &json!({"id": "t_fine", "data": fine}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, row) = server.http.get("/v1/models/tasks/t_fine").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(row["data"]["meta"], nested(31));
    assert_error(
        &server.http.get("/v1/models/tasks/t_deep").await,
        404,
        "not_found",
        "row_not_found",
    );
    server.stop().await;
}

#[tokio::test]
async fn intents_are_capped_per_participant_and_per_row() {
    let server = TestServer::start_with(|mut config| {
        config.coordination.max_per_participant = 3;
        config.coordination.max_per_row = 2;
        config
    })
    .await;
    for i in 0..4 {
        server.http.create_task(&format!("t{i}"), "x").await;
    }
    let intent = |id: &str| json!({"target": {"model": "tasks", "id": id}, "action": "edit"});
    for id in ["t0", "t1", "t2"] {
        let (status, body) = server.http.post("/v1/intents", &intent(id)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let over = server.http.post("/v1/intents", &intent("t3")).await;
    assert_error(&over, 409, "busy", "intent_limit");
    assert_eq!(over.1["error"]["details"]["limit"], 3);

    // Another participant: the row's own cap.
    let (_, token) = mint(&server, agent_request(&["tasks.*"], &["*"])).await;
    let agent = http_with(&server, Some(&token));
    let (status, body) = agent.post("/v1/intents", &intent("t0")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, second) = mint(
        &server,
        json!({"participantKind": "agent", "participantId": "agent_other",
               "operations": ["tasks.*"], "syncGroups": ["*"]}),
    )
    .await;
    let other = http_with(&server, Some(&second));
    let full_row = other.post("/v1/intents", &intent("t0")).await;
    assert_error(&full_row, 409, "busy", "row_intent_limit");
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_loses_the_socket() {
    let server = TestServer::start_with(|mut config| {
        config.header_read_timeout = Duration::from_millis(300);
        config
    })
    .await;
    let addr = server.url.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buffer = [0u8; 1024];
    // The server answers (408 or nothing) and closes within the deadline.
    let closed = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match slow.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the slow socket was never closed");
    assert!(started.elapsed() < Duration::from_secs(2));
    // Everyone else is served.
    assert_eq!(server.http.get("/v1/health").await.0, StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn connections_past_the_cap_are_closed_and_freed_slots_are_reused() {
    let server = TestServer::start_with(|mut config| {
        config.max_connections = 3;
        config
    })
    .await;
    let addr = server.url.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut extra = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let _ = extra
        .write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let mut buffer = [0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(2), extra.read(&mut buffer))
        .await
        .expect("the extra connection is closed at once");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let fresh = server_common::Http::new(&server.url, server_common::API_KEY);
    assert_eq!(fresh.get("/v1/health").await.0, StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn websockets_are_capped_per_credential_and_floods_are_cut_off() {
    let server = TestServer::start_with(|mut config| {
        config.max_ws_per_credential = 2;
        config.ws_messages_per_second = 5;
        config
    })
    .await;
    let (_, token) = mint(&server, agent_request(&["tasks.read"], &["*"])).await;
    let first = ws_connect(&server, Some(&token)).await.unwrap();
    let mut second = ws_connect(&server, Some(&token)).await.unwrap();
    assert_eq!(ws_connect(&server, Some(&token)).await.err(), Some(429));
    // Another credential is not affected.
    assert!(
        ws_connect(&server, Some(server_common::API_KEY))
            .await
            .is_ok()
    );
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = ws_connect(&server, Some(&token)).await.unwrap();

    ws_subscribe(&mut second, u64::MAX / 2, None).await;
    assert!(matches!(
        ws_next(&mut second, Duration::from_secs(5)).await,
        Some(ServerMessage::CaughtUp { .. })
    ));
    let ping = serde_json::to_string(&ClientMessage::Ping).unwrap();
    for _ in 0..40 {
        if second.send(Message::text(ping.clone())).await.is_err() {
            break;
        }
    }
    let mut cut_off = false;
    while let Some(message) = ws_next(&mut second, Duration::from_secs(5)).await {
        if let ServerMessage::Error { error } = message {
            assert_eq!(error.code, "rate_limited");
            cut_off = true;
        }
    }
    assert!(cut_off, "a flood of 40 messages was never cut off");
    ws_subscribe(&mut third, u64::MAX / 2, None).await;
    assert!(matches!(
        ws_next(&mut third, Duration::from_secs(5)).await,
        Some(ServerMessage::CaughtUp { .. })
    ));
    server.stop().await;
}

#[tokio::test]
async fn capabilities_are_rate_limited_by_default() {
    let server = TestServer::start().await;
    let (_, token) = mint(&server, agent_request(&["tasks.read"], &["*"])).await;
    let agent = http_with(&server, Some(&token));
    let limited = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (agent, limited) = (agent.clone(), limited.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..100 {
                let request = agent
                    .client
                    .get(format!("{}/v1/models/tasks?limit=1", agent.base))
                    .bearer_auth(agent.key.as_deref().unwrap());
                let response = request.send().await.unwrap();
                if response.status() == StatusCode::TOO_MANY_REQUESTS {
                    assert!(response.headers().get("retry-after").is_some());
                    limited.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert!(
        limited.load(Ordering::Relaxed) > 0,
        "800 requests at once never met the default limit"
    );
    // The API key is not limited by the capability default.
    assert_eq!(server.http.get("/v1/models/tasks").await.0, StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn list_and_delta_pages_are_bounded_in_bytes() {
    let server = TestServer::start_with(|mut config| {
        config.max_page_bytes = 2_000;
        config
    })
    .await;
    for i in 0..10 {
        let title = format!("{i}-{}", "x".repeat(500));
        server.http.create_task(&format!("t{i}"), &title).await;
    }
    let (_, page) = server.http.get("/v1/models/tasks?limit=100").await;
    let first = page["data"].as_array().unwrap().len();
    assert!((1..10).contains(&first), "{first} rows in a 2 kB page");
    let mut seen = first;
    let mut cursor = page["nextCursor"].as_str().map(str::to_owned);
    while let Some(next) = cursor {
        let (_, page) = server
            .http
            .get(&format!("/v1/models/tasks?limit=100&cursor={next}"))
            .await;
        seen += page["data"].as_array().unwrap().len();
        cursor = page["nextCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, 10);
    let (_, deltas) = server.http.get("/v1/sync/deltas?after=0&limit=100").await;
    let count = deltas["data"].as_array().unwrap().len();
    assert!((1..10).contains(&count), "{count} deltas in a 2 kB page");
    assert_eq!(deltas["hasMore"], true);
    server.stop().await;
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_and_database_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("ablo-data");
    let config = ablo_server::ServerConfig::new(&dir)
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_api_key(server_common::API_KEY);
    let server = ablo_server::start(config).await.unwrap();
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("ablo.db")), 0o600);
    server.shutdown().await.unwrap();
}

/// A Data Source endpoint that redirects, or answers with a huge body.
async fn misbehaving_source(hits: Arc<AtomicUsize>) -> String {
    use axum::response::IntoResponse;
    let target_hits = hits.clone();
    let app = axum::Router::new()
        .route(
            "/redirect",
            axum::routing::post(|| async {
                (
                    axum::http::StatusCode::TEMPORARY_REDIRECT,
                    [("location", "/target")],
                )
                    .into_response()
            }),
        )
        .route(
            "/target",
            axum::routing::post(move || {
                target_hits.fetch_add(1, Ordering::Relaxed);
                async { axum::Json(json!({"rows": []})) }
            }),
        )
        .route(
            "/huge",
            axum::routing::post(|| async { "x".repeat(17 * 1024 * 1024) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let _ = hits;
    url
}

#[tokio::test]
async fn data_sources_get_no_redirects_no_huge_answers_and_no_metadata_addresses() {
    let server = TestServer::start_with(|mut config| {
        config.source_retry.attempts = 1;
        config
    })
    .await;
    let hits = Arc::new(AtomicUsize::new(0));
    let base = misbehaving_source(hits.clone()).await;
    let configure = |name: &str, url: String, model: &str| {
        let http = server.http.clone();
        let (name, model) = (name.to_owned(), model.to_owned());
        async move {
            http.put(
                &format!("/v1/sources/{name}"),
                &json!({"url": url, "models": [model]}),
            )
            .await
        }
    };
    let metadata = configure(
        "metadata",
        "http://169.254.169.254/latest".into(),
        "counters",
    )
    .await;
    assert_error(&metadata, 422, "validation", "invalid_source");

    let (status, body) = configure("redirecting", format!("{base}/redirect"), "counters").await;
    assert!(status.is_success(), "{body}");
    let refused = server
        .http
        .post(
            "/v1/models/counters",
            &json!({"id": "c1", "data": {"value": 1}}),
        )
        .await;
    assert_eq!(
        refused.1["error"]["code"], "source_rejected",
        "{}",
        refused.1
    );
    assert_eq!(refused.1["error"]["details"]["status"], 307);
    assert_eq!(hits.load(Ordering::Relaxed), 0, "the redirect was followed");

    let (status, body) = configure("huge", format!("{base}/huge"), "projects").await;
    assert!(status.is_success(), "{body}");
    // A 502 on purpose: the raw client, since the shared helper treats any
    // 5xx as a server bug.
    let too_big = server
        .http
        .client
        .post(format!("{}/v1/models/projects", server.url))
        .bearer_auth(server_common::API_KEY)
        .json(&json!({"id": "p1", "data": {"orgId": "a", "name": "n"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status().as_u16(), 502);
    let body: Value = too_big.json().await.unwrap();
    assert_eq!(body["error"]["code"], "source_invalid_response", "{body}");
    server.stop().await;
}
