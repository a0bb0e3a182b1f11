//! Revocation and expiry hold within a second: the next request fails with
//! 401 and an open WebSocket that used the capability is told and closed.

mod authz_common;
mod server_common;

use std::time::{Duration, Instant};

use ablo_runtime::wire::ServerMessage;
use authz_common::{agent_request, http_with, mint, ws_connect, ws_next, ws_subscribe};
use reqwest::StatusCode;
use serde_json::json;
use server_common::{TestServer, assert_error, task};

#[tokio::test]
async fn revoking_closes_open_sockets_and_fails_the_next_request_within_a_second() {
    let server = TestServer::start().await;
    let (id, token) = mint(&server, agent_request(&["tasks.*"], &["*"])).await;
    let agent = http_with(&server, Some(&token));
    let (status, _) = agent
        .post("/v1/models/tasks", &json!({"id": "t1", "data": task("a")}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let mut socket = ws_connect(&server, Some(&token)).await.unwrap();
    ws_subscribe(&mut socket, 0, None).await;
    loop {
        match ws_next(&mut socket, Duration::from_secs(10)).await.unwrap() {
            ServerMessage::CaughtUp { .. } => break,
            ServerMessage::Deltas { .. } => {}
            other => panic!("{other:?}"),
        }
    }

    let revoked_at = Instant::now();
    let (status, body) = server.http.delete(&format!("/v1/capabilities/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let next = agent.get("/v1/models/tasks/t1").await;
    assert_error(&next, 401, "authentication", "capability_revoked");
    assert!(revoked_at.elapsed() < Duration::from_secs(1));

    match ws_next(&mut socket, Duration::from_secs(1)).await {
        Some(ServerMessage::Error { error }) => assert_eq!(error.code, "capability_revoked"),
        other => panic!("expected the revocation, got {other:?}"),
    }
    assert!(ws_next(&mut socket, Duration::from_secs(1)).await.is_none());
    let closed_after = revoked_at.elapsed();
    assert!(
        closed_after < Duration::from_secs(1),
        "closed after {closed_after:?}"
    );
    eprintln!("socket closed {closed_after:?} after revocation");

    // Revoking again answers the same record; unknown ids are 404.
    let (status, again) = server.http.delete(&format!("/v1/capabilities/{id}")).await;
    assert_eq!(
        (status, again["status"].as_str()),
        (StatusCode::OK, Some("revoked"))
    );
    assert_error(
        &server.http.delete("/v1/capabilities/cap_unknown").await,
        404,
        "not_found",
        "capability_not_found",
    );
    server.stop().await;
}

#[tokio::test]
async fn an_expiring_capability_closes_its_socket() {
    let server = TestServer::start().await;
    let (_, token) = mint(
        &server,
        json!({"participantKind": "agent", "participantId": "brief", "operations": ["*"],
               "syncGroups": ["*"], "ttlSeconds": 1}),
    )
    .await;
    let mut socket = ws_connect(&server, Some(&token)).await.unwrap();
    ws_subscribe(&mut socket, 0, None).await;
    let started = Instant::now();
    let mut code = None;
    while let Some(message) = ws_next(&mut socket, Duration::from_secs(3)).await {
        if let ServerMessage::Error { error } = message {
            code = Some(error.code);
        }
    }
    assert_eq!(code.as_deref(), Some("capability_expired"));
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    server.stop().await;
}

#[tokio::test]
async fn a_capability_may_revoke_itself_but_not_others() {
    let server = TestServer::start().await;
    let (own_id, own) = mint(&server, agent_request(&["*"], &["*"])).await;
    let (other_id, _) = mint(&server, agent_request(&["*"], &["*"])).await;
    let agent = http_with(&server, Some(&own));
    assert_error(
        &agent.delete(&format!("/v1/capabilities/{other_id}")).await,
        403,
        "permission",
        "api_key_required",
    );
    assert_error(
        &agent.get(&format!("/v1/capabilities/{other_id}")).await,
        403,
        "permission",
        "api_key_required",
    );
    let (status, body) = agent.delete(&format!("/v1/capabilities/{own_id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_error(
        &agent.get("/v1/schema").await,
        401,
        "authentication",
        "capability_revoked",
    );
    // Revocation survives a restart.
    let data = server.dir.path().to_owned();
    let url_key = server_common::API_KEY;
    let TestServer {
        server: running,
        dir,
        storage,
        ..
    } = server;
    running.unwrap().shutdown().await.unwrap();
    let config = ablo_server::ServerConfig::new(&data)
        .with_storage(storage)
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_api_key(url_key);
    let restarted = ablo_server::start(config).await.unwrap();
    let response = reqwest::Client::new()
        .get(format!("{}/v1/schema", restarted.url()))
        .bearer_auth(&own)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "capability_revoked");
    restarted.shutdown().await.unwrap();
    drop(dir);
}
