//! Atomic batches through the typed client: several writes in one commit,
//! all applied with one sync id or none applied.

mod client_common;

use ablo::Error;
use ablo::client::{OnStale, Query, Wait};
use ablo::prelude::*;
use client_common::{Counter, CounterPatch, Task, TaskPatch, TestServer, next_within, task};

// conformance: batch.atomic
#[tokio::test]
async fn a_batch_applies_every_write_with_one_sync_id() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let tasks = client.model::<Task>();
    let counters = client.model::<Counter>();
    let old = tasks.create(task("old")).await.unwrap();

    let receipt = client
        .batch()
        .with(tasks.create(task("new")).id("task-new"))
        .with(
            counters
                .create(Counter {
                    name: "moves".into(),
                    value: 1,
                })
                .id("counter-moves"),
        )
        .with(tasks.delete(old.id.clone()).read_at(old.stamp))
        .idempotency_key("move-old-to-new")
        .await
        .unwrap();
    let sync_id = receipt.sync_id.expect("confirmed");
    assert_eq!(receipt.rows.len(), 3);
    let new: Row<Task> = receipt.row(0).unwrap();
    let counter: Row<Counter> = receipt.row(1).unwrap();
    let deleted: Row<Task> = receipt.row(2).unwrap();
    assert_eq!(new.stamp, sync_id);
    assert_eq!(counter.stamp, sync_id);
    assert_eq!(deleted.id, old.id, "a delete returns the row as it was");
    assert!(receipt.row::<Task>(3).is_err());

    assert_eq!(tasks.get("task-new").unwrap(), new);
    assert!(tasks.get(old.id.clone()).is_none());
    assert!(matches!(
        tasks.retrieve(old.id.clone()).await.unwrap_err(),
        Error::NotFound(_)
    ));

    // The same key and body replays the receipt; another body under the
    // key is refused.
    let batch = |value: i64| {
        client
            .batch()
            .with(tasks.create(task("new")).id("task-new"))
            .with(
                counters
                    .create(Counter {
                        name: "moves".into(),
                        value,
                    })
                    .id(counter.id.clone()),
            )
            .with(tasks.delete(old.id.clone()).read_at(old.stamp))
            .idempotency_key("move-old-to-new")
    };
    let replay = batch(1).await.unwrap();
    assert_eq!(replay, receipt);
    let err = batch(2).await.unwrap_err();
    assert!(matches!(err, Error::Idempotency(_)), "{err:?}");
    assert_eq!(err.code(), "idempotency_conflict");
}

// conformance: batch.atomic
#[tokio::test]
async fn one_stale_write_leaves_the_whole_batch_unapplied() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let tasks = client.model::<Task>();
    let a = tasks.create(task("a")).await.unwrap();
    let b = tasks.create(task("b")).await.unwrap();
    tasks
        .update(b.id.clone(), TaskPatch::new().points(9))
        .await
        .unwrap();

    let err = client
        .batch()
        .with(tasks.update(a.id.clone(), TaskPatch::new().points(1)))
        .with(
            tasks
                .update(b.id.clone(), TaskPatch::new().points(2))
                .read_at(b.stamp)
                .on_stale(OnStale::Reject),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::StaleContext { .. }), "{err:?}");
    let a_now = tasks.retrieve(a.id.clone()).await.unwrap();
    assert_eq!(
        a_now.data.points, 0,
        "the first write was not applied either"
    );
    assert_eq!(tasks.get(a.id.clone()).unwrap().points, 0);
}

// conformance: batch.atomic
#[tokio::test]
async fn a_rejected_queued_batch_rolls_every_write_back() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let tasks = client.model::<Task>();
    let counters = client.model::<Counter>();
    let existing = tasks.create(task("exists")).await.unwrap();
    let mut rejections = Box::pin(client.rejections());

    let pending = client
        .batch()
        .with(counters.create(Counter {
            name: "fresh".into(),
            value: 0,
        }))
        .with(
            tasks
                .update(existing.id.clone(), TaskPatch::new().title("mine"))
                .read_at(existing.stamp),
        )
        .with(tasks.create(task("dup")).id(existing.id.clone()))
        .enqueue()
        .unwrap();
    assert_eq!(pending.local().rows.len(), 3);
    assert_eq!(pending.local().sync_id, None);
    assert_eq!(counters.get_count(&Query::new()), 1, "shown at once");
    assert_eq!(tasks.get(existing.id.clone()).unwrap().title, "dup");

    let err = pending.confirmed().await.unwrap_err();
    assert!(matches!(err, Error::Idempotency(_)), "{err:?}");
    assert_eq!(err.code(), "row_exists");
    assert_eq!(counters.get_count(&Query::new()), 0, "rolled back");
    assert_eq!(tasks.get(existing.id.clone()).unwrap(), existing);
    let rejection = next_within(&mut rejections, "the batch's rejection").await;
    assert_eq!(rejection.model, "counters");

    // A queued batch may update a row it creates itself.
    let receipt = client
        .batch()
        .with(
            counters
                .create(Counter {
                    name: "made".into(),
                    value: 0,
                })
                .id("counter-made"),
        )
        .with(counters.update("counter-made", CounterPatch::new().value(5)))
        .wait(Wait::Queued)
        .await
        .unwrap();
    assert_eq!(receipt.row::<Counter>(1).unwrap().value, 5);
    client.dispose().await;
    let reader = server.builder().live(false).connect().await.unwrap();
    let stored = reader
        .model::<Counter>()
        .retrieve("counter-made")
        .await
        .unwrap();
    assert_eq!(stored.data.value, 5);
}

#[tokio::test]
async fn batches_refuse_writes_of_other_clients_and_empty_batches() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let other = server.client().await;
    let err = client
        .batch()
        .with(other.model::<Task>().create(task("elsewhere")))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Configuration(_)), "{err:?}");
    assert_eq!(err.code(), "foreign_write");
    let err = client.batch().await.unwrap_err();
    assert!(matches!(err, Error::Validation(_)), "{err:?}");
    assert_eq!(err.code(), "invalid_commit");
}
