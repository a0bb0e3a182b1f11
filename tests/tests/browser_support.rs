//! What the server does for browsers: CORS for configured origins only, a
//! WebSocket upgrade from a page of another origin refused, and on
//! `subscribe` a snapshot of the intents and presence the credential may
//! see, so a page opened late shows who is working on what.

mod authz_common;
mod server_common;

use std::time::Duration;

use ablo_runtime::wire::{ClientMessage, PresenceState, ServerMessage, Target};
use authz_common::{agent_request, mint, project, ws_connect, ws_next, ws_subscribe};
use futures::SinkExt;
use reqwest::StatusCode;
use serde_json::json;
use server_common::TestServer;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::test]
async fn cors_answers_configured_origins_only() {
    let server = TestServer::start_with(|mut config| {
        config.allowed_origins = vec!["http://localhost:5173".into()];
        config
    })
    .await;
    let client = reqwest::Client::new();
    let preflight = |origin: &str| {
        client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/v1/models/tasks", server.url),
            )
            .header("origin", origin)
            .header("access-control-request-method", "PATCH")
            .header(
                "access-control-request-headers",
                "authorization,content-type,idempotency-key",
            )
            .send()
    };
    let allowed = preflight("http://localhost:5173").await.unwrap();
    assert!(allowed.status().is_success());
    let headers = allowed.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "http://localhost:5173"
    );
    let methods = headers["access-control-allow-methods"].to_str().unwrap();
    assert!(methods.contains("PATCH"), "{methods}");
    let refused = preflight("http://evil.example").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    // A real request from the page exposes the request id.
    let answer = client
        .get(format!("{}/v1/models/tasks", server.url))
        .header("origin", "http://localhost:5173")
        .bearer_auth(server_common::API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let exposed = answer.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(exposed.contains("x-request-id"), "{exposed}");
    server.stop().await;
}

// conformance: intents.late-reader
#[tokio::test]
async fn a_late_subscriber_is_shown_the_intents_and_presence_it_may_see() {
    let server = TestServer::start().await;
    for (id, org) in [("pa", "a"), ("pb", "b")] {
        let (status, body) = server
            .http
            .post(
                "/v1/models/projects",
                &json!({"id": id, "data": project(org, "n")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = server
            .http
            .post(
                "/v1/intents",
                &json!({"target": {"model": "projects", "id": id}, "action": "edit"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let mut editor = ws_connect(&server, Some(server_common::API_KEY))
        .await
        .unwrap();
    ws_subscribe(&mut editor, u64::MAX / 2, None).await;
    for id in ["pa", "pb"] {
        let presence = ClientMessage::Presence {
            target: Target {
                model: "projects".into(),
                id: id.into(),
                field: None,
            },
            state: PresenceState::Editing,
        };
        editor
            .send(Message::text(serde_json::to_string(&presence).unwrap()))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    let (_, token) = mint(&server, agent_request(&["projects.read"], &["org:a"])).await;
    let mut late = ws_connect(&server, Some(&token)).await.unwrap();
    ws_subscribe(&mut late, 0, None).await;
    let mut intents = Vec::new();
    let mut presence = Vec::new();
    while let Some(message) = ws_next(&mut late, Duration::from_secs(5)).await {
        match message {
            ServerMessage::Intent { intent, .. } => intents.push(intent.target.id),
            ServerMessage::Presence { presence: p } => {
                presence.push(p.target.id);
                if presence.len() == 1 {
                    break;
                }
            }
            _ => {}
        }
    }
    assert_eq!(intents, ["pa"]);
    assert_eq!(presence, ["pa"]);
    late.send(Message::text(
        serde_json::to_string(&ClientMessage::Ping).unwrap(),
    ))
    .await
    .unwrap();
    assert_eq!(
        ws_next(&mut late, Duration::from_secs(5)).await,
        Some(ServerMessage::Pong),
        "nothing about org:b follows"
    );
    server.stop().await;
}

/// Opens `/v1/sync/ws` with the API key and, when given, an `Origin`
/// header; `Err((status, body))` when the upgrade is refused.
async fn ws_from_origin(
    server: &TestServer,
    origin: Option<&str>,
) -> Result<authz_common::Socket, (u16, serde_json::Value)> {
    let mut request = format!("{}/v1/sync/ws", server.url.replacen("http", "ws", 1))
        .into_client_request()
        .unwrap();
    let headers = request.headers_mut();
    let bearer = format!("Bearer {}", server_common::API_KEY);
    headers.insert("authorization", bearer.parse().unwrap());
    if let Some(origin) = origin {
        headers.insert("origin", origin.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = response.body().clone().unwrap_or_default();
            let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
            Err((response.status().as_u16(), body))
        }
        Err(other) => panic!("unexpected ws failure: {other}"),
    }
}

/// A socket that was let in really is live: it subscribes and is caught up.
async fn assert_live(socket: &mut authz_common::Socket) {
    ws_subscribe(socket, 0, None).await;
    loop {
        match ws_next(socket, Duration::from_secs(5)).await {
            Some(ServerMessage::CaughtUp { .. }) => return,
            Some(_) => {}
            None => panic!("the socket closed before caughtUp"),
        }
    }
}

#[tokio::test]
async fn websocket_upgrades_from_origins_not_allowed_are_refused() {
    let server = TestServer::start_with(|mut config| {
        config.allowed_origins = vec!["http://localhost:5173".into()];
        config
    })
    .await;
    // A page of the allowed origin, and a client that is no browser (no Origin).
    for origin in [Some("http://localhost:5173"), None] {
        let mut socket = ws_from_origin(&server, origin)
            .await
            .unwrap_or_else(|e| panic!("{origin:?} refused: {e:?}"));
        assert_live(&mut socket).await;
    }
    // Another site's page, the same host on another port or scheme, and an
    // opaque origin: 403 with the envelope, before the token is looked at.
    for origin in [
        "http://evil.example",
        "http://localhost:5174",
        "https://localhost:5173",
        "null",
    ] {
        let Err((status, body)) = ws_from_origin(&server, Some(origin)).await else {
            panic!("{origin} was let in");
        };
        assert_eq!(status, 403, "{origin}: {body}");
        assert_eq!(body["error"]["type"], "permission", "{body}");
        assert_eq!(body["error"]["code"], "origin_not_allowed", "{body}");
        assert_eq!(body["error"]["details"]["origin"], origin, "{body}");
        assert!(body["error"]["requestId"].is_string(), "{body}");
    }
    server.stop().await;

    // `*` admits every origin; with no origins configured nothing is checked.
    for origins in [vec!["*".to_owned()], vec![]] {
        let server = TestServer::start_with(|mut config| {
            config.allowed_origins = origins;
            config
        })
        .await;
        let mut socket = ws_from_origin(&server, Some("http://evil.example"))
            .await
            .expect("no origin check");
        assert_live(&mut socket).await;
        server.stop().await;
    }
}
