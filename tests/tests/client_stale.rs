//! Guarded writes: `read_at` from a retrieve or a snapshot, stale writes
//! rejected with the current row, merge and force, and idempotent replay.

mod client_common;

use ablo::Error;
use ablo::client::{OnStale, Query};
use ablo::prelude::*;
use client_common::{Task, TaskPatch, TaskStatus, TestServer, task};

// conformance: stale.reject
#[tokio::test]
async fn a_stale_write_is_rejected_with_the_current_row() {
    let server = TestServer::start().await;
    let alice = server.client().await;
    let bob = server.client().await;
    let created = alice.model::<Task>().create(task("Plan")).await.unwrap();

    // Both read the row at the same stamp.
    let alice_read = alice
        .model::<Task>()
        .retrieve(created.id.clone())
        .await
        .unwrap();
    let bob_read = bob
        .model::<Task>()
        .retrieve(created.id.clone())
        .await
        .unwrap();

    let alice_row = alice
        .model::<Task>()
        .update(created.id.clone(), TaskPatch::new().title("Plan v2"))
        .read_at(alice_read.stamp)
        .on_stale(OnStale::Reject)
        .await
        .unwrap();

    let err = bob
        .model::<Task>()
        .update(created.id.clone(), TaskPatch::new().title("Bob's plan"))
        .read_at(bob_read.stamp)
        .await
        .unwrap_err();
    match &err {
        Error::StaleContext { current, stamp, .. } => {
            assert_eq!(*stamp, Some(alice_row.stamp));
            assert_eq!(current.as_ref().unwrap()["title"], "Plan v2");
        }
        other => panic!("expected StaleContext, got {other:?}"),
    }
    assert_eq!(err.code(), "stale_context");
    assert_eq!(err.status(), Some(409));
    let current: Row<Task> = err.current_row().expect("typed current row");
    assert_eq!(current, alice_row);

    // Retrying from the row the error carried succeeds.
    let retried = bob
        .model::<Task>()
        .update(created.id.clone(), TaskPatch::new().title("Bob's plan"))
        .read_at(current.stamp)
        .await
        .unwrap();
    assert_eq!(retried.title, "Bob's plan");
}

// conformance: stale.snapshot-guard
#[tokio::test]
async fn snapshots_of_loaded_rows_guard_writes() {
    let server = TestServer::start().await;
    let agent = server.client().await;
    let human = server.client().await;
    let created = agent.model::<Task>().create(task("Review")).await.unwrap();

    let loaded = agent.model::<Task>().load(Query::new()).await.unwrap();
    assert_eq!(loaded.len(), 1);
    let stamp = agent.snapshot([&created.id]);
    assert!(stamp >= created.stamp);
    let ok = agent
        .model::<Task>()
        .update(
            created.id.clone(),
            TaskPatch::new().status(TaskStatus::Doing),
        )
        .read_at(stamp)
        .await
        .unwrap();
    assert_eq!(ok.status, TaskStatus::Doing);

    // The agent takes a snapshot, then a human changes the row before the
    // agent writes: the agent's write is stale. The agent's live client
    // may or may not have received the human's change yet; the stamp taken
    // before it is stale either way.
    let stale_stamp = agent.snapshot([&ok]);
    human
        .model::<Task>()
        .update(created.id.clone(), TaskPatch::new().summary("human note"))
        .await
        .unwrap();
    let err = agent
        .model::<Task>()
        .update(
            created.id.clone(),
            TaskPatch::new().status(TaskStatus::Done),
        )
        .read_at(stale_stamp)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::StaleContext { .. }), "{err:?}");
    let current: Row<Task> = err.current_row().unwrap();
    assert_eq!(current.summary.as_deref(), Some("human note"));
}

// conformance: stale.merge-force
#[tokio::test]
async fn merge_accepts_other_fields_and_names_conflicting_ones() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let tasks = client.model::<Task>();
    let created = tasks.create(task("Merge me")).await.unwrap();
    let read_at = created.stamp;
    tasks
        .update(created.id.clone(), TaskPatch::new().summary("first"))
        .await
        .unwrap();

    let merged = tasks
        .update(created.id.clone(), TaskPatch::new().points(5))
        .read_at(read_at)
        .on_stale(OnStale::Merge)
        .await
        .unwrap();
    assert_eq!(merged.points, 5);
    assert_eq!(merged.summary.as_deref(), Some("first"));

    let err = tasks
        .update(created.id.clone(), TaskPatch::new().summary("second"))
        .read_at(read_at)
        .on_stale(OnStale::Merge)
        .await
        .unwrap_err();
    match err {
        Error::StaleContext { fields, .. } => assert_eq!(fields, vec!["summary".to_owned()]),
        other => panic!("expected StaleContext, got {other:?}"),
    }

    let forced = tasks
        .update(created.id.clone(), TaskPatch::new().summary("forced"))
        .read_at(read_at)
        .on_stale(OnStale::Force)
        .await
        .unwrap();
    assert_eq!(forced.summary.as_deref(), Some("forced"));
}

// conformance: stale.delete
#[tokio::test]
async fn a_stale_delete_is_rejected() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let tasks = client.model::<Task>();
    let created = tasks.create(task("Keep me")).await.unwrap();
    tasks
        .update(created.id.clone(), TaskPatch::new().points(1))
        .await
        .unwrap();
    let err = tasks
        .delete(created.id.clone())
        .read_at(created.stamp)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::StaleContext { .. }), "{err:?}");
    assert!(tasks.retrieve(created.id.clone()).await.is_ok());
}

// conformance: writes.idempotency-key
#[tokio::test]
async fn the_same_idempotency_key_replays_and_another_body_conflicts() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let tasks = client.model::<Task>();
    let created = tasks.create(task("Once")).await.unwrap();

    let first = tasks
        .update(created.id.clone(), TaskPatch::new().points(7))
        .idempotency_key("job-7-step-1")
        .await
        .unwrap();
    let replay = tasks
        .update(created.id.clone(), TaskPatch::new().points(7))
        .idempotency_key("job-7-step-1")
        .await
        .unwrap();
    assert_eq!(
        replay.stamp, first.stamp,
        "the replay returns the first receipt"
    );
    let now = tasks.retrieve(created.id.clone()).await.unwrap();
    assert_eq!(now.data.stamp, first.stamp, "nothing was applied twice");

    let err = tasks
        .update(created.id.clone(), TaskPatch::new().points(8))
        .idempotency_key("job-7-step-1")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Idempotency(_)), "{err:?}");
    assert_eq!(err.code(), "idempotency_conflict");
}
