//! Several `ablo-server` nodes on one PostgreSQL database, over real HTTP
//! and WebSocket on loopback: sync ids in commit order whichever node took
//! a commit, cross-node fan-out with nothing missed or repeated, stale
//! checks and idempotency across nodes, and capabilities minted or revoked
//! on one node holding on the others within a second. Skipped with a
//! notice when `ABLO_TEST_POSTGRES_URL` is not set.

mod authz_common;
mod server_common;

use std::time::{Duration, Instant};

use ablo_runtime::wire::ServerMessage;
use ablo_server::storage::StorageLocation;
use authz_common::{agent_request, http_with, mint};
use reqwest::StatusCode;
use serde_json::{Value, json};
use server_common::{Subscriber, TestServer, assert_error, schema, task};

/// Two nodes on a fresh database, the schema pushed on the first and seen
/// by the second.
async fn two_nodes(test: &str) -> Option<(TestServer, TestServer)> {
    let url = ablo_tests::postgres::fresh_database(test)?;
    let a = TestServer::start_node(StorageLocation::Postgres(url.clone())).await;
    let b = TestServer::start_node(StorageLocation::Postgres(url)).await;
    let (status, body) = a
        .http
        .put("/v1/schema", &serde_json::to_value(schema()).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let deadline = Instant::now() + Duration::from_secs(2);
    while b.http.get("/v1/schema").await.0 != StatusCode::OK {
        assert!(Instant::now() < deadline, "node b never saw the schema");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Some((a, b))
}

/// Reads deltas until sync id `last`, returning each delta's sync id.
async fn sync_ids_through(subscriber: &mut Subscriber, last: u64) -> Vec<u64> {
    let mut seen = Vec::new();
    while seen.last().copied().unwrap_or(0) < last {
        match subscriber.next().await.expect("socket open") {
            ServerMessage::Deltas { deltas } => seen.extend(deltas.iter().map(|d| d.sync_id.0)),
            ServerMessage::CaughtUp { .. } => {}
            other => panic!("unexpected: {other:?}"),
        }
    }
    seen
}

#[tokio::test]
async fn writes_on_both_nodes_reach_every_subscriber_once_in_sync_id_order() {
    let Some((a, b)) = two_nodes("fan-out").await else {
        return;
    };
    let mut on_a = a.subscribe(0).await;
    let mut on_b = b.subscribe(0).await;
    assert_eq!(on_a.until_caught_up().await.0, vec![]);
    assert_eq!(on_b.until_caught_up().await.0, vec![]);
    let per_node = 40;
    let write = |http: server_common::Http, prefix: &'static str| async move {
        let mut ids = Vec::new();
        for i in 0..per_node {
            let body = json!({"id": format!("{prefix}{i}"), "data": task(prefix)});
            let (status, row) = http.post("/v1/models/tasks", &body).await;
            assert_eq!(status, StatusCode::CREATED, "{row}");
            ids.push(row["stamp"].as_u64().unwrap());
        }
        ids
    };
    let started = Instant::now();
    let (from_a, from_b) = tokio::join!(write(a.http.clone(), "a"), write(b.http.clone(), "b"));
    let mut stamps: Vec<u64> = from_a.iter().chain(&from_b).copied().collect();
    stamps.sort();
    let total = 2 * per_node as u64;
    assert_eq!(
        stamps,
        (1..=total).collect::<Vec<_>>(),
        "every sync id once"
    );
    for subscriber in [&mut on_a, &mut on_b] {
        let seen = sync_ids_through(subscriber, total).await;
        assert_eq!(
            seen,
            (1..=total).collect::<Vec<_>>(),
            "in order, no gap, no repeat"
        );
    }
    eprintln!(
        "{total} commits on two nodes fanned out to both in {:?}",
        started.elapsed()
    );
    // A reader that has seen n has seen every commit up to n, on either node.
    for node in [&a, &b] {
        let (_, page) = node.http.get("/v1/sync/deltas?after=0&limit=1000").await;
        let ids: Vec<u64> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["syncId"].as_u64().unwrap())
            .collect();
        assert_eq!(ids, (1..=total).collect::<Vec<_>>());
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn stale_checks_and_idempotency_hold_across_nodes() {
    let Some((a, b)) = two_nodes("stale and idempotency").await else {
        return;
    };
    let (_, created) = a
        .http
        .post(
            "/v1/models/tasks",
            &json!({"id": "t1", "data": task("first")}),
        )
        .await;
    let read_at = created["stamp"].as_u64().unwrap();
    let (status, _) = b
        .http
        .patch(
            "/v1/models/tasks/t1",
            &json!({"data": {"title": "from b"}, "readAt": read_at}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let stale = a
        .http
        .patch(
            "/v1/models/tasks/t1",
            &json!({"data": {"title": "from a"}, "readAt": read_at}),
        )
        .await;
    assert_error(&stale, 409, "stale_context", "stale_context");
    assert_eq!(stale.1["error"]["details"]["current"]["title"], "from b");

    let commit = json!({
        "clientTxId": "tx_cross_node",
        "operations": [{"type": "create", "model": "tasks", "id": "t2", "data": task("once")}],
    });
    let (status, first) = a.http.commit(&commit).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, replay) = b.http.commit(&commit).await;
    assert_eq!(status, StatusCode::OK, "{replay}");
    assert_eq!(
        replay["syncId"], first["syncId"],
        "the other node replays the receipt"
    );
    let (_, page) = b.http.get("/v1/sync/deltas?after=0&limit=100").await;
    let creates_of_t2 = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["id"] == "t2")
        .count();
    assert_eq!(creates_of_t2, 1, "applied once");
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn capabilities_minted_or_revoked_on_one_node_hold_on_the_other_within_a_second() {
    let Some((a, b)) = two_nodes("capabilities").await else {
        return;
    };
    let (id, token) = mint(&a, agent_request(&["tasks.*"], &["*"])).await;
    let agent_on_b = http_with(&b, Some(&token));
    let minted = Instant::now();
    loop {
        let (status, body) = agent_on_b.get("/v1/models/tasks").await;
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(
            minted.elapsed() < Duration::from_secs(1),
            "not accepted on b within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (status, body): (StatusCode, Value) =
        a.http.delete(&format!("/v1/capabilities/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let revoked = Instant::now();
    loop {
        let response = agent_on_b.get("/v1/models/tasks").await;
        if response.0 == StatusCode::UNAUTHORIZED {
            assert_error(&response, 401, "authentication", "capability_revoked");
            break;
        }
        assert!(
            revoked.elapsed() < Duration::from_secs(1),
            "still accepted on b after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    eprintln!(
        "revocation held on the other node after {:?}",
        revoked.elapsed()
    );
    a.stop().await;
    b.stop().await;
}
