//! Runs the real `ablo-server` binary, writes under load, kills it with
//! SIGKILL (or stops it with SIGTERM) mid-load, restarts it on the same data
//! directory and checks that every confirmed write is there; and the same
//! for one of two nodes on PostgreSQL, checked through the other node
//! (skipped with a notice when `ABLO_TEST_POSTGRES_URL` is not set).

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

/// Starts the binary on a data directory and returns it with its base URL.
fn spawn_server(data: &Path) -> (Child, String) {
    spawn_on(&["--data".as_ref(), data.as_os_str()])
}

/// Starts the binary with `store` (`--data DIR` or `--database URL`) and
/// returns it with its base URL (read from its "listening on" line).
fn spawn_on(store: &[&std::ffi::OsStr]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ablo-server"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(store)
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

/// What the writers of one node saw: the ids the server confirmed, and the
/// first answer that was not a confirmation (a refused connection once the
/// node is gone, or anything else the server said), for the failure message.
#[derive(Default)]
struct Written {
    confirmed: Vec<String>,
    first_failure: Option<String>,
}

/// Writers create rows as fast as they can, recording the ids the server
/// confirmed, until requests start failing. Ids start with `prefix`, so
/// writers on different nodes of one database never create the same row.
async fn write_until_failure(
    url: &str,
    prefix: &'static str,
    writers: u32,
) -> (Arc<Mutex<Written>>, Vec<tokio::task::JoinHandle<()>>) {
    let confirmed = Arc::new(Mutex::new(Written::default()));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let tasks = (0..writers)
        .map(|writer| {
            let (client, confirmed, url) = (client.clone(), confirmed.clone(), url.to_owned());
            tokio::spawn(async move {
                for seq in 0..100_000u32 {
                    let id = format!("{prefix}{writer}_{seq}");
                    let body = json!({"id": id, "data": {"writer": writer, "seq": seq}});
                    let sent = client
                        .post(format!("{url}/v1/models/notes"))
                        .bearer_auth(KEY)
                        .json(&body)
                        .send()
                        .await;
                    let failure = match sent {
                        Ok(response) if response.status().as_u16() == 201 => {
                            confirmed.lock().unwrap().confirmed.push(id);
                            continue;
                        }
                        Ok(response) => format!(
                            "{} {}",
                            response.status(),
                            response.text().await.unwrap_or_default()
                        ),
                        Err(error) => format!("{error:?}"),
                    };
                    confirmed
                        .lock()
                        .unwrap()
                        .first_failure
                        .get_or_insert(failure);
                    return;
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
    check_confirmed_are_stored(&url, confirmed).await;
    restarted.kill().unwrap();
    restarted.wait().unwrap();
}

/// Every confirmed write is among the rows `url` lists, and no sync id was
/// lost or reused (one commit per row: the head is the row count).
async fn check_confirmed_are_stored(url: &str, confirmed: &[String]) {
    let stored = all_note_ids(url).await;
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
    assert_eq!(head(url).await, stored.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_confirmed_write_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, url) = spawn_server(dir.path());
    push_schema(&url).await;
    let (confirmed, writers) = write_until_failure(&url, "w", 16).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill().expect("SIGKILL delivered");
    server.wait().unwrap();
    for writer in writers {
        writer.await.unwrap();
    }
    let (confirmed, first_failure) = {
        let written = confirmed.lock().unwrap();
        (written.confirmed.clone(), written.first_failure.clone())
    };
    assert!(
        confirmed.len() > 50,
        "the load ran: {} writes confirmed; first failure: {first_failure:?}",
        confirmed.len(),
    );
    check_recovery(dir.path(), &confirmed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_finishes_in_flight_commits_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, url) = spawn_server(dir.path());
    push_schema(&url).await;
    let (confirmed, writers) = write_until_failure(&url, "w", 8).await;
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
    let confirmed = confirmed.lock().unwrap().confirmed.clone();
    assert!(!confirmed.is_empty());
    check_recovery(dir.path(), &confirmed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_killed_mid_load_loses_no_confirmed_write_on_postgres() {
    let Some(database) = ablo_tests::postgres::fresh_database("node killed mid-load") else {
        return;
    };
    let store = ["--database".as_ref(), database.as_ref()];
    let (mut doomed, doomed_url) = spawn_on(&store);
    let (mut survivor, survivor_url) = spawn_on(&store);
    push_schema(&doomed_url).await;
    // The survivor sees the schema within its half-second follow.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (on_doomed, doomed_writers) = write_until_failure(&doomed_url, "doomed", 8).await;
    let (on_survivor, survivor_writers) = write_until_failure(&survivor_url, "survivor", 8).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    doomed.kill().expect("SIGKILL delivered");
    doomed.wait().unwrap();
    for writer in doomed_writers {
        writer.await.unwrap();
    }
    // The survivor keeps taking writes after its peer died.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before_stop = on_survivor.lock().unwrap().confirmed.len();
    survivor.kill().unwrap();
    survivor.wait().unwrap();
    for writer in survivor_writers {
        writer.await.unwrap();
    }
    let (doomed, survived) = (
        std::mem::take(&mut *on_doomed.lock().unwrap()),
        std::mem::take(&mut *on_survivor.lock().unwrap()),
    );
    let mut confirmed = doomed.confirmed.clone();
    let doomed_count = confirmed.len();
    confirmed.extend(survived.confirmed.iter().cloned());
    assert!(
        doomed_count > 20,
        "the load ran on the killed node: {doomed_count}; first failure: {:?}",
        doomed.first_failure
    );
    assert!(
        before_stop > 20,
        "the load ran on the survivor: {before_stop}; first failure: {:?}",
        survived.first_failure
    );
    let (mut checker, checker_url) = spawn_on(&store);
    check_confirmed_are_stored(&checker_url, &confirmed).await;
    eprintln!(
        "{doomed_count} writes confirmed by the killed node and {} by the other, all stored",
        confirmed.len() - doomed_count
    );
    checker.kill().unwrap();
    checker.wait().unwrap();
}
