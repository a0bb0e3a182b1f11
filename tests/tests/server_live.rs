//! Live fan-out over real WebSockets: writes seen by other clients, resume
//! from a cursor with every delta exactly once, no gap at the replay/live
//! seam, sync-group filters, pings, and slow subscribers told to resync.

mod server_common;

use std::time::Duration;

use ablo_runtime::wire::{ClientMessage, ServerMessage};
use reqwest::StatusCode;
use serde_json::json;
use server_common::{Subscriber, TestServer, task};

#[tokio::test]
async fn two_clients_see_each_others_writes_live() {
    let server = TestServer::start().await;
    let mut alice = server.subscribe(0).await;
    let mut bob = server.subscribe(0).await;
    assert_eq!(alice.until_caught_up().await, (vec![], 0));
    assert_eq!(bob.until_caught_up().await, (vec![], 0));

    let row = server.http.create_task("a1", "from alice").await;
    let seen_by_bob = bob.deltas_through(1).await;
    assert_eq!(seen_by_bob.len(), 1);
    assert_eq!(seen_by_bob[0].id, "a1");
    assert_eq!(seen_by_bob[0].data, row);

    let (status, _) = server
        .http
        .patch("/v1/models/tasks/a1", &json!({"data": {"status": "done"}}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let seen_by_alice = alice.deltas_through(2).await;
    assert_eq!(
        seen_by_alice
            .iter()
            .map(|d| d.sync_id.0)
            .collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(seen_by_alice[1].changed_fields, ["status"]);
    assert_eq!(seen_by_alice[1].data["status"], "done");
}

#[tokio::test]
async fn a_reconnecting_subscriber_gets_every_delta_once_in_order() {
    let server = TestServer::start().await;
    let mut subscriber = server.subscribe(0).await;
    subscriber.until_caught_up().await;
    for i in 0..5 {
        server.http.create_task(&format!("before{i}"), "x").await;
    }
    let first = subscriber.deltas_through(5).await;
    let cursor = first.last().unwrap().sync_id.0;
    drop(subscriber);

    // Others write while it is away.
    for i in 0..20 {
        server.http.create_task(&format!("away{i}"), "x").await;
    }
    let mut back = server.subscribe(cursor).await;
    let (replayed, caught_up_at) = back.until_caught_up().await;
    let ids: Vec<u64> = replayed.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        ids,
        (6..=25).collect::<Vec<_>>(),
        "every missed delta once, in order"
    );
    assert_eq!(caught_up_at, 25);
    server.http.create_task("after", "x").await;
    let live = back.deltas_through(26).await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].id, "after");
}

#[tokio::test]
async fn no_gap_and_no_duplicate_while_writes_race_the_subscribe() {
    let server = TestServer::start().await;
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let http = server.http.clone();
            tokio::spawn(async move {
                for i in 0..40 {
                    let body = json!({"id": format!("w{w}_{i}"), "data": task("x")});
                    assert_eq!(
                        http.post("/v1/models/tasks", &body).await.0,
                        StatusCode::CREATED
                    );
                }
            })
        })
        .collect();
    // Subscribe several times while the writers run.
    let mut subscribers = Vec::new();
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(15)).await;
        subscribers.push(server.subscribe(0).await);
    }
    for writer in writers {
        writer.await.unwrap();
    }
    for mut subscriber in subscribers {
        let mut sync_ids = Vec::new();
        while sync_ids.last() != Some(&160) {
            match subscriber.next().await.expect("open") {
                ServerMessage::Deltas { deltas } => {
                    sync_ids.extend(deltas.iter().map(|d| d.sync_id.0))
                }
                ServerMessage::CaughtUp { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(sync_ids, (1..=160).collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn sync_group_filters_limit_what_a_subscriber_receives() {
    let server = TestServer::start().await;
    let mut org1 = Subscriber::connect(&server.url, 0, Some(vec!["org:org_1".into()])).await;
    org1.until_caught_up().await;
    let project = |id: &str, org: &str| json!({"id": id, "data": {"orgId": org, "name": id}});
    server
        .http
        .post("/v1/models/projects", &project("p1", "org_1"))
        .await;
    server
        .http
        .post("/v1/models/projects", &project("p2", "org_2"))
        .await;
    server.http.create_task("t1", "default group").await;
    // p1 moves to org_2: org_1 subscribers hear of it as a removal.
    server
        .http
        .patch(
            "/v1/models/projects/p1",
            &json!({"data": {"orgId": "org_2"}}),
        )
        .await;
    server
        .http
        .post("/v1/models/projects", &project("p3", "org_1"))
        .await;
    let seen = org1.deltas_through(5).await;
    let summary: Vec<_> = seen.iter().map(|d| (d.sync_id.0, d.id.as_str())).collect();
    assert_eq!(summary, [(1, "p1"), (4, "p1"), (5, "p3")]);
    assert_eq!(seen[1].left_sync_groups, ["org:org_1"]);
    assert!(seen[1].data.is_null(), "a removal, without the new row");
    assert!(seen[1].sync_groups.is_empty());
    // Replay applies the same filter.
    let mut late = Subscriber::connect(&server.url, 0, Some(vec!["default".into()])).await;
    let (replayed, cursor) = late.until_caught_up().await;
    assert_eq!(replayed, [(3, "t1".to_owned())]);
    assert_eq!(cursor, 5);
}

#[tokio::test]
async fn pings_are_answered_and_sent() {
    let server = TestServer::start_with(|mut c| {
        c.ws_ping_interval = Duration::from_millis(200);
        c
    })
    .await;
    let mut subscriber = server.subscribe(0).await;
    subscriber.until_caught_up().await;
    subscriber.send(&ClientMessage::Ping).await;
    assert_eq!(subscriber.next().await, Some(ServerMessage::Pong));
    // The server pings on its own; `next` skips pings, so read raw.
    use futures::StreamExt;
    let frame = tokio::time::timeout(Duration::from_secs(2), subscriber.socket.next())
        .await
        .unwrap();
    let text = frame.unwrap().unwrap().into_text().unwrap();
    assert_eq!(
        serde_json::from_str::<ServerMessage>(&text).unwrap(),
        ServerMessage::Ping
    );
}

#[tokio::test]
async fn a_slow_subscriber_is_told_to_resync_and_closed() {
    // The kernel buffers about 4 MB (five to seven of these rows) before the
    // server's send blocks; two more commits then overflow a backlog of one.
    const ROWS: u64 = 12;
    let server = TestServer::start_with(|mut c| {
        c.ws_backlog = 1;
        c
    })
    .await;
    // A tiny receive buffer on the subscriber's socket: the server's sends
    // block after a few large commits, well inside its send timeout.
    let mut slow = Subscriber::connect_with_receive_buffer(&server.url, 0, 4096).await;
    slow.until_caught_up().await;
    let big = "x".repeat(600 * 1024);
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (http, big) = (server.http.clone(), big.clone());
            tokio::spawn(async move {
                for i in 0..ROWS / 4 {
                    let mut data = task("big");
                    data["summary"] = json!(big);
                    let body = json!({"id": format!("b{w}_{i}"), "data": data});
                    let (status, _) = http.post("/v1/models/tasks", &body).await;
                    assert_eq!(status, StatusCode::CREATED);
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let mut last_delivered = 0;
    let resync_cursor = loop {
        match slow.next().await {
            Some(ServerMessage::Deltas { deltas }) => {
                for delta in deltas {
                    assert_eq!(
                        delta.sync_id.0,
                        last_delivered + 1,
                        "in order until the resync"
                    );
                    last_delivered = delta.sync_id.0;
                }
            }
            Some(ServerMessage::ResyncRequired { cursor, .. }) => break cursor.0,
            other => panic!("expected deltas then resyncRequired, got {other:?}"),
        }
    };
    assert_eq!(resync_cursor, last_delivered);
    assert!(last_delivered < ROWS, "the subscriber fell behind");
    assert!(
        slow.next().await.is_none(),
        "closed after the resync message"
    );
    // Catching up over HTTP from the cursor, then subscribing again, misses nothing.
    let (_, page) = server
        .http
        .get(&format!("/v1/sync/deltas?after={resync_cursor}&limit=1000"))
        .await;
    assert_eq!(page["data"][0]["syncId"], resync_cursor + 1);
    let mut again = server.subscribe(ROWS).await;
    assert_eq!(again.until_caught_up().await, (vec![], ROWS));
}

#[tokio::test]
async fn shutdown_closes_subscribers() {
    let server = TestServer::start().await;
    let mut subscriber = server.subscribe(0).await;
    subscriber.until_caught_up().await;
    server.stop().await;
    assert!(subscriber.next().await.is_none());
}

#[tokio::test]
async fn a_long_replay_arrives_whole_and_in_order() {
    let server = TestServer::start().await;
    for batch in 0..12 {
        let ops: Vec<_> = (0..110)
            .map(|i| json!({"type": "create", "model": "tasks", "id": format!("r{batch}_{i}"), "data": task("x")}))
            .collect();
        let (status, _) = server.http.commit(&json!({"operations": ops})).await;
        assert_eq!(status, StatusCode::OK);
    }
    let mut subscriber = server.subscribe(0).await;
    let mut per_message = Vec::new();
    loop {
        match subscriber.next().await.expect("open") {
            ServerMessage::Deltas { deltas } => per_message.push(deltas),
            ServerMessage::CaughtUp { cursor } => {
                assert_eq!(cursor.0, 12);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(per_message.len() > 1, "the replay is paged");
    for deltas in &per_message {
        assert_eq!(deltas.len() % 110, 0, "a message never splits a commit");
    }
    let sync_ids: Vec<u64> = per_message.iter().flatten().map(|d| d.sync_id.0).collect();
    let expected: Vec<u64> = (1..=12).flat_map(|s| std::iter::repeat_n(s, 110)).collect();
    assert_eq!(sync_ids, expected);
}
