//! The live fan-out against a real server on a free port: subscribers of
//! different visibility classes (credential scope and asked groups) each
//! get their own selection of a commit, also when others of the same class
//! were served the message made for the class first, and a subscriber that
//! never reads does not delay one that does.

mod authz_common;
mod server_common;

use std::time::{Duration, Instant};

use ablo_runtime::wire::{ClientMessage, Delta, ServerMessage};
use authz_common::{Socket, agent_request, mint, project, ws_connect, ws_next, ws_subscribe};
use futures::SinkExt;
use reqwest::StatusCode;
use serde_json::json;
use server_common::{Subscriber, TestServer, task};
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(10);

/// A capability subscriber from the current head, caught up.
async fn scoped(server: &TestServer, operations: &[&str], groups: &[&str]) -> Socket {
    let (_, token) = mint(server, agent_request(operations, groups)).await;
    let mut socket = ws_connect(server, Some(&token)).await.unwrap();
    ws_subscribe(&mut socket, head(server).await, None).await;
    assert!(matches!(
        ws_next(&mut socket, WAIT).await,
        Some(ServerMessage::CaughtUp { .. })
    ));
    socket
}

async fn head(server: &TestServer) -> u64 {
    let (status, page) = server.http.get("/v1/sync/deltas?after=0&limit=1").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["stamp"].as_u64().unwrap()
}

/// The deltas of the next `deltas` message.
async fn next_deltas(socket: &mut Socket) -> Vec<Delta> {
    match ws_next(socket, WAIT).await {
        Some(ServerMessage::Deltas { deltas }) => deltas,
        other => panic!("expected deltas, got {other:?}"),
    }
}

/// The deltas of the next message of an API-key subscriber.
async fn key_deltas(subscriber: &mut Subscriber) -> Vec<Delta> {
    match subscriber.next().await {
        Some(ServerMessage::Deltas { deltas }) => deltas,
        other => panic!("expected deltas, got {other:?}"),
    }
}

/// `(id, is a removal)` of each delta.
fn shown(deltas: &[Delta]) -> Vec<(String, bool)> {
    deltas
        .iter()
        .map(|d| (d.id.clone(), d.data.is_null()))
        .collect()
}

/// Nothing but `pong` arrives after a ping: the socket was sent nothing.
async fn was_sent_nothing(socket: &mut Socket) {
    let ping = serde_json::to_string(&ClientMessage::Ping).unwrap();
    socket.send(Message::text(ping)).await.unwrap();
    assert_eq!(ws_next(socket, WAIT).await, Some(ServerMessage::Pong));
}

#[tokio::test]
async fn each_visibility_class_gets_its_own_selection_of_a_commit() {
    let server = TestServer::start().await;
    // Two subscribers of one class (the second is served the class's
    // message), another scope, a scope that reads no projects, and the API
    // key with and without a group list.
    let mut org_a = scoped(&server, &["projects.read"], &["org:a"]).await;
    let mut org_a_again = scoped(&server, &["projects.read"], &["org:a"]).await;
    let mut org_b = scoped(&server, &["projects.read"], &["org:b"]).await;
    let mut tickets_only = scoped(&server, &["tickets.read"], &["*"]).await;
    let mut key_b =
        Subscriber::connect(&server.url, head(&server).await, Some(vec!["org:b".into()])).await;
    key_b.until_caught_up().await;
    let mut key_all = Subscriber::connect(&server.url, head(&server).await, None).await;
    key_all.until_caught_up().await;

    let (status, body) = server
        .http
        .commit(&json!({"operations": [
            {"type": "create", "model": "projects", "id": "p_a", "data": project("a", "alpha")},
            {"type": "create", "model": "projects", "id": "p_b", "data": project("b", "beta")},
            {"type": "create", "model": "tasks", "id": "t_1", "data": task("no groups")},
        ]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let a = [("p_a".to_owned(), false)];
    let b = [("p_b".to_owned(), false)];
    assert_eq!(shown(&next_deltas(&mut org_a).await), a);
    assert_eq!(shown(&next_deltas(&mut org_a_again).await), a);
    assert_eq!(shown(&next_deltas(&mut org_b).await), b);
    let key_b_seen = key_deltas(&mut key_b).await;
    assert_eq!(shown(&key_b_seen), b);
    let all = key_deltas(&mut key_all).await;
    assert_eq!(
        all.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["p_a", "p_b", "t_1"]
    );

    // p_a moves to org:b: org:a's class gets a removal, org:b's the row.
    let (status, body) = server
        .http
        .patch("/v1/models/projects/p_a", &json!({"data": {"orgId": "b"}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let removal = next_deltas(&mut org_a).await;
    assert_eq!(shown(&removal), [("p_a".to_owned(), true)]);
    assert_eq!(removal[0].left_sync_groups, ["org:a"]);
    assert_eq!(next_deltas(&mut org_a_again).await, removal);
    let moved = next_deltas(&mut org_b).await;
    assert_eq!(shown(&moved), a);
    assert_eq!(moved[0].data["orgId"], "b");
    // Only org:b was ever visible to org:b's capability.
    assert!(moved[0].left_sync_groups.is_empty(), "{moved:?}");
    let key_b_moved = key_deltas(&mut key_b).await;
    assert_eq!(shown(&key_b_moved), a);
    assert_eq!(key_b_moved[0].left_sync_groups, ["org:a"]);
    was_sent_nothing(&mut tickets_only).await;
    was_sent_nothing(&mut org_a).await;
    server.stop().await;
}

#[tokio::test]
async fn a_subscriber_that_never_reads_does_not_delay_one_that_does() {
    // Long enough that the stalled subscriber stays stuck in a send for
    // the whole test instead of being dropped.
    let server = TestServer::start_with(|mut config| {
        config.ws_send_timeout = Duration::from_secs(60);
        config
    })
    .await;
    let mut stalled = Subscriber::connect_with_receive_buffer(&server.url, 0, 4096).await;
    stalled.until_caught_up().await;
    let mut fast = Subscriber::connect(&server.url, 0, None).await;
    fast.until_caught_up().await;
    // 200 commits of 4 KiB: far more than the stalled socket's buffers.
    let title = "x".repeat(4096);
    let mut slowest = Duration::ZERO;
    for i in 1..=200u64 {
        let sent = Instant::now();
        server.http.create_task(&format!("t{i}"), &title).await;
        let seen = fast.deltas_through(i).await;
        assert_eq!(seen.last().unwrap().sync_id.0, i);
        slowest = slowest.max(sent.elapsed());
    }
    // A fast subscriber waited on the stalled one would take the send
    // timeout (60 s) once its buffers filled.
    assert!(
        slowest < Duration::from_secs(5),
        "slowest delivery {slowest:?}"
    );
    // The stalled subscriber was held back, not dropped: it reads
    // everything, in order, once it reads.
    let caught = stalled.deltas_through(200).await;
    assert_eq!(
        caught.iter().map(|d| d.sync_id.0).collect::<Vec<_>>(),
        (1..=200).collect::<Vec<_>>()
    );
    server.stop().await;
}
