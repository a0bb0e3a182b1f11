//! Shared setup of the authorization and audit tests: minting capabilities
//! with the API key, HTTP clients bearing a given token, and WebSocket
//! connections with a token.

#![allow(dead_code)]

use std::time::Duration;

use ablo_runtime::SyncId;
use ablo_runtime::wire::{ClientMessage, ServerMessage};
use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::server_common::{Http, TestServer};

/// Mints a capability with the server's API key; returns `(id, token)`.
pub async fn mint(server: &TestServer, request: Value) -> (String, String) {
    let (status, body) = server.http.post("/v1/capabilities", &request).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (
        body["id"].as_str().unwrap().to_owned(),
        body["token"].as_str().unwrap().to_owned(),
    )
}

/// A capability request for an agent acting for `u_1`.
pub fn agent_request(operations: &[&str], groups: &[&str]) -> Value {
    json!({
        "participantKind": "agent",
        "participantId": "agent_7",
        "onBehalfOf": {"kind": "user", "id": "u_1"},
        "operations": operations,
        "syncGroups": groups,
        "ttlSeconds": 600,
        "label": "test agent",
    })
}

/// An HTTP client with `token` as its bearer (`None`: no header).
pub fn http_with(server: &TestServer, token: Option<&str>) -> Http {
    let mut http = Http::new(&server.url, "unused");
    http.key = token.map(str::to_owned);
    http
}

/// A WebSocket to the test server.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a WebSocket with `token`; `Err(status)` when the upgrade is refused.
pub async fn ws_connect(server: &TestServer, token: Option<&str>) -> Result<Socket, u16> {
    let mut request = format!("{}/v1/sync/ws", server.url.replacen("http", "ws", 1))
        .into_client_request()
        .unwrap();
    if let Some(token) = token {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(other) => panic!("unexpected ws failure: {other}"),
    }
}

/// Sends `subscribe`.
pub async fn ws_subscribe(socket: &mut Socket, cursor: u64, groups: Option<Vec<&str>>) {
    let message = ClientMessage::Subscribe {
        cursor: Some(SyncId(cursor)),
        sync_groups: groups.map(|g| g.into_iter().map(str::to_owned).collect()),
    };
    socket
        .send(Message::text(serde_json::to_string(&message).unwrap()))
        .await
        .unwrap();
}

/// The next server message other than `ping`; `None` once closed.
pub async fn ws_next(socket: &mut Socket, wait: Duration) -> Option<ServerMessage> {
    loop {
        let frame = tokio::time::timeout(wait, socket.next())
            .await
            .expect("a server message in time");
        match frame {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return None,
            Some(Ok(Message::Text(text))) => {
                let message: ServerMessage = serde_json::from_str(&text).unwrap();
                if message != ServerMessage::Ping {
                    return Some(message);
                }
            }
            Some(Ok(_)) => {}
        }
    }
}

/// A project row body in org `org`.
pub fn project(org: &str, name: &str) -> Value {
    json!({"orgId": org, "name": name})
}
