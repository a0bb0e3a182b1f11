//! Data Sources against the seed's Python Data Source example, run for
//! real: `tests/python/source_app` is a FastAPI app whose route file
//! `app/ablo_source.py` is quoted unchanged from the seed's
//! `docs/examples/existing-python-backend.md`. The server signs every call,
//! the Python code verifies it, applies commits to its own SQLite database
//! and answers with canonical rows; changes made behind Ablo's back reach
//! clients through polled and pushed events.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ablo::client::{Client, RetryPolicy, RowChange};
use ablo::prelude::*;
use futures::StreamExt;
use serde_json::{Value, json};

#[ablo::model]
pub struct Task {
    pub title: String,
    pub status: TaskStatus,
}

#[derive(ablo::Enum)]
pub enum TaskStatus {
    Todo,
    Doing,
    Done,
}

ablo::schema! { pub struct App { tasks: Task } }

const API_KEY: &str = "sk_test_source_python_0123456789";
const SECRET: &str = "whsec_python_fixture_secret_0123456789";

/// The Python app, killed when dropped.
struct PythonSource {
    child: Child,
    url: String,
    _db: tempfile::TempDir,
}

impl Drop for PythonSource {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_python(ablo_url: &str) -> PythonSource {
    let app_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/source_app");
    let db = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new("python3")
        .args(["-m", "uvicorn", "app.main:app", "--host", "127.0.0.1"])
        .args(["--port", &port.to_string(), "--log-level", "warning"])
        .current_dir(&app_dir)
        .env("ABLO_DATA_SOURCE_SIGNING_SECRET", SECRET)
        .env("TASKS_DB", db.path().join("tasks.db"))
        .env("ABLO_URL", ablo_url)
        .env("ABLO_SOURCE_NAME", "app")
        .stdout(Stdio::null())
        .spawn()
        .expect("python3 with uvicorn (scripts/setup-tools installs it)");
    let python = PythonSource {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _db: db,
    };
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(response) = http
            .get(format!("{}/admin/health", python.url))
            .send()
            .await
            && response.status().is_success()
        {
            return python;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the Python Data Source did not start");
}

struct Setup {
    server: ablo_server::RunningServer,
    python: PythonSource,
    client: Client,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Setup {
    async fn start(poll: Duration) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ablo_server::ServerConfig::new(dir.path())
            .with_addr("127.0.0.1:0".parse().unwrap())
            .with_api_key(API_KEY);
        config.source_poll_interval = poll;
        config.source_retry.initial_delay = Duration::from_millis(20);
        let server = ablo_server::start(config).await.unwrap();
        let python = start_python(&server.url()).await;
        ablo_tests::push_schema(&server.url(), API_KEY, &App::descriptor()).await;
        let client = Client::builder(server.url(), API_KEY)
            .schema(App::descriptor())
            .timeout(Duration::from_secs(20))
            .retry(RetryPolicy::default().max_attempts(1))
            .connect()
            .await
            .unwrap();
        client.ready().await.unwrap();
        let setup = Setup {
            server,
            python,
            client,
            http: reqwest::Client::new(),
            _dir: dir,
        };
        let (status, body) = setup
            .put_source(json!({
                "url": format!("{}/api/ablo/source", setup.python.url),
                "models": ["tasks"],
                "signingSecret": SECRET,
            }))
            .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["pushEventsUrl"], "/v1/sources/app/events");
        setup
    }

    async fn put_source(&self, config: Value) -> (u16, Value) {
        self.ablo(reqwest::Method::PUT, "/v1/sources/app", Some(config))
            .await
    }

    async fn ablo(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.server.url()))
            .bearer_auth(API_KEY);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The row in the Python app's own database.
    async fn python_row(&self, id: &str) -> Option<Value> {
        let response = self
            .http
            .get(format!("{}/admin/tasks/{id}", self.python.url))
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            Some(response.json().await.unwrap())
        } else {
            None
        }
    }

    /// A write through an "old endpoint" of the Python app, bypassing Ablo.
    async fn write_behind(&self, id: &str, title: &str, status: &str, push: bool) -> Value {
        self.http
            .post(format!("{}/admin/write", self.python.url))
            .json(&json!({"id": id, "title": title, "status": status, "push": push}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

fn task(title: &str, status: TaskStatus) -> Task {
    Task {
        title: title.into(),
        status,
    }
}

#[tokio::test]
async fn commits_and_reads_go_through_the_python_source() {
    let setup = Setup::start(Duration::from_secs(3600)).await;
    let tasks = setup.client.model::<Task>();

    let created = tasks
        .create(task("Draft launch plan", TaskStatus::Todo))
        .await
        .unwrap();
    let stored = setup
        .python_row(created.id.as_str())
        .await
        .expect("in Python's database");
    assert_eq!(stored["title"], "Draft launch plan");
    assert_eq!(stored["status"], "todo");

    let snap = tasks.snapshot(created.id.clone());
    let updated = tasks
        .update(
            created.id.clone(),
            TaskPatch::new().status(TaskStatus::Done),
        )
        .read_at(snap)
        .await
        .unwrap();
    assert_eq!(updated.status, TaskStatus::Done);
    assert!(updated.stamp > created.stamp);
    let stored = setup.python_row(created.id.as_str()).await.unwrap();
    assert_eq!(stored["status"], "done");

    // A write based on what was seen before that update is stale: refused
    // before the source is asked, so Python's row keeps its value.
    let stale = tasks
        .update(created.id.clone(), TaskPatch::new().title("Stale title"))
        .read_at(snap)
        .await
        .unwrap_err();
    assert!(
        matches!(stale, ablo::Error::StaleContext { .. }),
        "{stale:?}"
    );
    assert_eq!(
        setup.python_row(created.id.as_str()).await.unwrap()["title"],
        "Draft launch plan"
    );

    // A row created behind Ablo's back is read through `load` and `list`.
    setup
        .write_behind("legacy_1", "Imported", "doing", false)
        .await;
    let read = tasks.retrieve("legacy_1").await.unwrap();
    assert_eq!(read.data.title, "Imported");
    assert_eq!(read.data.status, TaskStatus::Doing);
    setup
        .write_behind("legacy_2", "Also imported", "todo", false)
        .await;
    let listed = tasks.load(Query::new()).await.unwrap();
    let mut titles: Vec<&str> = listed.iter().map(|row| row.title.as_str()).collect();
    titles.sort();
    assert_eq!(titles, ["Also imported", "Draft launch plan", "Imported"]);

    // The source refuses a create of an id it already has (the mirror did
    // not know it): the refusal comes back with the source's answer.
    let (status, body) = setup
        .ablo(
            reqwest::Method::POST,
            "/v1/models/tasks",
            Some(json!({"id": "legacy_3", "data": {"title": "x", "status": "todo"}})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    setup
        .write_behind("legacy_4", "Only in Python", "todo", false)
        .await;
    let (status, body) = setup
        .ablo(
            reqwest::Method::POST,
            "/v1/models/tasks",
            Some(json!({"id": "legacy_4", "data": {"title": "dup", "status": "todo"}})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "source_rejected");
    assert_eq!(body["error"]["details"]["status"], 409);

    let (status, body) = setup
        .ablo(reqwest::Method::GET, "/v1/sources/app/status", None)
        .await;
    assert_eq!(status, 200);
    assert!(body["attempts"].as_u64().unwrap() >= 6, "{body}");
    assert_eq!(body["failures"], 1, "{body}");
    assert_eq!(body["lastError"]["request"], "commit");
}

#[tokio::test]
async fn changes_made_behind_ablo_reach_clients_once() {
    let setup = Setup::start(Duration::from_millis(100)).await;
    let tasks = setup.client.model::<Task>();
    let watcher = Client::builder(setup.server.url(), API_KEY)
        .connect()
        .await
        .unwrap();
    watcher.ready().await.unwrap();
    let mut changes = watcher.model::<Task>().watch(Query::new());

    // Polled: an old endpoint writes, the outbox reports it.
    setup
        .write_behind("ext_1", "From the cron job", "todo", false)
        .await;
    let change = tokio::time::timeout(Duration::from_secs(10), changes.next())
        .await
        .expect("the polled change in time")
        .unwrap();
    match change {
        RowChange::Inserted(row) => assert_eq!(row.title, "From the cron job"),
        other => panic!("unexpected {other:?}"),
    }

    // Pushed: signed by the Python app with the same secret.
    let pushed = setup
        .write_behind("ext_2", "From the admin tool", "doing", true)
        .await;
    assert_eq!(pushed["pushStatus"], 200, "{pushed}");
    assert_eq!(pushed["pushBody"]["applied"], 1, "{pushed}");
    let change = tokio::time::timeout(Duration::from_secs(10), changes.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(change.id().as_str(), "ext_2");

    // The same event pushed again is a duplicate; the poll that reads it
    // from the outbox later changes nothing.
    let event = pushed["event"].clone();
    let body = serde_json::to_vec(&json!({"events": [event]})).unwrap();
    let signed =
        ablo_runtime::signing::SignedHeaders::new(SECRET, &body, ablo_runtime::signing::now_ms());
    let mut again = setup
        .http
        .post(format!("{}/v1/sources/app/events", setup.server.url()))
        .header("content-type", "application/json")
        .body(body.clone());
    for (name, value) in signed.pairs() {
        again = again.header(name, value);
    }
    let outcome: Value = again.send().await.unwrap().json().await.unwrap();
    assert_eq!(outcome["duplicates"], 1, "{outcome}");

    // A push with a wrong signature is refused.
    let forged = setup
        .http
        .post(format!("{}/v1/sources/app/events", setup.server.url()))
        .header("webhook-id", "msg_forged")
        .header(
            "webhook-timestamp",
            ablo_runtime::signing::now_ms().to_string(),
        )
        .header("webhook-signature", "v1,AAAA")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let forged: Value = forged.json().await.unwrap();
    assert_eq!(forged["error"]["code"], "invalid_signature");

    // An Ablo write lands in the outbox with its clientTxId; the poll drops
    // it as an echo, so the sync log holds exactly one delta for it.
    let created = tasks
        .create(task("Through Ablo", TaskStatus::Todo))
        .await
        .unwrap();
    let cursor_seen = |body: &Value| body["eventsCursor"].as_str().map(str::to_owned);
    let mut waited = 0;
    loop {
        let (_, status) = setup
            .ablo(reqwest::Method::GET, "/v1/sources/app/status", None)
            .await;
        // Two outbox rows before this commit (ext_1, ext_2), then its own.
        if cursor_seen(&status).as_deref() == Some("3") {
            break;
        }
        waited += 1;
        assert!(
            waited < 100,
            "the poll did not reach the commit's event: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, log) = setup
        .ablo(reqwest::Method::GET, "/v1/sync/deltas?after=0", None)
        .await;
    let deltas_for = |id: &str| {
        log["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["id"] == id)
            .count()
    };
    assert_eq!(deltas_for(created.id.as_str()), 1, "{log}");
    assert_eq!(deltas_for("ext_1"), 1, "{log}");
    assert_eq!(deltas_for("ext_2"), 1, "{log}");
}

#[tokio::test]
async fn a_misconfigured_source_fails_with_typed_errors() {
    let setup = Setup::start(Duration::from_secs(3600)).await;
    let create = json!({"data": {"title": "x", "status": "todo"}});

    // The wrong secret: the seed's verification answers 401.
    let (status, _) = setup
        .put_source(json!({
            "url": format!("{}/api/ablo/source", setup.python.url),
            "models": ["tasks"],
            "signingSecret": "whsec_not_the_python_secret_0000",
        }))
        .await;
    assert_eq!(status, 200);
    let (status, body) = setup
        .ablo(
            reqwest::Method::POST,
            "/v1/models/tasks",
            Some(create.clone()),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "source_rejected");
    assert_eq!(body["error"]["details"]["status"], 401);
    assert_eq!(
        body["error"]["details"]["body"]["detail"],
        "invalid signature"
    );

    // Nothing listening: retried, then 502.
    let (status, _) = setup
        .put_source(json!({
            "url": format!("http://127.0.0.1:{}/api/ablo/source", free_port()),
            "models": ["tasks"],
        }))
        .await;
    assert_eq!(status, 200);
    let (status, body) = setup
        .ablo(reqwest::Method::POST, "/v1/models/tasks", Some(create))
        .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["type"], "server");
    assert_eq!(body["error"]["code"], "source_unavailable");
    let (_, status) = setup
        .ablo(reqwest::Method::GET, "/v1/sources/app/status", None)
        .await;
    assert_eq!(status["lastError"]["request"], "commit");

    // Bad configurations.
    for (config, expected) in [
        (
            json!({"url": "ftp://x/y", "models": ["tasks"]}),
            "invalid_source",
        ),
        (
            json!({"url": "http://127.0.0.1:1/s", "models": []}),
            "invalid_source",
        ),
        (
            json!({"url": "http://127.0.0.1:1/s", "models": ["nope"]}),
            "invalid_source",
        ),
        (
            json!({"url": "http://127.0.0.1:1/s", "models": ["tasks"], "signingSecret": "short"}),
            "invalid_source",
        ),
    ] {
        let (status, body) = setup.put_source(config).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["code"], expected);
    }
    let (status, body) = setup
        .ablo(reqwest::Method::GET, "/v1/sources/nope/status", None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "source_not_found");
}

#[tokio::test]
async fn the_source_routes_are_in_the_valid_openapi_document() {
    let setup = Setup::start(Duration::from_secs(3600)).await;
    let (status, doc) = setup
        .ablo(reqwest::Method::GET, "/v1/openapi.json", None)
        .await;
    assert_eq!(status, 200);
    for path in [
        "/v1/sources/{name}",
        "/v1/sources/{name}/status",
        "/v1/sources/{name}/events",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    let file = setup._dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&doc).unwrap()).unwrap();
    let check = Command::new("python3")
        .args([
            "-c",
            "import json, sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(open(sys.argv[1])))",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[tokio::test]
async fn guarded_writers_racing_through_the_source_lose_no_update() {
    const WRITERS: usize = 6;
    const EACH: usize = 5;
    let setup = Setup::start(Duration::from_secs(3600)).await;
    let created = setup
        .client
        .model::<Task>()
        .create(task("start", TaskStatus::Todo))
        .await
        .unwrap();
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let client = Client::builder(setup.server.url(), API_KEY)
            .retry(RetryPolicy::default().max_attempts(1))
            .connect()
            .await
            .unwrap();
        let id = created.id.clone();
        writers.push(tokio::spawn(async move {
            let tasks = client.model::<Task>();
            let mut stale = 0;
            for n in 0..EACH {
                loop {
                    let read = tasks.retrieve(id.clone()).await.unwrap();
                    let title = format!("{}|w{writer}.{n}", read.data.title);
                    match tasks
                        .update(id.clone(), TaskPatch::new().title(title))
                        .read_at(read.stamp)
                        .await
                    {
                        Ok(_) => break,
                        Err(ablo::Error::StaleContext { .. }) => stale += 1,
                        Err(other) => panic!("writer {writer}: {other:?}"),
                    }
                }
            }
            stale
        }));
    }
    let mut stale = 0;
    for writer in writers {
        stale += writer.await.unwrap();
    }
    let title = setup.python_row(created.id.as_str()).await.unwrap()["title"]
        .as_str()
        .unwrap()
        .to_owned();
    let marks: Vec<&str> = title.split('|').skip(1).collect();
    assert_eq!(marks.len(), WRITERS * EACH, "{title}");
    for writer in 0..WRITERS {
        for n in 0..EACH {
            let mark = format!("w{writer}.{n}");
            assert_eq!(
                marks.iter().filter(|m| **m == mark).count(),
                1,
                "{mark} in {title}"
            );
        }
    }
    // The mirror agrees with the source.
    let mirrored = setup
        .client
        .model::<Task>()
        .retrieve(created.id.clone())
        .await
        .unwrap();
    assert_eq!(mirrored.data.title, title);
    println!(
        "{} guarded writes, {stale} stale refusals retried",
        WRITERS * EACH
    );
}
