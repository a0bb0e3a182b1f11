//! Three `ablo-server` nodes on one PostgreSQL database: guarded increments
//! spread over every node lose no update, and a subscriber whose node stops
//! resumes on another node from its cursor with no gap and no repeat.
//! Skipped with a notice when `ABLO_TEST_POSTGRES_URL` is not set.

mod authz_common;
mod coordination_common;
mod server_common;

use ablo_runtime::SyncId;
use ablo_runtime::wire::ServerMessage;
use coordination_common::{ONE_AT_A_TIME, nodes};
use reqwest::StatusCode;
use serde_json::json;
use server_common::{Http, Subscriber};

/// Reads messages until a delta with sync id `last` arrived; the sync ids
/// of every delta seen, in arrival order.
async fn sync_ids_through(subscriber: &mut Subscriber, last: u64) -> Vec<u64> {
    let mut seen: Vec<u64> = Vec::new();
    while seen.last().copied().unwrap_or(0) < last {
        match subscriber.next().await.expect("socket open") {
            ServerMessage::Deltas { deltas } => seen.extend(deltas.iter().map(|d| d.sync_id.0)),
            ServerMessage::CaughtUp { .. } => {}
            other => panic!("unexpected: {other:?}"),
        }
    }
    seen
}

/// Adds one to `points` of task `counter` with a guarded write (`readAt`
/// of the row just read), retrying on `stale_context`; returns how many
/// attempts were refused as stale.
async fn increment(http: &Http) -> u32 {
    let mut refused = 0;
    loop {
        let (status, row) = http.get("/v1/models/tasks/counter").await;
        assert_eq!(status, StatusCode::OK, "{row}");
        let read_at = row["stamp"].as_u64().unwrap();
        let points = row["data"]["points"].as_i64().unwrap();
        let (status, body) = http
            .patch(
                "/v1/models/tasks/counter",
                &json!({"data": {"points": points + 1}, "readAt": read_at}),
            )
            .await;
        match status {
            StatusCode::OK => return refused,
            StatusCode::CONFLICT => {
                assert_eq!(body["error"]["code"], "stale_context", "{body}");
                refused += 1;
            }
            other => panic!("{other}: {body}"),
        }
    }
}

#[tokio::test]
async fn guarded_increments_spread_over_three_nodes_lose_no_update() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some((_, nodes)) = nodes("guarded increments", 3).await else {
        return;
    };
    nodes[0].http.create_task("counter", "counter").await;
    let (writers_per_node, increments) = (2, 5);
    let mut writers = Vec::new();
    for node in &nodes {
        for _ in 0..writers_per_node {
            let http = node.http.clone();
            writers.push(tokio::spawn(async move {
                let mut refused = 0;
                for _ in 0..increments {
                    refused += increment(&http).await;
                }
                refused
            }));
        }
    }
    let mut refused = 0;
    for writer in writers {
        refused += writer.await.unwrap();
    }
    let expected = (nodes.len() * writers_per_node * increments) as i64;
    for node in &nodes {
        let (_, row) = node.http.get("/v1/models/tasks/counter").await;
        assert_eq!(row["data"]["points"], expected, "on every node: {row}");
    }
    eprintln!("{expected} guarded increments over three nodes; {refused} stale refusals retried");
    assert!(
        refused > 0,
        "the writers raced (no refusal would mean no race)"
    );
    for node in nodes {
        node.stop().await;
    }
}

#[tokio::test]
async fn a_subscriber_whose_node_stops_resumes_on_another_with_no_gap() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some((_, mut nodes)) = nodes("subscriber failover", 3).await else {
        return;
    };
    let mut on_first = nodes[0].subscribe(0).await;
    assert_eq!(on_first.until_caught_up().await.0, vec![]);
    for i in 0..20 {
        nodes[1].http.create_task(&format!("t{i}"), "before").await;
    }
    let mut seen = sync_ids_through(&mut on_first, 10).await;
    let cursor = *seen.last().unwrap();
    nodes.remove(0).stop().await;
    // Writes go on through the third node while the subscriber is away.
    for i in 20..30 {
        nodes[1].http.create_task(&format!("t{i}"), "after").await;
    }
    let mut on_third = Subscriber::subscribe_from(&nodes[1].url, Some(SyncId(cursor)), None).await;
    seen.extend(sync_ids_through(&mut on_third, 30).await);
    assert_eq!(
        seen,
        (1..=30).collect::<Vec<_>>(),
        "resumed from sync id {cursor}: no gap, no repeat"
    );
    for node in nodes {
        node.stop().await;
    }
}
