//! The live pool: two clients see each other's writes through `watch`, and a
//! client whose connection breaks resumes from its cursor with every missed
//! change exactly once.

mod client_common;

use std::time::Duration;

use ablo::client::{Client, Query, RetryPolicy, RowChange, SyncStatus};
use ablo::prelude::*;
use client_common::proxy::Proxy;
use client_common::{
    API_KEY, App, Task, TaskPatch, TaskStatus, TestServer, eventually, next_within, task,
};
use futures::StreamExt;

// conformance: live.two-clients
#[tokio::test]
async fn two_clients_see_each_others_writes_live() {
    let server = TestServer::start().await;
    let alice = server.client().await;
    let bob = server.client().await;
    let mut bob_sees = bob.model::<Task>().watch(Query::new());
    let mut alice_sees = alice
        .model::<Task>()
        .watch(Query::new().where_eq("status", TaskStatus::Done));

    let created = alice.model::<Task>().create(task("Shared")).await.unwrap();
    match next_within(&mut bob_sees, "bob sees the insert").await {
        RowChange::Inserted(row) => assert_eq!(row, created),
        other => panic!("expected Inserted, got {other:?}"),
    }

    let done = bob
        .model::<Task>()
        .update(
            created.id.clone(),
            TaskPatch::new().status(TaskStatus::Done),
        )
        .await
        .unwrap();
    match next_within(&mut bob_sees, "bob sees his own update").await {
        RowChange::Updated(row) => assert_eq!(row, done),
        other => panic!("expected Updated, got {other:?}"),
    }
    match next_within(&mut alice_sees, "alice's filtered watch sees the row enter").await {
        RowChange::Inserted(row) => assert_eq!(row, done),
        other => panic!("expected Inserted, got {other:?}"),
    }
    assert_eq!(alice.model::<Task>().get(created.id.clone()).unwrap(), done);

    let reopened = alice
        .model::<Task>()
        .update(
            created.id.clone(),
            TaskPatch::new().status(TaskStatus::Todo),
        )
        .await
        .unwrap();
    match next_within(&mut alice_sees, "the row leaves alice's filter").await {
        RowChange::Removed(id) => assert_eq!(id, created.id),
        other => panic!("expected Removed, got {other:?}"),
    }
    match next_within(&mut bob_sees, "bob sees the reopen").await {
        RowChange::Updated(row) => assert_eq!(row, reopened),
        other => panic!("expected Updated, got {other:?}"),
    }

    alice
        .model::<Task>()
        .delete(created.id.clone())
        .await
        .unwrap();
    match next_within(&mut bob_sees, "bob sees the delete").await {
        RowChange::Removed(id) => assert_eq!(id, created.id),
        other => panic!("expected Removed, got {other:?}"),
    }
    assert!(bob.model::<Task>().get(created.id.clone()).is_none());
    eventually("both clients applied the same log", || {
        alice.cursor() == bob.cursor()
    })
    .await;
}

#[tokio::test]
async fn a_watch_starts_with_the_rows_that_match_now() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let tasks = client.model::<Task>();
    let a = tasks.create(task("a")).await.unwrap();
    let b = tasks.create(task("b")).await.unwrap();
    let mut changes = tasks.watch(Query::new());
    let mut initial = vec![
        next_within(&mut changes, "first").await,
        next_within(&mut changes, "second").await,
    ];
    initial.sort_by(|x, y| x.id().cmp(y.id()));
    assert_eq!(
        initial,
        vec![RowChange::Inserted(a), RowChange::Inserted(b)]
    );
    client.dispose().await;
    assert!(
        tokio::time::timeout(Duration::from_secs(2), changes.next())
            .await
            .expect("the stream ends on dispose")
            .is_none()
    );
}

// conformance: live.restart
#[tokio::test]
async fn a_broken_connection_resumes_from_the_cursor_with_every_change_once() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(&server.url).await;
    let writer = server.client().await;
    let reader = Client::builder(&proxy.url, API_KEY)
        .schema(App::descriptor())
        .timeout(Duration::from_secs(10))
        .retry(
            RetryPolicy::default()
                .initial_delay(Duration::from_millis(50))
                .max_delay(Duration::from_millis(200)),
        )
        .connect()
        .await
        .unwrap();
    reader.ready().await.unwrap();
    let mut seen = reader.model::<Task>().watch(Query::new());
    let mut statuses = Box::pin(reader.sync_statuses());
    assert_eq!(next_within(&mut statuses, "status").await, SyncStatus::Live);

    let first = writer.model::<Task>().create(task("before")).await.unwrap();
    assert!(matches!(
        next_within(&mut seen, "before the break").await,
        RowChange::Inserted(row) if row.id == first.id
    ));

    proxy.cut(true);
    match next_within(&mut statuses, "the reader notices").await {
        SyncStatus::Reconnecting { .. } => {}
        other => panic!("expected Reconnecting, got {other:?}"),
    }
    let cursor_at_break = reader.cursor();
    let mut missed = Vec::new();
    for i in 0..25 {
        missed.push(
            writer
                .model::<Task>()
                .create(task(&format!("missed {i}")))
                .await
                .unwrap(),
        );
    }
    let last = writer
        .model::<Task>()
        .update(missed[3].id.clone(), TaskPatch::new().points(3))
        .await
        .unwrap();
    assert_eq!(
        reader.cursor(),
        cursor_at_break,
        "nothing arrives while cut"
    );

    proxy.restore();
    eventually("the reader resubscribes and catches up", || {
        reader.cursor() == last.stamp
    })
    .await;
    assert!(reader.sync_status().is_live() || reader.cursor() == last.stamp);

    // Every missed insert reaches the watcher once, in commit order; the
    // update of one of them arrives after its insert, or within it when
    // both were applied together.
    let mut inserted = Vec::new();
    let mut latest = std::collections::HashMap::new();
    while inserted.len() < missed.len() || latest.get(&last.id) != Some(&last) {
        match next_within(&mut seen, "missed changes").await {
            RowChange::Inserted(row) => {
                assert!(!inserted.contains(&row.id), "{} inserted twice", row.id);
                inserted.push(row.id.clone());
                latest.insert(row.id.clone(), row);
            }
            RowChange::Updated(row) => {
                assert!(inserted.contains(&row.id), "update before insert");
                latest.insert(row.id.clone(), row);
            }
            RowChange::Removed(id) => panic!("nothing was removed, got {id}"),
        }
    }
    let expected: Vec<Id<Task>> = missed.iter().map(|row| row.id.clone()).collect();
    assert_eq!(inserted, expected);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), seen.next())
            .await
            .is_err(),
        "no duplicate after the seam"
    );
    assert_eq!(reader.model::<Task>().get_count(&Query::new()), 26);
    assert!(proxy.connections() >= 3, "the reader reconnected");
}

// conformance: live.restart
#[tokio::test]
async fn the_client_reconnects_after_a_server_restart() {
    let mut server = TestServer::start().await;
    let reader = server.client().await;
    let first = reader
        .model::<Task>()
        .create(task("durable"))
        .await
        .unwrap();
    server.restart().await;
    let writer = server.client().await;
    let second = writer
        .model::<Task>()
        .create(task("after restart"))
        .await
        .unwrap();
    eventually("the reader follows the restarted server", || {
        reader.model::<Task>().get(second.id.clone()).is_some()
    })
    .await;
    assert!(reader.model::<Task>().get(first.id.clone()).is_some());
    reader.ready().await.unwrap();
}

// conformance: live.resync-http
#[tokio::test]
async fn a_client_too_far_behind_catches_up_over_http_and_resubscribes() {
    // A server that keeps only a few commits for slow subscribers, and a
    // reader whose connection stops draining: the server tells it to
    // resync, and it catches up from its cursor over HTTP.
    let server = TestServer::start_with(|mut config| {
        config.ws_backlog = 4;
        config
    })
    .await;
    let proxy = Proxy::start(&server.url).await;
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log_sink = log.clone();
    let reader = Client::builder(&proxy.url, API_KEY)
        .schema(App::descriptor())
        .timeout(Duration::from_secs(20))
        .retry(
            RetryPolicy::default()
                .initial_delay(Duration::from_millis(20))
                .max_delay(Duration::from_millis(100)),
        )
        .logger(move |_, message| log_sink.lock().unwrap().push(message.to_owned()))
        .connect()
        .await
        .unwrap();
    reader.ready().await.unwrap();
    let writer = server.client().await;

    proxy.stall();
    // Large rows fill the socket buffers between server and reader quickly.
    let big = "x".repeat(200 * 1024);
    let mut last = None;
    for i in 0..60 {
        let mut t = task(&format!("bulk {i}"));
        t.summary = Some(big.clone());
        last = Some(writer.model::<Task>().create(t).await.unwrap());
    }
    let last = last.unwrap();
    proxy.resume();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while reader.cursor() != last.stamp {
        assert!(
            tokio::time::Instant::now() < deadline,
            "reader did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(reader.model::<Task>().get_count(&Query::new()), 60);
    let messages = log.lock().unwrap().clone();
    assert!(
        messages.iter().any(|m| m.contains("resync")),
        "the server asked for a resync: {messages:#?}"
    );
    reader.ready().await.unwrap();
    let after = writer
        .model::<Task>()
        .create(task("live again"))
        .await
        .unwrap();
    eventually("the resubscribed reader is live", || {
        reader.model::<Task>().get(after.id.clone()).is_some()
    })
    .await;
}

#[tokio::test]
async fn ready_waits_for_the_subscription_and_times_out_without_it() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(&server.url).await;
    let client = Client::builder(&proxy.url, API_KEY)
        .schema(App::descriptor())
        .timeout(Duration::from_millis(800))
        .retry(
            RetryPolicy::default()
                .initial_delay(Duration::from_millis(20))
                .max_delay(Duration::from_millis(50)),
        )
        .connect()
        .await
        .unwrap();
    client.ready().await.unwrap();
    assert!(client.sync_status().is_live());

    proxy.cut(true);
    eventually("the client notices the break", || {
        matches!(client.sync_status(), SyncStatus::Reconnecting { .. })
    })
    .await;
    let err = client.ready().await.unwrap_err();
    assert!(matches!(err, ablo::Error::Connection(_)), "{err:?}");
    assert_eq!(err.code(), "not_ready");

    proxy.restore();
    client.ready().await.unwrap();
    assert!(client.sync_status().is_live());
}

// conformance: lifecycle.dispose-flushes
#[tokio::test]
async fn dispose_flushes_queued_writes_and_closes_the_client() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let mut statuses = Box::pin(client.sync_statuses());
    assert_eq!(next_within(&mut statuses, "live").await, SyncStatus::Live);
    for i in 0..15 {
        client
            .model::<Task>()
            .create(task(&format!("queued {i}")))
            .wait(ablo::client::Wait::Queued)
            .await
            .unwrap();
    }
    client.dispose().await;
    assert_eq!(client.sync_status(), SyncStatus::Closed);
    assert_eq!(
        next_within(&mut statuses, "closed").await,
        SyncStatus::Closed
    );

    let err = client
        .model::<Task>()
        .create(task("too late"))
        .await
        .unwrap_err();
    assert!(matches!(err, ablo::Error::Connection(_)), "{err:?}");
    assert_eq!(err.code(), "closed");
    let err = client.ready().await.unwrap_err();
    assert_eq!(err.code(), "closed");

    let reader = server.builder().live(false).connect().await.unwrap();
    let stored = reader.model::<Task>().load(Query::new()).await.unwrap();
    assert_eq!(stored.len(), 15, "every queued write reached the server");
    assert!(stored.iter().all(|row| row.stamp > SyncId::ZERO));
}
