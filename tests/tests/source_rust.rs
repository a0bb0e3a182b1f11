//! A Data Source written in Rust with `ablo::source`: an axum app over an
//! in-memory table, served on loopback, configured on a real server. Writes
//! go through it, a refusal comes back typed, and changes it makes itself
//! reach clients through `push_events`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ablo::client::{Client, RetryPolicy, RowChange};
use ablo::prelude::*;
use ablo::source::{DataSource, Reply, push_events};
use ablo::wire::{JsonObject, SourceCommit, SourceConfig, SourceEvent};
use futures::StreamExt;
use serde_json::{Value, json};

#[ablo::model]
pub struct Note {
    pub text: String,
    pub pinned: bool,
}

ablo::schema! { pub struct Notes { notes: Note } }

const API_KEY: &str = "sk_test_source_rust_0123456789";
const SECRET: &str = "whsec_rust_source_secret_0123456789";

/// The app's own table, and the commits it has applied (for dedupe).
#[derive(Default)]
struct Table {
    rows: Mutex<BTreeMap<String, JsonObject>>,
    applied: Mutex<BTreeMap<String, Vec<JsonObject>>>,
}

impl DataSource for Table {
    async fn commit(&self, commit: SourceCommit) -> Result<Vec<JsonObject>, Reply> {
        let mut applied = self.applied.lock().unwrap();
        if let Some(rows) = applied.get(&commit.client_tx_id) {
            return Ok(rows.clone());
        }
        let mut rows = self.rows.lock().unwrap();
        let mut written = Vec::new();
        for op in &commit.operations {
            if op.input.get("text").and_then(Value::as_str) == Some("") {
                return Err(Reply::new(422, "a note needs text"));
            }
            match op.kind.as_str() {
                "DELETE" => {
                    rows.remove(&op.id);
                }
                _ => {
                    let row = rows.entry(op.id.clone()).or_default();
                    row.extend(op.input.clone());
                    row.insert("id".into(), json!(op.id));
                    // The app's own bookkeeping, not a model field.
                    row.insert("revision".into(), json!(commit.client_tx_id));
                    written.push(row.clone());
                }
            }
        }
        applied.insert(commit.client_tx_id, written.clone());
        Ok(written)
    }

    async fn load(&self, _model: &str, id: &str) -> Result<Option<JsonObject>, Reply> {
        Ok(self.rows.lock().unwrap().get(id).cloned())
    }

    async fn list(&self, _model: &str, _query: Value) -> Result<Vec<JsonObject>, Reply> {
        Ok(self.rows.lock().unwrap().values().cloned().collect())
    }
}

#[tokio::test]
async fn a_rust_data_source_serves_writes_reads_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ablo_server::ServerConfig::new(dir.path())
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_api_key(API_KEY);
    config.source_poll_interval = Duration::from_millis(100);
    let server = ablo_server::start(config).await.unwrap();
    let table = Arc::new(Table::default());
    let source_url = ablo_tests::serve_data_source(table.clone(), SECRET).await;
    ablo_tests::push_schema(&server.url(), API_KEY, &Notes::descriptor()).await;
    let client = Client::builder(server.url(), API_KEY)
        .schema(Notes::descriptor())
        .retry(RetryPolicy::default().max_attempts(1))
        .connect()
        .await
        .unwrap();
    client.ready().await.unwrap();
    let configured = client
        .sources()
        .configure(
            "notes-app",
            &SourceConfig {
                url: source_url,
                models: vec!["notes".into()],
                signing_secret: Some(SECRET.into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(configured.signing_secret, SECRET);
    assert_eq!(configured.push_events_url, "/v1/sources/notes-app/events");

    let notes = client.model::<Note>();
    let mut watch = notes.watch(Query::new());
    let created = notes
        .create(Note {
            text: "Call the vendor".into(),
            pinned: false,
        })
        .await
        .unwrap();
    let stored = table.rows.lock().unwrap()[created.id.as_str()].clone();
    assert_eq!(stored["text"], "Call the vendor");
    assert_eq!(
        stored["revision"],
        json!(table.applied.lock().unwrap().keys().next().unwrap())
    );

    let refused = notes
        .update(created.id.clone(), NotePatch::new().text(""))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "source_rejected", "{refused:?}");
    assert_eq!(
        refused.info().details.as_ref().unwrap()["body"]["detail"],
        "a note needs text"
    );

    // The app pins the note itself and pushes the change.
    let mut row = table.rows.lock().unwrap()[created.id.as_str()].clone();
    row.insert("pinned".into(), json!(true));
    table
        .rows
        .lock()
        .unwrap()
        .insert(created.id.to_string(), row.clone());
    let event = SourceEvent {
        id: "evt_pin_1".into(),
        model: "notes".into(),
        entity_id: created.id.to_string(),
        kind: "update".into(),
        data: Value::Object(row),
        organization_id: None,
        client_tx_id: None,
        occurred_at: Some(ablo::signing::now_ms()),
    };
    let http = reqwest::Client::new();
    let outcome = push_events(
        &http,
        &server.url(),
        "notes-app",
        SECRET,
        std::slice::from_ref(&event),
    )
    .await
    .unwrap();
    assert_eq!((outcome.applied, outcome.duplicates), (1, 0));
    let outcome = push_events(&http, &server.url(), "notes-app", SECRET, &[event])
        .await
        .unwrap();
    assert_eq!((outcome.applied, outcome.duplicates), (0, 1));
    let wrong = push_events(
        &http,
        &server.url(),
        "notes-app",
        "whsec_wrong_secret_000000",
        &[],
    )
    .await
    .unwrap_err();
    assert_eq!(wrong.code(), "invalid_signature");

    let mut pinned = false;
    while !pinned {
        let change = tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await
            .expect("changes in time")
            .unwrap();
        if let RowChange::Updated(row) | RowChange::Inserted(row) = change {
            pinned = row.pinned;
        }
    }
    assert!(notes.get(created.id.clone()).unwrap().pinned);

    // This source answers `events` with 400: it is no longer polled.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let status = client.sources().status("notes-app").await.unwrap();
    assert!(!status.events_supported, "{status:?}");
    let missing = client.sources().status("nope").await.unwrap_err();
    assert!(matches!(missing, ablo::Error::NotFound(_)), "{missing:?}");
    assert_eq!(missing.code(), "source_not_found");
    let invalid = client
        .sources()
        .configure(
            "notes-app",
            &SourceConfig {
                url: "not a url".into(),
                models: vec!["notes".into()],
                signing_secret: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(invalid, ablo::Error::Validation(_)), "{invalid:?}");
    assert_eq!(invalid.code(), "invalid_source");
    server.shutdown().await.unwrap();
}

/// A source that fails its first commits with 503, then answers rows
/// missing a required field when asked to.
#[derive(Default)]
struct Flaky {
    failures_left: Mutex<u32>,
    commits_applied: Mutex<u32>,
    answer_without_text: Mutex<bool>,
}

impl DataSource for Flaky {
    async fn commit(&self, commit: SourceCommit) -> Result<Vec<JsonObject>, Reply> {
        {
            let mut left = self.failures_left.lock().unwrap();
            if *left > 0 {
                *left -= 1;
                return Err(Reply::new(503, "database restarting"));
            }
        }
        *self.commits_applied.lock().unwrap() += 1;
        let without_text = *self.answer_without_text.lock().unwrap();
        Ok(commit
            .operations
            .iter()
            .map(|op| {
                let mut row = op.input.clone();
                row.insert("id".into(), json!(op.id));
                if without_text {
                    row.remove("text");
                }
                row
            })
            .collect())
    }

    async fn load(&self, _model: &str, _id: &str) -> Result<Option<JsonObject>, Reply> {
        Ok(None)
    }

    async fn list(&self, _model: &str, _query: Value) -> Result<Vec<JsonObject>, Reply> {
        Ok(Vec::new())
    }
}

#[tokio::test]
async fn failing_sources_are_retried_and_bad_answers_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ablo_server::ServerConfig::new(dir.path())
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_api_key(API_KEY);
    config.source_poll_interval = Duration::from_secs(3600);
    config.source_retry.initial_delay = Duration::from_millis(10);
    let server = ablo_server::start(config).await.unwrap();
    let flaky = Arc::new(Flaky::default());
    *flaky.failures_left.lock().unwrap() = 2;
    let url = ablo_tests::serve_data_source(flaky.clone(), SECRET).await;
    ablo_tests::push_schema(&server.url(), API_KEY, &Notes::descriptor()).await;
    let client = Client::builder(server.url(), API_KEY)
        .schema(Notes::descriptor())
        .retry(RetryPolicy::default().max_attempts(1))
        .connect()
        .await
        .unwrap();
    client.ready().await.unwrap();
    let http = reqwest::Client::new();
    let put = http
        .put(format!("{}/v1/sources/flaky", server.url()))
        .bearer_auth(API_KEY)
        .json(&json!({"url": url, "models": ["notes"], "signingSecret": SECRET}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    let status = || async {
        http.get(format!("{}/v1/sources/flaky/status", server.url()))
            .bearer_auth(API_KEY)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };

    // Two 503s, then success: one confirmed write, applied once.
    let notes = client.model::<Note>();
    let created = notes
        .create(Note {
            text: "retried".into(),
            pinned: false,
        })
        .await
        .unwrap();
    assert_eq!(created.text, "retried");
    assert_eq!(*flaky.commits_applied.lock().unwrap(), 1);
    let seen = status().await;
    assert_eq!(
        (seen["attempts"].as_u64(), seen["failures"].as_u64()),
        (Some(3), Some(2)),
        "{seen}"
    );
    assert!(seen["lastSuccessAt"].is_string());

    // A canonical row without a required field is refused, and the mirror
    // keeps what it had.
    *flaky.answer_without_text.lock().unwrap() = true;
    let refused = notes
        .update(created.id.clone(), NotePatch::new().pinned(true))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "source_invalid_response", "{refused:?}");
    assert_eq!(refused.status(), Some(502));
    let (status_code, body) = {
        let response = http
            .get(format!("{}/v1/sync/deltas?after=0", server.url()))
            .bearer_auth(API_KEY)
            .send()
            .await
            .unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };
    assert_eq!(status_code, 200);
    assert_eq!(
        body["data"].as_array().unwrap().len(),
        1,
        "only the create: {body}"
    );

    // Unreachable after the retries: 502, each attempt counted.
    *flaky.failures_left.lock().unwrap() = 10;
    let before = status().await["attempts"].as_u64().unwrap();
    let unavailable = notes
        .create(Note {
            text: "never".into(),
            pinned: false,
        })
        .await
        .unwrap_err();
    assert_eq!(unavailable.code(), "source_unavailable");
    let after = status().await;
    assert_eq!(after["attempts"].as_u64().unwrap() - before, 4, "{after}");
    assert_eq!(after["lastError"]["request"], "commit");
    server.shutdown().await.unwrap();
}

/// Applied event ids are kept for the source record retention: a duplicate
/// within it is dropped, the same id delivered after it is applied again
/// (here: found unchanged, since the row already holds its data).
#[tokio::test]
async fn an_event_id_is_forgotten_after_the_source_record_retention() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ablo_server::ServerConfig::new(dir.path())
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_api_key(API_KEY);
    config.source_record_retention = Duration::from_millis(300);
    config.record_purge_interval = Duration::from_millis(50);
    let server = ablo_server::start(config).await.unwrap();
    let table = Arc::new(Table::default());
    let source_url = ablo_tests::serve_data_source(table.clone(), SECRET).await;
    ablo_tests::push_schema(&server.url(), API_KEY, &Notes::descriptor()).await;
    let client = Client::builder(server.url(), API_KEY)
        .schema(Notes::descriptor())
        .connect()
        .await
        .unwrap();
    client
        .sources()
        .configure(
            "notes-app",
            &SourceConfig {
                url: source_url,
                models: vec!["notes".into()],
                signing_secret: Some(SECRET.into()),
            },
        )
        .await
        .unwrap();
    let event = SourceEvent {
        id: "evt_once".into(),
        model: "notes".into(),
        entity_id: "note_1".into(),
        kind: "insert".into(),
        data: json!({"id": "note_1", "text": "From the app", "pinned": false}),
        organization_id: None,
        client_tx_id: None,
        occurred_at: Some(ablo::signing::now_ms()),
    };
    let http = reqwest::Client::new();
    let url = server.url();
    let events = std::slice::from_ref(&event);
    let push = || push_events(&http, &url, "notes-app", SECRET, events);
    let first = push().await.unwrap();
    assert_eq!((first.applied, first.duplicates), (1, 0));
    let again = push().await.unwrap();
    assert_eq!((again.applied, again.duplicates), (0, 1));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let later = push().await.unwrap();
    assert_eq!(
        (later.applied, later.unchanged, later.duplicates),
        (0, 1, 0),
        "{later:?}"
    );
}
