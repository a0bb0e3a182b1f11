//! Guarded read-modify-write under contention: writers read a counter,
//! write `value + 1` with `readAt` and `onStale: reject`, and retry on
//! `stale_context`. No update may be lost.

mod server_common;

use reqwest::StatusCode;
use serde_json::json;
use server_common::TestServer;

const WRITERS: u64 = 10;
const INCREMENTS: u64 = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn guarded_increments_lose_no_update() {
    let server = TestServer::start().await;
    let (status, _) = server
        .http
        .post(
            "/v1/models/counters",
            &json!({"id": "c", "data": {"value": 0}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let http = server.http.clone();
            tokio::spawn(async move {
                let mut stale_retries = 0;
                for _ in 0..INCREMENTS {
                    loop {
                        let (status, read) = http.get("/v1/models/counters/c").await;
                        assert_eq!(status, StatusCode::OK);
                        let value = read["data"]["value"].as_u64().unwrap();
                        let body = json!({"operations": [{"type": "update", "model": "counters", "id": "c",
                            "data": {"value": value + 1}, "readAt": read["stamp"], "onStale": "reject"}]});
                        let (status, answer) = http.commit(&body).await;
                        match status {
                            StatusCode::OK => break,
                            StatusCode::CONFLICT => {
                                assert_eq!(answer["error"]["code"], "stale_context");
                                stale_retries += 1;
                            }
                            other => panic!("unexpected {other}: {answer}"),
                        }
                    }
                }
                stale_retries
            })
        })
        .collect();
    let mut retries = 0;
    for writer in writers {
        retries += writer.await.unwrap();
    }
    let (_, counter) = server.http.get("/v1/models/counters/c").await;
    assert_eq!(
        counter["data"]["value"],
        WRITERS * INCREMENTS,
        "no lost update"
    );
    assert!(retries > 0, "the writers did contend");
    // Every accepted increment is one delta, in order.
    let (_, page) = server.http.get("/v1/sync/deltas?after=1&limit=1000").await;
    let values: Vec<u64> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["data"]["value"].as_u64().unwrap())
        .collect();
    assert_eq!(values, (1..=WRITERS * INCREMENTS).collect::<Vec<_>>());
}
