//! The durable write queue survives a SIGKILL: an agent process queues
//! writes while the server is unreachable (each fsynced before it is
//! acknowledged), is killed, and a new process on the same queue directory
//! replays them, in order and with their original `clientTxId`s, so each
//! lands exactly once.
//!
//! The agent is this test binary run again (`AGENT_MODE` set), so the test
//! needs no other executable.

mod client_common;

use std::process::Stdio;
use std::time::Duration;

use ablo::client::{Client, Query, RetryPolicy, Wait};
use client_common::{API_KEY, App, Task, TaskStatus, TestServer};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const WRITES: usize = 25;

/// The agent: `AGENT_MODE=queue` connects, says so, then queues
/// [`WRITES`] creates and says so after each local acknowledgement;
/// `AGENT_MODE=replay` connects (replaying the directory) and waits until
/// the queue is empty.
#[tokio::test]
async fn agent_process() {
    let Ok(mode) = std::env::var("AGENT_MODE") else {
        return; // only as a child of the test below
    };
    let url = std::env::var("AGENT_URL").unwrap();
    let dir = std::env::var("AGENT_QUEUE").unwrap();
    let client = Client::builder(url, API_KEY)
        .schema(App::descriptor())
        .live(false)
        .queue_dir(dir)
        .timeout(Duration::from_secs(30))
        .retry(
            RetryPolicy::default()
                .max_attempts(2)
                .initial_delay(Duration::from_millis(20))
                .max_delay(Duration::from_millis(100)),
        )
        .connect()
        .await
        .unwrap();
    println!("CONNECTED");
    if mode == "queue" {
        // The parent stops the server after CONNECTED and says GO on stdin.
        let mut stdin = BufReader::new(tokio::io::stdin()).lines();
        assert_eq!(stdin.next_line().await.unwrap().as_deref(), Some("GO"));
        let tasks = client.model::<Task>();
        for n in 0..WRITES {
            tasks
                .create(Task {
                    title: format!("write {n:03}"),
                    status: TaskStatus::Todo,
                    summary: None,
                    points: n as i64,
                })
                .id(format!("w{n:03}"))
                .wait(Wait::Queued)
                .await
                .unwrap();
            println!("QUEUED {n}");
        }
        // One more that the server will refuse: its id is taken by then.
        tasks
            .create(Task {
                title: "a second w000".into(),
                status: TaskStatus::Todo,
                summary: None,
                points: -1,
            })
            .id("w000")
            .idempotency_key("tx_duplicate_w000")
            .wait(Wait::Queued)
            .await
            .unwrap();
        println!("QUEUED ALL");
        std::future::pending::<()>().await;
    } else {
        let rejections = client.rejections();
        client.dispose().await; // lets the replayed writes settle
        let mut rejections = Box::pin(rejections);
        // What arrived by now; the stream itself lasts as long as the client.
        while let Some(Some(rejection)) =
            futures::FutureExt::now_or_never(futures::StreamExt::next(&mut rejections))
        {
            println!(
                "REJECTED {} {} {}",
                rejection.client_tx_id,
                rejection.id,
                rejection.error.code()
            );
        }
        println!("DRAINED");
    }
}

async fn spawn_agent(mode: &str, url: &str, dir: &std::path::Path) -> tokio::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "agent_process",
            "--exact",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("AGENT_MODE", mode)
        .env("AGENT_URL", url)
        .env("AGENT_QUEUE", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

async fn wait_for(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    wanted: &str,
) {
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.ends_with(wanted) {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(found, "the agent never printed {wanted}");
}

#[tokio::test(flavor = "multi_thread")]
async fn queued_writes_survive_a_sigkill_and_land_once_in_order() {
    if std::env::var("AGENT_MODE").is_ok() {
        return;
    }
    let mut server = TestServer::start().await;
    let queue = tempfile::tempdir().unwrap();

    let mut agent = spawn_agent("queue", &server.url, queue.path()).await;
    let mut lines = BufReader::new(agent.stdout.take().unwrap()).lines();
    wait_for(&mut lines, "CONNECTED").await;
    server.stop().await; // every write now stays queued
    use tokio::io::AsyncWriteExt;
    let mut stdin = agent.stdin.take().unwrap();
    stdin.write_all(b"GO\n").await.unwrap();
    stdin.flush().await.unwrap();
    wait_for(&mut lines, "QUEUED ALL").await;
    let on_disk = std::fs::read_dir(queue.path()).unwrap().count();
    assert_eq!(on_disk, WRITES + 1, "every acknowledged write is on disk");
    agent.start_kill().unwrap(); // SIGKILL
    let status = agent.wait().await.unwrap();
    assert!(!status.success());

    // Keep a copy of the queue as it was at the kill.
    let copy = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(queue.path()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, copy.path().join(path.file_name().unwrap())).unwrap();
    }

    server.restart().await;
    for dir in [queue.path(), copy.path()] {
        // The second run replays writes that already landed, as after a
        // crash between a commit and the removal of its file.
        let mut again = spawn_agent("replay", &server.url, dir).await;
        let mut lines = BufReader::new(again.stdout.take().unwrap()).lines();
        let mut rejected = Vec::new();
        let drained = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(at) = line.find("REJECTED ") {
                    rejected.push(line[at + "REJECTED ".len()..].to_owned());
                }
                if line.ends_with("DRAINED") {
                    return true;
                }
            }
            false
        })
        .await
        .unwrap_or(false);
        assert!(drained, "the replaying agent never drained");
        assert!(again.wait().await.unwrap().success());
        assert_eq!(std::fs::read_dir(dir).unwrap().count(), 0);
        // The refused write surfaces, typed, on the rejection stream (each
        // run: the server does not remember refused commits).
        assert_eq!(rejected.len(), 1, "{rejected:?}");
        assert!(
            rejected[0].starts_with("tx_duplicate_w000 w000 "),
            "{rejected:?}"
        );
    }

    // Every write landed once, in the order it was queued.
    let reader = server.builder().live(false).connect().await.unwrap();
    let rows = reader
        .model::<Task>()
        .load(Query::new().order_by("stamp"))
        .await
        .unwrap();
    let ids: Vec<String> = rows.iter().map(|r| r.id.to_string()).collect();
    let expected: Vec<String> = (0..WRITES).map(|n| format!("w{n:03}")).collect();
    assert_eq!(ids, expected);
    let mut stamps: Vec<u64> = rows.iter().map(|r| r.stamp.0).collect();
    stamps.dedup();
    assert_eq!(stamps.len(), WRITES, "one commit each");

    // Replaying the same writes twice changed nothing: the server answered
    // each clientTxId from its idempotency record.
    let deltas = reqwest::Client::new()
        .get(format!("{}/v1/sync/deltas?after=0&limit=1000", server.url))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let creates = deltas["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["model"] == "tasks")
        .count();
    assert_eq!(creates, WRITES, "{deltas}");
}
