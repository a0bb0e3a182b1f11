//! A race of client tasks doing guarded read-modify-write increments on one
//! row: every stale write is rejected and retried, and no update is lost.

mod client_common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ablo::Error;
use ablo::client::Query;
use client_common::{Counter, CounterPatch, TestServer};

const WRITERS: usize = 8;
const INCREMENTS_EACH: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guarded_increments_from_many_clients_lose_no_update() {
    let server = TestServer::start().await;
    let setup = server.client().await;
    let counter = setup
        .model::<Counter>()
        .create(Counter {
            name: "race".into(),
            value: 0,
        })
        .await
        .unwrap();
    let stale_rejections = Arc::new(AtomicUsize::new(0));

    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        // Half the writers read over HTTP, half from their live pool.
        let client = if writer % 2 == 0 {
            server.builder().live(false).connect().await.unwrap()
        } else {
            server.client().await
        };
        let id = counter.id.clone();
        let stale_rejections = stale_rejections.clone();
        writers.push(tokio::spawn(async move {
            let counters = client.model::<Counter>();
            counters.load(Query::new()).await.unwrap();
            for _ in 0..INCREMENTS_EACH {
                loop {
                    let (value, stamp) = if writer % 2 == 0 {
                        let read = counters.retrieve(id.clone()).await.unwrap();
                        (read.data.value, read.stamp)
                    } else {
                        let row = counters.get(id.clone()).expect("live pool has the row");
                        (row.value, client.snapshot([&row]))
                    };
                    let write = counters
                        .update(id.clone(), CounterPatch::new().value(value + 1))
                        .read_at(stamp)
                        .await;
                    match write {
                        Ok(_) => break,
                        Err(Error::StaleContext { .. }) => {
                            stale_rejections.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(other) => panic!("writer {writer}: {other:?}"),
                    }
                }
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }

    let total = (WRITERS * INCREMENTS_EACH) as i64;
    let final_row = setup
        .model::<Counter>()
        .retrieve(counter.id.clone())
        .await
        .unwrap();
    assert_eq!(final_row.data.value, total, "no lost update");
    let rejected = stale_rejections.load(Ordering::Relaxed);
    println!(
        "{WRITERS} writers x {INCREMENTS_EACH} increments: final value {}, {rejected} stale rejections retried",
        final_row.data.value
    );
    assert!(rejected > 0, "the writers really raced");
    assert_eq!(
        setup
            .model::<Counter>()
            .load(Query::new())
            .await
            .unwrap()
            .len(),
        1
    );
}
