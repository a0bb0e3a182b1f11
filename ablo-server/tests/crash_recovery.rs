//! Runs the real `ablo-server` binary, writes under load, kills it with
//! SIGKILL (or stops it with SIGTERM) mid-load, restarts it on the same data
//! directory and checks that every confirmed write is there.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ablo_runtime::{FieldDescriptor, FieldType, ModelDescriptor, SchemaDescriptor, TypeRegistry};
use serde_json::{Value, json};

const KEY: &str = "sk_test_crash_recovery_0123456789";

fn schema() -> SchemaDescriptor {
    let model = ModelDescriptor {
        name: "notes".into(),
        type_name: "Note".into(),
        doc: None,
        fields: vec![
            FieldDescriptor::new(
                "writer",
                "writer",
                FieldType::Integer {
                    bits: 32,
                    signed: false,
                },
            ),
            FieldDescriptor::new(
                "seq",
                "seq",
                FieldType::Integer {
                    bits: 32,
                    signed: false,
                },
            ),
        ],
        sync_groups: vec![],
        ts: String::new(),
        json_schema: json!({}),
    };
    SchemaDescriptor::build("App", vec![model], TypeRegistry::default())
}

/// Starts the binary and returns it with its base URL (read from its
/// "listening on" line).
fn spawn_server(data: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ablo-server"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data"])
        .arg(data)
        .env("ABLO_API_KEY", KEY)
        .env("ABLO_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("a listening line")
            .expect("stdout readable");
        if let Some(url) = line.strip_prefix("ablo-server listening on ") {
            break url.trim().to_owned();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

/// Writers create rows as fast as they can, recording the ids the server
/// confirmed, until requests start failing.
async fn write_until_failure(
    url: &str,
    writers: u32,
) -> (Arc<Mutex<Vec<String>>>, Vec<tokio::task::JoinHandle<()>>) {
    let confirmed = Arc::new(Mutex::new(Vec::new()));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let tasks = (0..writers)
        .map(|writer| {
            let (client, confirmed, url) = (client.clone(), confirmed.clone(), url.to_owned());
            tokio::spawn(async move {
                for seq in 0..100_000u32 {
                    let id = format!("w{writer}_{seq}");
                    let body = json!({"id": id, "data": {"writer": writer, "seq": seq}});
                    let sent = client
                        .post(format!("{url}/v1/models/notes"))
                        .bearer_auth(KEY)
                        .json(&body)
                        .send()
                        .await;
                    match sent {
                        Ok(response) if response.status().as_u16() == 201 => {
                            confirmed.lock().unwrap().push(id)
                        }
                        _ => return,
                    }
                }
            })
        })
        .collect();
    (confirmed, tasks)
}

async fn push_schema(url: &str) {
    let response = reqwest::Client::new()
        .put(format!("{url}/v1/schema"))
        .bearer_auth(KEY)
        .json(&schema())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

async fn all_note_ids(url: &str) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = client
            .get(format!("{url}/v1/models/notes"))
            .bearer_auth(KEY)
            .query(&[("limit", "1000")]);
        if let Some(c) = &cursor {
            request = request.query(&[("cursor", c)]);
        }
        let page: Value = request.send().await.unwrap().json().await.unwrap();
        ids.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned()),
        );
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
}

async fn head(url: &str) -> u64 {
    let page: Value = reqwest::Client::new()
        .get(format!("{url}/v1/sync/deltas?after=0&limit=1"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["stamp"].as_u64().unwrap()
}

async fn check_recovery(data: &Path, confirmed: &[String]) {
    let (mut restarted, url) = spawn_server(data);
    let stored = all_note_ids(&url).await;
    let stored_set: std::collections::HashSet<_> = stored.iter().collect();
    let missing: Vec<_> = confirmed
        .iter()
        .filter(|id| !stored_set.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} confirmed writes lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    // One commit per row: the log's head is the row count, so no sync id
    // was lost or reused either.
    assert_eq!(head(&url).await, stored.len() as u64);
    restarted.kill().unwrap();
    restarted.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_confirmed_write_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, url) = spawn_server(dir.path());
    push_schema(&url).await;
    let (confirmed, writers) = write_until_failure(&url, 16).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill().expect("SIGKILL delivered");
    server.wait().unwrap();
    for writer in writers {
        writer.await.unwrap();
    }
    let confirmed = confirmed.lock().unwrap().clone();
    assert!(
        confirmed.len() > 50,
        "the load ran: {} writes confirmed",
        confirmed.len()
    );
    check_recovery(dir.path(), &confirmed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_finishes_in_flight_commits_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, url) = spawn_server(dir.path());
    push_schema(&url).await;
    let (confirmed, writers) = write_until_failure(&url, 8).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let sent = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = tokio::task::spawn_blocking(move || server.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "clean exit on SIGTERM: {status}");
    for writer in writers {
        writer.await.unwrap();
    }
    let confirmed = confirmed.lock().unwrap().clone();
    assert!(!confirmed.is_empty());
    check_recovery(dir.path(), &confirmed).await;
}
