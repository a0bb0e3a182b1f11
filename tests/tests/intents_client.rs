//! The client's intents: handles that heartbeat, a live local list fed by
//! the WebSocket, `wait_for` woken by the stream, and `if_busy` on writes.

mod client_common;
mod intents_common;

use std::time::{Duration, Instant};

use ablo::Error;
use ablo::client::IfBusy;
use ablo_runtime::wire::Target;
use client_common::{Task, TaskPatch, eventually, task};
use intents_common::{two_clients, two_key_server};

// conformance: intents.visible
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_wakes_within_milliseconds_of_a_release() {
    let server = two_key_server().await;
    let (human, agent) = two_clients(&server).await;
    let row = human.model::<Task>().create(task("shared")).await.unwrap();
    let target = Target::from(&row.id);
    let editing = human
        .intents()
        .create(target.clone())
        .action("editing")
        .await
        .unwrap();

    // Busy: a short wait fails with the intent attached.
    let err = agent
        .intents()
        .wait_for(target.clone(), Duration::from_millis(100))
        .await
        .unwrap_err();
    match &err {
        Error::Busy { intents, .. } => assert_eq!(intents[0]["id"], editing.id()),
        other => panic!("expected Busy, got {other:?}"),
    }

    editing.release().await.unwrap();
    let mut wake_ups = Vec::new();
    for _ in 0..5 {
        let holder = human
            .intents()
            .create(target.clone())
            .action("editing")
            .await
            .unwrap();
        let waiter = {
            let agent = agent.clone();
            let target = target.clone();
            tokio::spawn(async move {
                agent
                    .intents()
                    .wait_for(target, Duration::from_secs(5))
                    .await
                    .map(|()| Instant::now())
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiter.is_finished(), "still busy");
        let released_at = Instant::now();
        holder.release().await.unwrap();
        let woke_at = waiter.await.unwrap().unwrap();
        wake_ups.push(woke_at.saturating_duration_since(released_at));
    }
    wake_ups.sort();
    let median = wake_ups[wake_ups.len() / 2];
    eprintln!("wait_for woke after release: {wake_ups:?}");
    assert!(
        median < Duration::from_millis(50),
        "median wake-up {median:?}"
    );
}

// conformance: intents.visible
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_list_follows_the_stream_and_handles_keep_their_intents_alive() {
    let server = two_key_server().await;
    let (human, agent) = two_clients(&server).await;
    let row = human.model::<Task>().create(task("watched")).await.unwrap();
    let target = Target::from(&row.id);
    let intent = human
        .intents()
        .create(target.clone())
        .ttl(Duration::from_millis(300))
        .await
        .unwrap();
    eventually("the agent sees the intent without asking", || {
        agent.intents().list(target.clone()).len() == 1
    })
    .await;
    // Past three leases, the heartbeat keeps it active.
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(
        agent.intents().fetch(target.clone()).await.unwrap().len(),
        1
    );

    let err = agent
        .model::<Task>()
        .update(row.id.clone(), TaskPatch::new().title("x"))
        .if_busy(IfBusy::Fail)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Busy { .. }), "{err:?}");
    human
        .model::<Task>()
        .update(row.id.clone(), TaskPatch::new().title("own"))
        .if_busy(IfBusy::Fail)
        .await
        .expect("own intents never make a write busy");

    intent.release().await.unwrap();
    eventually("the release reaches the agent", || {
        agent.intents().list(target.clone()).is_empty()
    })
    .await;

    // A dropped handle stops heartbeating and releases in the background.
    let dropped = human.intents().create(target.clone()).await.unwrap();
    eventually("seen", || agent.intents().list(target.clone()).len() == 1).await;
    drop(dropped);
    eventually("released on drop", || {
        agent.intents().list(target.clone()).is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_under_an_intent_fails_once_the_intent_lapsed() {
    let server = two_key_server().await;
    let (holder, other) = two_clients(&server).await;
    let row = holder.model::<Task>().create(task("under")).await.unwrap();
    let mut claim = holder
        .model::<Task>()
        .claim(row.id.clone())
        .ttl(Duration::from_millis(200))
        .await
        .unwrap();
    holder
        .model::<Task>()
        .update(row.id.clone(), TaskPatch::new().points(1))
        .intent(claim.handle())
        .await
        .expect("a write under a held claim lands");
    let err = other
        .model::<Task>()
        .update(row.id.clone(), TaskPatch::new().points(2))
        .intent(claim.handle())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_intent_holder", "{err:?}");

    claim.abandon();
    eventually("the claim lapses", || {
        holder.intents().list(Target::from(&row.id)).is_empty()
    })
    .await;
    let err = holder
        .model::<Task>()
        .update(row.id.clone(), TaskPatch::new().points(3))
        .intent(claim.handle())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert_eq!(err.code(), "intent_not_found");
    let current = holder
        .model::<Task>()
        .retrieve(row.id.clone())
        .await
        .unwrap();
    assert_eq!(
        current.data.data.points, 1,
        "no write landed after the lapse"
    );
}

// conformance: intents.late-reader
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrieve_reports_the_rows_active_intents_to_a_late_reader() {
    let server = two_key_server().await;
    let (human, agent) = two_clients(&server).await;
    let tasks = human.model::<Task>();
    let row = tasks.create(task("being edited")).await.unwrap();
    let other = tasks.create(task("left alone")).await.unwrap();
    assert!(
        tasks
            .retrieve(row.id.clone())
            .await
            .unwrap()
            .intents
            .is_empty()
    );

    let editing = agent
        .intents()
        .create(Target::from(&row.id))
        .action("editing")
        .await
        .unwrap();
    let on_title = agent
        .intents()
        .create(Target {
            field: Some("title".into()),
            ..Target::from(&row.id)
        })
        .action("rewording")
        .await
        .unwrap();
    // A reader that never followed the stream: the read itself lists them.
    let late = server.builder().live(false).connect().await.unwrap();
    let found = late.model::<Task>().retrieve(row.id.clone()).await.unwrap();
    assert_eq!(found.data.title, "being edited");
    let mut ids: Vec<&str> = found.intents.iter().map(|i| i.id.as_str()).collect();
    ids.sort();
    let mut want = vec![editing.id(), on_title.id()];
    want.sort();
    assert_eq!(ids, want, "the whole-row and the field intent");
    let actions: Vec<&str> = found.intents.iter().map(|i| i.action.as_str()).collect();
    assert!(actions.contains(&"editing") && actions.contains(&"rewording"));
    assert!(found.intents.iter().all(|i| i.target.id == row.id.as_str()));
    assert!(
        late.model::<Task>()
            .retrieve(other.id.clone())
            .await
            .unwrap()
            .intents
            .is_empty(),
        "another row's read lists none"
    );
    // The holder sees its own intents too.
    assert_eq!(
        agent
            .model::<Task>()
            .retrieve(row.id.clone())
            .await
            .unwrap()
            .intents
            .len(),
        2
    );

    editing.release().await.unwrap();
    on_title.release().await.unwrap();
    let after = late.model::<Task>().retrieve(row.id.clone()).await.unwrap();
    assert!(
        after.intents.is_empty(),
        "released intents are gone: {:?}",
        after.intents
    );
}
