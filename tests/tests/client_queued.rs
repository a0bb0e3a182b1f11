//! Queued writes: applied to the local pool at once, confirmed in the
//! background, rolled back and reported when the server rejects them; and
//! transport failures retried with the same `clientTxId`.

mod client_common;

use std::time::Duration;

use ablo::Error;
use ablo::client::{Client, OnStale, Query, RetryPolicy, RowChange, Wait};
use ablo::prelude::*;
use client_common::proxy::Proxy;
use client_common::{
    API_KEY, App, Counter, Task, TaskPatch, TestServer, eventually, next_within, task,
};

// conformance: queued.optimistic
#[tokio::test]
async fn a_queued_create_shows_at_once_and_is_confirmed() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let tasks = client.model::<Task>();
    let pending = tasks.create(task("Queued")).enqueue().unwrap();
    let local = pending.local().clone();
    assert_eq!(local.stamp, SyncId::ZERO, "not stamped yet");
    assert_eq!(tasks.get(local.id.clone()).unwrap().title, "Queued");
    let stored = pending.confirmed().await.unwrap();
    assert_eq!(stored.id, local.id);
    assert!(stored.stamp > SyncId::ZERO);
    assert_eq!(tasks.get(local.id.clone()).unwrap().stamp, stored.stamp);
}

// conformance: queued.rollback
#[tokio::test]
async fn a_rejected_queued_write_rolls_back_and_is_reported() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let other = server.client().await;
    let tasks = client.model::<Task>();
    let created = tasks.create(task("Original")).await.unwrap();
    // Another writer moves the row on, so a write read at `created.stamp`
    // is stale.
    let moved = other
        .model::<Task>()
        .update(created.id.clone(), TaskPatch::new().points(2))
        .await
        .unwrap();
    eventually("the live stream brings the other write", || {
        tasks.get(created.id.clone()).map(|r| r.stamp) == Some(moved.stamp)
    })
    .await;

    let mut rejections = Box::pin(client.rejections());
    let mut changes = tasks.watch(Query::new());
    match next_within(&mut changes, "initial row").await {
        RowChange::Inserted(row) => assert_eq!(row.points, 2),
        other => panic!("expected the initial row, got {other:?}"),
    }

    let pending = tasks
        .update(created.id.clone(), TaskPatch::new().title("Mine"))
        .read_at(created.stamp)
        .on_stale(OnStale::Reject)
        .enqueue()
        .unwrap();
    assert_eq!(pending.local().title, "Mine", "applied locally at once");
    assert_eq!(tasks.get(created.id.clone()).unwrap().title, "Mine");
    let tx = pending.client_tx_id().to_owned();

    let err = pending.confirmed().await.unwrap_err();
    assert!(matches!(err, Error::StaleContext { .. }), "{err:?}");
    let row = tasks.get(created.id.clone()).unwrap();
    assert_eq!(row.title, "Original", "rolled back");
    assert_eq!(row.points, 2, "other writers' changes stay");

    let rejection = next_within(&mut rejections, "rejection").await;
    assert_eq!(rejection.client_tx_id, tx);
    assert_eq!(rejection.model, "tasks");
    assert_eq!(rejection.id, created.id.as_str());
    assert!(matches!(rejection.error, Error::StaleContext { .. }));

    // The watcher saw the optimistic row and then the rollback.
    match next_within(&mut changes, "optimistic change").await {
        RowChange::Updated(row) => assert_eq!(row.title, "Mine"),
        other => panic!("expected the optimistic update, got {other:?}"),
    }
    match next_within(&mut changes, "rollback").await {
        RowChange::Updated(row) => assert_eq!(row.title, "Original"),
        other => panic!("expected the rollback, got {other:?}"),
    }
}

#[tokio::test]
async fn awaiting_a_queued_write_returns_the_local_row() {
    let server = TestServer::start().await;
    let client = server
        .builder()
        .default_wait(Wait::Queued)
        .connect()
        .await
        .unwrap();
    let tasks = client.model::<Task>();
    let mut rejections = Box::pin(client.rejections());
    let created = tasks.create(task("Fast")).await.unwrap();
    assert_eq!(created.stamp, SyncId::ZERO);
    // A queued create with an id that exists already is rejected; awaiting
    // it still returns the local row, and the rejection arrives on the
    // channel.
    let duplicate = tasks
        .create(task("Clash"))
        .id(created.id.clone())
        .await
        .unwrap();
    assert_eq!(duplicate.title, "Clash");
    let rejection = next_within(&mut rejections, "duplicate rejected").await;
    assert!(
        matches!(rejection.error, Error::Idempotency(_)),
        "{:?}",
        rejection.error
    );
    eventually("the clash rolled back to the stored row", || {
        tasks
            .get(created.id.clone())
            .is_some_and(|r| r.title == "Fast" && r.stamp > SyncId::ZERO)
    })
    .await;
    client.dispose().await;
}

#[tokio::test]
async fn queued_writes_of_unloaded_rows_are_refused() {
    let server = TestServer::start().await;
    let client = server.builder().live(false).connect().await.unwrap();
    let err = client
        .model::<Task>()
        .update("never-loaded", TaskPatch::new().points(1))
        .wait(Wait::Queued)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert_eq!(err.code(), "row_not_loaded");
}

// conformance: queued.in-order
#[tokio::test]
async fn queued_writes_are_sent_in_order() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let counters = client.model::<Counter>();
    let first = counters
        .create(Counter {
            name: "ordered".into(),
            value: 0,
        })
        .enqueue()
        .unwrap();
    let id = first.local().id.clone();
    let mut last = None;
    for value in 1..=20 {
        last = Some(
            counters
                .update(id.clone(), client_common::CounterPatch::new().value(value))
                .enqueue()
                .unwrap(),
        );
    }
    let stored = last.unwrap().confirmed().await.unwrap();
    assert_eq!(stored.value, 20);
    let on_server = counters.retrieve(id).await.unwrap();
    assert_eq!(on_server.data.value, 20);
}

// conformance: queued.retry-same-tx
#[tokio::test]
async fn a_lost_answer_is_retried_with_the_same_client_tx_id() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(&server.url).await;
    let client = Client::builder(&proxy.url, API_KEY)
        .schema(App::descriptor())
        .live(false)
        .timeout(Duration::from_secs(10))
        .retry(
            RetryPolicy::default()
                .initial_delay(Duration::from_millis(20))
                .max_delay(Duration::from_millis(100)),
        )
        .connect()
        .await
        .unwrap();
    let observer = server.client().await;
    let counters = client.model::<Counter>();
    let created = counters
        .create(Counter {
            name: "retry".into(),
            value: 0,
        })
        .await
        .unwrap();

    // The server applies the update, but its answer never reaches the
    // client; the client retries the same commit and gets the original
    // receipt back instead of applying the update a second time (which
    // would take another sync id).
    proxy.swallow_answers(1);
    let updated = counters
        .update(
            created.id.clone(),
            client_common::CounterPatch::new().value(1),
        )
        .await
        .unwrap();
    assert_eq!(proxy.swallowed(), 1, "an answer was really lost");
    assert_eq!(updated.value, 1);
    assert_eq!(
        updated.stamp,
        created.stamp.next(),
        "one commit, one sync id"
    );
    let on_server = observer
        .model::<Counter>()
        .retrieve(created.id.clone())
        .await
        .unwrap();
    assert_eq!(on_server.data.stamp, updated.stamp);
    assert_eq!(on_server.stamp, updated.stamp, "no commit after it");
}

#[tokio::test]
async fn a_write_that_cannot_reach_the_server_fails_with_a_connection_error() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(&server.url).await;
    let client = Client::builder(&proxy.url, API_KEY)
        .schema(App::descriptor())
        .live(false)
        .retry(
            RetryPolicy::default()
                .max_attempts(3)
                .initial_delay(Duration::from_millis(10)),
        )
        .connect()
        .await
        .unwrap();
    proxy.cut(true);
    let err = client
        .model::<Task>()
        .create(task("Nowhere"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connection(_)), "{err:?}");

    let err = client
        .model::<Task>()
        .create(task("Slow"))
        .timeout(Duration::from_millis(1))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connection(_)), "{err:?}");
    proxy.restore();
    let ok = client.model::<Task>().create(task("Back")).await.unwrap();
    assert_eq!(ok.title, "Back");
}

#[tokio::test]
async fn a_rejected_queued_delete_brings_the_row_back() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let tasks = client.model::<Task>();
    let created = tasks.create(task("Keep")).await.unwrap();
    tasks
        .update(created.id.clone(), TaskPatch::new().points(1))
        .await
        .unwrap();
    let pending = tasks
        .delete(created.id.clone())
        .read_at(created.stamp)
        .enqueue()
        .unwrap();
    assert!(tasks.get(created.id.clone()).is_none(), "gone at once");
    let err = pending.confirmed().await.unwrap_err();
    assert!(matches!(err, Error::StaleContext { .. }), "{err:?}");
    let back = tasks.get(created.id.clone()).expect("rolled back");
    assert_eq!(back.points, 1);
}

#[tokio::test]
async fn a_rejection_in_the_middle_of_the_queue_leaves_the_others_applied() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let counters = client.model::<Counter>();
    let row = counters
        .create(Counter {
            name: "queue".into(),
            value: 0,
        })
        .await
        .unwrap();
    let first = counters
        .update(row.id.clone(), client_common::CounterPatch::new().value(1))
        .enqueue()
        .unwrap();
    // Read at the create's stamp: the first update makes this one stale.
    let second = counters
        .update(row.id.clone(), client_common::CounterPatch::new().value(2))
        .read_at(row.stamp)
        .enqueue()
        .unwrap();
    let third = counters
        .update(
            row.id.clone(),
            client_common::CounterPatch::new().name("renamed"),
        )
        .enqueue()
        .unwrap();
    assert_eq!(
        counters.get(row.id.clone()).unwrap().value,
        2,
        "all three shown"
    );

    assert_eq!(first.confirmed().await.unwrap().value, 1);
    let err = second.confirmed().await.unwrap_err();
    assert!(matches!(err, Error::StaleContext { .. }), "{err:?}");
    let last = third.confirmed().await.unwrap();
    assert_eq!((last.value, last.name.as_str()), (1, "renamed"));
    let local = counters.get(row.id.clone()).unwrap();
    assert_eq!((local.value, local.name.as_str()), (1, "renamed"));
    let stored = counters.retrieve(row.id.clone()).await.unwrap();
    assert_eq!(stored.data, last);
}
