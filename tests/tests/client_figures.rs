//! Client-side figures against the embedded server on loopback: confirmed
//! write latency, commit-to-watch latency at another client, queued and
//! concurrent write rates. Each run prints its numbers
//! (`cargo test --release --test client_figures -- --nocapture`) and checks
//! that every write was applied and observed exactly once, in order.

mod client_common;

use std::time::{Duration, Instant};

use ablo::client::{Query, RowChange, Wait};
use client_common::{Counter, CounterPatch, TestServer, next_within};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{what}: n={} p50={:.3} ms p99={:.3} ms max={:.3} ms",
        samples.len(),
        percentile(&samples, 0.50).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().unwrap().as_secs_f64() * 1e3,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmed_writes_and_live_delivery() {
    const WRITES: i64 = 300;
    let server = TestServer::start().await;
    let writer = server.client().await;
    let reader = server.client().await;
    let counter = writer
        .model::<Counter>()
        .create(Counter {
            name: "latency".into(),
            value: 0,
        })
        .await
        .unwrap();
    let mut seen = reader.model::<Counter>().watch(Query::new());
    match next_within(&mut seen, "the counter reaches the reader").await {
        RowChange::Inserted(row) => assert_eq!(row.id, counter.id),
        other => panic!("expected Inserted, got {other:?}"),
    }

    let mut write_latency = Vec::new();
    let mut delivery_latency = Vec::new();
    let mut last_stamp = counter.stamp;
    for value in 1..=WRITES {
        let started = Instant::now();
        let row = writer
            .model::<Counter>()
            .update(counter.id.clone(), CounterPatch::new().value(value))
            .read_at(last_stamp)
            .await
            .unwrap();
        write_latency.push(started.elapsed());
        match next_within(&mut seen, "the reader sees the write").await {
            RowChange::Updated(seen_row) => {
                assert_eq!(seen_row.value, value, "in order, none skipped");
                assert_eq!(seen_row.stamp, row.stamp);
            }
            other => panic!("expected Updated, got {other:?}"),
        }
        delivery_latency.push(started.elapsed());
        last_stamp = row.stamp;
    }
    report("confirmed update, one client, sequential", write_latency);
    report(
        "update start to Updated at a second client's watch",
        delivery_latency,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_and_concurrent_write_rates() {
    const QUEUED: usize = 1000;
    const TASKS: usize = 16;
    const EACH: i64 = 50;
    let server = TestServer::start().await;
    let client = server.client().await;

    let started = Instant::now();
    let mut last = None;
    for i in 0..QUEUED {
        last = Some(
            client
                .model::<Counter>()
                .create(Counter {
                    name: format!("q{i}"),
                    value: i as i64,
                })
                .enqueue()
                .unwrap(),
        );
    }
    let enqueued = started.elapsed();
    last.unwrap().confirmed().await.unwrap();
    let confirmed = started.elapsed();
    println!(
        "{QUEUED} queued creates: all applied locally in {:.1} ms, all confirmed in {:.1} ms ({:.0} writes/s, sent one at a time)",
        enqueued.as_secs_f64() * 1e3,
        confirmed.as_secs_f64() * 1e3,
        QUEUED as f64 / confirmed.as_secs_f64()
    );
    assert_eq!(client.model::<Counter>().get_count(&Query::new()), QUEUED);

    let mut rows = Vec::new();
    for i in 0..TASKS {
        rows.push(
            client
                .model::<Counter>()
                .create(Counter {
                    name: format!("c{i}"),
                    value: 0,
                })
                .wait(Wait::Confirmed)
                .await
                .unwrap(),
        );
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for row in rows.clone() {
        let handle = client.model::<Counter>();
        tasks.push(tokio::spawn(async move {
            for value in 1..=EACH {
                handle
                    .update(row.id.clone(), CounterPatch::new().value(value))
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    let total = TASKS as i64 * EACH;
    println!(
        "{TASKS} concurrent tasks x {EACH} confirmed updates on one client: {total} in {:.1} ms ({:.0} writes/s)",
        elapsed.as_secs_f64() * 1e3,
        total as f64 / elapsed.as_secs_f64()
    );
    for row in rows {
        let now = client.model::<Counter>().retrieve(row.id).await.unwrap();
        assert_eq!(now.data.value, EACH);
    }
}
