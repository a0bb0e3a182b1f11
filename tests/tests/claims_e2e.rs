//! Claims end to end: a FIFO wait line, fresh rows at the grant, writes by
//! non-holders refused, and leases lost by silence.

mod client_common;
mod intents_common;

use std::time::{Duration, Instant};

use ablo::Error;
use ablo::client::{Client, IntentChange};
use ablo_runtime::wire::{IntentEventKind, Target};
use client_common::{Task, TaskPatch, task};
use futures::{Stream, StreamExt};
use intents_common::{client_with, contender_key, many_key_server, two_clients, two_key_server};

/// Awaits the next change of `kind`, at most five seconds.
async fn next_event(
    changes: &mut (impl Stream<Item = IntentChange> + Unpin),
    kind: IntentEventKind,
) -> IntentChange {
    let wait = async {
        loop {
            let change = changes.next().await.expect("stream open");
            if change.event == kind {
                return change;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .unwrap_or_else(|_| panic!("no {kind:?} event within 5 s"))
}

// conformance: claims.handover
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_contenders_are_granted_in_arrival_order_and_see_each_others_writes() {
    let server = many_key_server(10).await;
    let (setup, outsider) = two_clients(&server).await;
    let row = setup
        .model::<Task>()
        .create(task("contended"))
        .await
        .unwrap();
    let id = row.id.clone();
    let mut changes = Box::pin(setup.intents().changes());
    let first = setup.model::<Task>().claim(id.clone()).await.unwrap();
    assert_eq!(first.row().unwrap().data.points, 0);

    // Ten contenders, each a distinct participant, join the line one after
    // the other: the next one asks only once the previous one is queued.
    let mut contenders = Vec::new();
    for n in 1..=10i64 {
        let client: Client = client_with(&server, &contender_key(n as usize - 1)).await;
        let id = id.clone();
        contenders.push(tokio::spawn(async move {
            let tasks = client.model::<Task>();
            let claim = tasks
                .claim(id.clone())
                .timeout(Duration::from_secs(30))
                .await
                .unwrap();
            let seen = claim.row().unwrap().data.points;
            // No readAt: the server guards the holder's write from the
            // stamp at the grant.
            tasks
                .update(id.clone(), TaskPatch::new().points(n))
                .await
                .unwrap();
            claim.release().await.unwrap();
            seen
        }));
        let queued = next_event(&mut changes, IntentEventKind::Queued).await;
        assert_eq!(queued.position, Some(n as usize));
    }

    // A non-holder's write never lands while the row is claimed.
    let refused = outsider
        .model::<Task>()
        .update(id.clone(), TaskPatch::new().title("sneaky"))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Error::EntityClaimed { .. }),
        "{refused:?}"
    );
    assert_eq!(refused.code(), "entity_claimed");

    first.release().await.unwrap();
    for (index, contender) in contenders.into_iter().enumerate() {
        // Contender n saw the write of contender n - 1 (the first holder
        // wrote nothing): grants went in arrival order.
        assert_eq!(contender.await.unwrap(), index as i64);
    }
    let last = setup.model::<Task>().retrieve(id.clone()).await.unwrap();
    assert_eq!(last.data.data.points, 10);
    assert_eq!(last.data.data.title, "contended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_holder_loses_the_claim_within_its_lease_and_the_next_waiter_is_granted() {
    let server = two_key_server().await;
    let (holder, waiter) = two_clients(&server).await;
    let row = holder.model::<Task>().create(task("leased")).await.unwrap();
    let lease = Duration::from_millis(400);
    let mut claim = holder
        .model::<Task>()
        .claim(row.id.clone())
        .ttl(lease)
        .await
        .unwrap();
    let mut changes = Box::pin(waiter.intents().changes());
    let tasks = waiter.model::<Task>();
    let pending = tokio::spawn({
        let id = row.id.clone();
        async move { tasks.claim(id).ttl(Duration::from_secs(5)).await }
    });
    next_event(&mut changes, IntentEventKind::Queued).await;
    // Let the heartbeat renew the lease a few times: a live holder keeps it.
    tokio::time::sleep(lease * 2).await;
    assert!(
        !pending.is_finished(),
        "a heartbeating holder keeps its claim"
    );

    let silent_since = Instant::now();
    claim.abandon();
    let granted = pending.await.unwrap().unwrap();
    let handed_over = silent_since.elapsed();
    // The lease counts from the last heartbeat (at most a third of the
    // lease before going silent); the expiry timer ticks every 50 ms.
    assert!(
        handed_over <= lease + Duration::from_millis(250),
        "handed over after {handed_over:?}"
    );
    assert_eq!(granted.row().unwrap().id, row.id);

    // The previous holder is no longer one: its writes are refused.
    let refused = holder
        .model::<Task>()
        .update(row.id.clone(), TaskPatch::new().points(1))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Error::EntityClaimed { .. }),
        "{refused:?}"
    );
    granted.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_that_does_not_wait_fails_when_held_and_claim_with_always_releases() {
    let server = two_key_server().await;
    let (first, second) = two_clients(&server).await;
    let row = first.model::<Task>().create(task("once")).await.unwrap();
    let contested = row.id.clone();
    let outcome: Result<(), Error> = first
        .model::<Task>()
        .claim_with(row.id.clone(), |fresh| async move {
            assert_eq!(fresh.unwrap().data.title, "once");
            let err = second
                .model::<Task>()
                .claim(contested)
                .wait(false)
                .await
                .unwrap_err();
            assert!(matches!(err, Error::EntityClaimed { .. }), "{err:?}");
            Err(Error::connection("gave_up", "the work failed"))
        })
        .await;
    assert_eq!(outcome.unwrap_err().code(), "gave_up");
    // Released although the work failed: the row can be claimed at once.
    let again = first
        .model::<Task>()
        .claim(row.id.clone())
        .wait(false)
        .await
        .unwrap();
    again.release().await.unwrap();
    let target = Target::from(&row.id);
    assert!(first.intents().fetch(target).await.unwrap().is_empty());
}
