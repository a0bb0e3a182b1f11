//! Snapshot bootstrap and a bounded log, over real HTTP and WebSocket on
//! loopback: a subscriber that holds nothing gets the current rows and then
//! the deltas after them, with nothing missed or repeated at the seam while
//! writers keep writing; a cursor older than retention gets the snapshot
//! path too and ends with the same rows as a fresh subscriber; catch-up
//! over HTTP from such a cursor answers 410 `snapshot_required`; the floor
//! survives a restart; the Rust client bootstraps from a snapshot.

mod client_common;
mod server_common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ablo::prelude::*;
use ablo_runtime::SyncId;
use ablo_runtime::wire::ServerMessage;
use reqwest::StatusCode;
use serde_json::{Value, json};
use server_common::{Http, Subscriber, TestServer, assert_error, task};

/// A server keeping the newest `keep` commits, compacting every 50 ms.
async fn retaining(keep: u64) -> TestServer {
    TestServer::start_with(move |mut config| {
        config.log_retention_commits = Some(keep);
        config.log_compact_interval = Duration::from_millis(50);
        config
    })
    .await
}

/// Writes `rows` tasks, then `updates` updates spread over them.
async fn history(http: &Http, rows: usize, updates: usize) {
    for i in 0..rows {
        let (status, body) = http
            .post(
                "/v1/models/tasks",
                &json!({"id": format!("t{i:03}"), "data": task("v0")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    for u in 0..updates {
        let id = format!("t{:03}", u % rows);
        let (status, body) = http
            .patch(
                &format!("/v1/models/tasks/{id}"),
                &json!({"data": {"title": format!("v{}", u + 1)}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

/// Waits until `GET /v1/sync/deltas?after=0` is refused: the log was cut.
async fn until_compacted(http: &Http) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while http.get("/v1/sync/deltas?after=0").await.0 != StatusCode::GONE {
        assert!(Instant::now() < deadline, "the log was never compacted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every row of `tasks` as the server lists it, by id.
async fn server_rows(http: &Http) -> BTreeMap<String, Value> {
    let (status, page) = http.get("/v1/models/tasks?limit=1000").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["id"].as_str().unwrap().to_owned(), row.clone()))
        .collect()
}

/// What a subscriber learned: rows by id and the sync ids of the deltas it
/// received after the snapshot.
struct Learned {
    snapshot_at: Option<u64>,
    rows: BTreeMap<String, Value>,
    deltas: Vec<u64>,
}

/// Reads until `caughtUp`, then on until sync id `through`.
async fn learn(subscriber: &mut Subscriber, through: u64) -> Learned {
    let mut learned = Learned {
        snapshot_at: None,
        rows: BTreeMap::new(),
        deltas: Vec::new(),
    };
    let mut caught_up = false;
    let mut cursor = 0;
    while !caught_up || cursor < through {
        match subscriber.next().await.expect("socket open") {
            ServerMessage::Snapshot { cursor: at } => {
                assert!(learned.snapshot_at.is_none(), "one snapshot");
                learned.snapshot_at = Some(at.0);
                cursor = at.0;
            }
            ServerMessage::Rows { model, rows } => {
                assert_eq!(model, "tasks");
                assert!(learned.deltas.is_empty(), "rows come before deltas");
                for row in rows {
                    learned
                        .rows
                        .insert(row["id"].as_str().unwrap().to_owned(), row);
                }
            }
            ServerMessage::Deltas { deltas } => {
                for delta in deltas {
                    assert!(
                        delta.sync_id.0 > cursor,
                        "delta {} at or below {cursor}",
                        delta.sync_id
                    );
                    cursor = delta.sync_id.0;
                    learned.deltas.push(cursor);
                    if delta.data.is_null() {
                        learned.rows.remove(&delta.id);
                    } else {
                        learned.rows.insert(delta.id.clone(), delta.data.clone());
                    }
                }
            }
            ServerMessage::CaughtUp { cursor: at } => {
                caught_up = true;
                cursor = cursor.max(at.0);
            }
            ServerMessage::Intent { .. } | ServerMessage::Presence { .. } => {}
            other => panic!("unexpected: {other:?}"),
        }
    }
    learned
}

#[tokio::test]
async fn a_fresh_subscriber_gets_the_current_rows_then_every_later_delta_once_while_writers_write()
{
    let server = retaining(5).await;
    history(&server.http, 30, 300).await;
    until_compacted(&server.http).await;

    // Writers keep writing while the subscriber bootstraps.
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let (http, writing) = (server.http.clone(), writing.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while writing.load(Ordering::Relaxed) {
                let id = format!("t{:03}", n % 30);
                let body = json!({"data": {"title": format!("live{n}")}});
                let (status, _) = http.patch(&format!("/v1/models/tasks/{id}"), &body).await;
                assert_eq!(status, StatusCode::OK);
                n += 1;
            }
            n
        })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    let mut fresh = Subscriber::subscribe_from(&server.url, None, None).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    writing.store(false, Ordering::Relaxed);
    let written = writer.await.unwrap();
    assert!(written > 0, "the writer wrote during the bootstrap");
    let final_head = server.http.get("/v1/models/tasks?limit=1").await.1["stamp"]
        .as_u64()
        .unwrap();
    let learned = learn(&mut fresh, final_head).await;
    let at = learned.snapshot_at.expect("a snapshot was sent");
    assert!(
        at >= 330,
        "the snapshot is as of the head when it was read ({at})"
    );
    assert_eq!(
        learned.deltas,
        ((at + 1)..=final_head).collect::<Vec<_>>(),
        "every commit after the snapshot once, in order"
    );
    assert_eq!(
        learned.rows,
        server_rows(&server.http).await,
        "the same rows as the server"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_cursor_older_than_retention_takes_the_snapshot_path_and_ends_like_a_fresh_one() {
    let server = retaining(3).await;
    history(&server.http, 10, 40).await;
    until_compacted(&server.http).await;
    // A row deleted after the old cursor must be gone from the old client.
    let (status, _) = server.http.delete("/v1/models/tasks/t004").await;
    assert_eq!(status, StatusCode::OK);
    let head = server_rows(&server.http)
        .await
        .values()
        .map(|r| r["stamp"].as_u64().unwrap())
        .max()
        .unwrap()
        + 1;

    let mut old = Subscriber::subscribe_from(&server.url, Some(SyncId(2)), None).await;
    let mut fresh = Subscriber::subscribe_from(&server.url, None, None).await;
    let from_old = learn(&mut old, head).await;
    let from_fresh = learn(&mut fresh, head).await;
    assert!(
        from_old.snapshot_at.is_some(),
        "the old cursor got a snapshot"
    );
    assert_eq!(from_old.rows, from_fresh.rows);
    assert!(!from_old.rows.contains_key("t004"));
    assert_eq!(from_old.rows, server_rows(&server.http).await);

    // Within retention, a cursor is still replayed from the log.
    let mut recent = Subscriber::subscribe_from(&server.url, Some(SyncId(head - 1)), None).await;
    match recent.next().await.expect("open") {
        ServerMessage::CaughtUp { cursor } => assert_eq!(cursor, SyncId(head)),
        ServerMessage::Deltas { deltas } => assert_eq!(deltas[0].sync_id, SyncId(head)),
        other => panic!("expected the log, got {other:?}"),
    }
    server.stop().await;
}

#[tokio::test]
async fn catch_up_from_before_the_floor_is_refused_and_the_floor_survives_a_restart() {
    let server = retaining(2).await;
    history(&server.http, 4, 10).await;
    until_compacted(&server.http).await;
    // Retention runs every 50 ms: wait for the run after the last write,
    // which keeps the newest two of the 14 commits.
    let deadline = Instant::now() + Duration::from_secs(5);
    let floor = loop {
        let refused = server.http.get("/v1/sync/deltas?after=1").await;
        assert_error(&refused, 410, "validation", "snapshot_required");
        let floor = refused.1["error"]["details"]["floor"].as_u64().unwrap();
        if floor == 12 {
            break floor;
        }
        assert!(
            floor < 12,
            "the floor passed the newest two commits: {floor}"
        );
        assert!(Instant::now() < deadline, "the floor stayed at {floor}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (status, page) = server
        .http
        .get(&format!("/v1/sync/deltas?after={floor}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");

    // A restart keeps the floor (no retention configured after it).
    let storage = server.storage.clone();
    let dir_path = server.dir.path().to_owned();
    let TestServer {
        server: running,
        dir,
        ..
    } = server;
    running.unwrap().shutdown().await.unwrap();
    let restarted = ablo_server::start(
        ablo_server::ServerConfig::new(&dir_path)
            .with_storage(storage)
            .with_addr("127.0.0.1:0".parse().unwrap())
            .with_api_key(server_common::API_KEY),
    )
    .await
    .unwrap();
    let http = Http::new(&restarted.url(), server_common::API_KEY);
    let again = http.get("/v1/sync/deltas?after=1").await;
    assert_error(&again, 410, "validation", "snapshot_required");
    assert_eq!(again.1["error"]["details"]["floor"].as_u64(), Some(floor));
    restarted.shutdown().await.unwrap();
    drop(dir);
}

// conformance: snapshot_bootstrap
#[tokio::test]
async fn the_rust_client_bootstraps_from_a_snapshot_on_a_compacted_log() {
    use client_common::{Task, task as typed_task};
    let server = client_common::TestServer::start_with(|mut config| {
        config.log_retention_commits = Some(2);
        config.log_compact_interval = Duration::from_millis(50);
        config
    })
    .await;
    let writer = server.client().await;
    for i in 0..20 {
        writer
            .model::<Task>()
            .create(typed_task(&format!("v{i}")))
            .id(format!("t{i}").as_str())
            .await
            .unwrap();
    }
    for i in 0..5 {
        writer
            .model::<Task>()
            .delete(format!("t{i}").as_str())
            .await
            .unwrap();
    }
    let http = Http::new(&server.url, client_common::API_KEY);
    until_compacted(&http).await;
    // A writer keeps writing while the reader bootstraps.
    let writing = Arc::new(AtomicBool::new(true));
    let background = {
        let (http, writing) = (http.clone(), writing.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while writing.load(Ordering::Relaxed) {
                let body = json!({"data": {"title": format!("during{n}")}});
                let (status, _) = http
                    .patch(&format!("/v1/models/tasks/t{}", 5 + n % 15), &body)
                    .await;
                assert_eq!(status, StatusCode::OK);
                n += 1;
            }
            n
        })
    };
    let reader = server
        .builder()
        .snapshot_on_connect(true)
        .connect()
        .await
        .unwrap();
    reader.ready().await.unwrap();
    writing.store(false, Ordering::Relaxed);
    assert!(
        background.await.unwrap() > 0,
        "the writer wrote during the bootstrap"
    );
    let expected = server_rows(&http).await;
    client_common::eventually("the reader holds exactly the server's rows", || {
        let held = reader.model::<Task>().get_all(&Query::new());
        held.len() == 15
            && held.iter().all(|t| {
                expected
                    .get(t.id.as_str())
                    .is_some_and(|row| row["title"] == t.title.as_str())
            })
    })
    .await;
    let metrics = reqwest::Client::new()
        .get(format!("{}/metrics", server.url))
        .bearer_auth(client_common::API_KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let snapshots: f64 = metrics
        .lines()
        .find(|l| l.starts_with("ablo_snapshots_total"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(
        snapshots >= 2.0,
        "both clients bootstrapped from snapshots ({snapshots})"
    );
    // Live deltas after the snapshot still arrive.
    writer
        .model::<Task>()
        .create(typed_task("late"))
        .id("late")
        .await
        .unwrap();
    client_common::eventually("the reader sees the late row", || {
        reader.model::<Task>().get_count(&Query::new()) == 16
    })
    .await;
}
