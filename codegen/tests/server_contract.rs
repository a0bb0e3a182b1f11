//! The generated JSON Schema and OpenAPI describe what the real Ablo server
//! sends and accepts: an embedded server gets the test schema, answers a
//! series of requests, and every response body (and every request body it
//! accepted or refused) is checked with Python's `jsonschema` against the
//! generated files.

mod common;

use std::path::Path;

use serde_json::{Value, json};

const API_KEY: &str = "sk_test_codegen_contract_0001";

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(API_KEY);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("server answers");
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.expect("JSON body");
        (status, body)
    }
}

/// One body to validate: (label, file, def, instance, expected validity).
type Check = (String, &'static str, Option<&'static str>, Value, bool);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_traffic_matches_the_generated_schemas() {
    let data = tempfile::tempdir().unwrap();
    let config = ablo_server::ServerConfig::new(data.path())
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_api_key(API_KEY);
    let server = ablo_server::start(config).await.expect("server starts");
    let api = Api {
        http: reqwest::Client::new(),
        base: server.url(),
    };
    use reqwest::Method;

    let schema = common::tracker_schema();
    let (status, _) = api
        .send(
            Method::PUT,
            "/v1/schema",
            Some(serde_json::to_value(&schema).unwrap()),
        )
        .await;
    assert_eq!(status, 200);

    let mut checks: Vec<Check> = Vec::new();
    let mut expect =
        |label: &str, file: &'static str, def: Option<&'static str>, body: &Value, valid: bool| {
            checks.push((label.to_owned(), file, def, body.clone(), valid));
        };
    let o = "openapi.json";

    let project_input = json!({"orgId": "org_1", "name": "Launch", "archived": false,
        "office": {"street": "1 Main St", "city": "Springfield"}});
    let (status, project) = api
        .send(
            Method::POST,
            "/v1/models/projects",
            Some(json!({"data": project_input})),
        )
        .await;
    assert_eq!(status, 201, "{project}");
    expect(
        "create projects request",
        o,
        Some("ProjectCreateRequest"),
        &json!({"data": project_input}),
        true,
    );
    expect(
        "created project",
        "projects.schema.json",
        None,
        &project,
        true,
    );
    expect(
        "created project (OpenAPI)",
        o,
        Some("Project"),
        &project,
        true,
    );

    let task_input = json!({"title": "Write the post", "status": "todo", "projectId": project["id"],
        "points": 3, "timeSpentMs": 0, "tags": ["launch"], "checklist": [{"label": "draft", "done": false}],
        "metadata": {"source": "test"}, "score": 0.5});
    let (status, task) = api
        .send(
            Method::POST,
            "/v1/models/tasks",
            Some(json!({"data": task_input, "id": "task_fixed"})),
        )
        .await;
    assert_eq!(status, 201, "{task}");
    expect("created task", "tasks.schema.json", None, &task, true);
    expect(
        "create input",
        "tasks.schema.json",
        Some("TaskInput"),
        &task_input,
        true,
    );
    let (status, second) = api
        .send(
            Method::POST,
            "/v1/models/tasks",
            Some(json!({"data": {"title": "Another", "status": "done", "projectId": project["id"],
                "points": -1, "timeSpentMs": 9_007_199_254_740_991_u64, "tags": [], "checklist": [],
                "metadata": null, "score": 1, "summary": "s", "priority": "high",
                "due": "2026-02-01T00:00:00.000Z", "externalId": "00000000-0000-0000-0000-000000000000"}})),
        )
        .await;
    assert_eq!(status, 201, "{second}");
    expect(
        "created task with every field",
        "tasks.schema.json",
        None,
        &second,
        true,
    );

    // Inputs the server refuses, the schema refuses too.
    for (label, bad) in [
        ("bad enum", json!({"status": "finished"})),
        ("wrong type", json!({"points": "three"})),
        ("i32 overflow", json!({"points": 2_147_483_648_i64})),
        ("unknown field", json!({"colour": "red"})),
        ("null required", json!({"title": null})),
        (
            "unknown nested key",
            json!({"checklist": [{"label": "x", "done": true, "extra": 1}]}),
        ),
    ] {
        let mut input = task_input.clone();
        for (key, value) in bad.as_object().unwrap() {
            input[key] = value.clone();
        }
        let (status, error) = api
            .send(
                Method::POST,
                "/v1/models/tasks",
                Some(json!({"data": input})),
            )
            .await;
        assert!(
            status == 400 || status == 422,
            "{label}: server accepted it ({status}) {error}"
        );
        expect(
            &format!("refused input: {label}"),
            "tasks.schema.json",
            Some("TaskInput"),
            &input,
            false,
        );
        expect(
            &format!("error envelope for {label}"),
            o,
            Some("Error"),
            &error,
            true,
        );
    }
    let mut missing = task_input.clone();
    missing.as_object_mut().unwrap().remove("projectId");
    let (status, _) = api
        .send(
            Method::POST,
            "/v1/models/tasks",
            Some(json!({"data": missing})),
        )
        .await;
    assert!(status == 400 || status == 422);
    expect(
        "refused input: missing required",
        "tasks.schema.json",
        Some("TaskInput"),
        &missing,
        false,
    );

    let (status, retrieved) = api
        .send(Method::GET, "/v1/models/tasks/task_fixed", None)
        .await;
    assert_eq!(status, 200);
    expect("retrieve", o, Some("TaskRetrieved"), &retrieved, true);

    let (status, page) = api
        .send(
            Method::GET,
            "/v1/models/tasks?orderBy=title:desc&limit=1",
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page["nextCursor"].is_string(), "{page}");
    expect("list page", o, Some("TaskList"), &page, true);
    let (status, filtered) = api
        .send(
            Method::GET,
            "/v1/models/tasks?where=%7B%22status%22%3A%22done%22%7D",
            None,
        )
        .await;
    assert_eq!(status, 200, "{filtered}");
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1);
    expect("filtered list", o, Some("TaskList"), &filtered, true);

    let update = json!({"data": {"summary": null, "status": "in_progress"}, "readAt": task["stamp"], "onStale": "reject"});
    let (status, updated) = api
        .send(
            Method::PATCH,
            "/v1/models/tasks/task_fixed",
            Some(update.clone()),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    expect(
        "update request",
        o,
        Some("TaskUpdateRequest"),
        &update,
        true,
    );
    expect("updated task", "tasks.schema.json", None, &updated, true);
    let (status, stale) = api
        .send(Method::PATCH, "/v1/models/tasks/task_fixed", Some(update))
        .await;
    assert_eq!(status, 409, "{stale}");
    expect("stale error", o, Some("Error"), &stale, true);

    let commit = json!({"clientTxId": "tx_contract_1", "operations": [
        {"type": "update", "model": "projects", "id": project["id"], "data": {"archived": true}},
        {"type": "create", "model": "tasks", "data": task_input},
    ]});
    let (status, receipt) = api
        .send(Method::POST, "/v1/commits", Some(commit.clone()))
        .await;
    assert_eq!(status, 200, "{receipt}");
    expect("commit request", o, Some("CommitRequest"), &commit, true);
    expect("commit receipt", o, Some("CommitReceipt"), &receipt, true);

    let (status, deltas) = api.send(Method::GET, "/v1/sync/deltas?after=0", None).await;
    assert_eq!(status, 200);
    expect("deltas page", o, Some("DeltasPage"), &deltas, true);

    let (status, deleted) = api
        .send(Method::DELETE, "/v1/models/tasks/task_fixed", None)
        .await;
    assert_eq!(status, 200, "{deleted}");
    expect("delete answer", o, Some("TaskDeleted"), &deleted, true);
    let (status, gone) = api
        .send(Method::GET, "/v1/models/tasks/task_fixed", None)
        .await;
    assert_eq!(status, 404);
    expect("not found error", o, Some("Error"), &gone, true);

    server.shutdown().await.unwrap();
    validate(&schema, &checks);
}

fn validate(schema: &ablo_runtime::SchemaDescriptor, checks: &[Check]) {
    let dir = tempfile::tempdir().unwrap();
    ablo_codegen::generate(schema, dir.path()).unwrap();
    let cases: Vec<Value> = checks
        .iter()
        .map(|(label, file, def, instance, _)| json!({"label": label, "file": file, "def": def, "instance": instance}))
        .collect();
    let cases_file = dir.path().join("cases.json");
    std::fs::write(&cases_file, Value::Array(cases).to_string()).unwrap();
    let out = common::python_with_jsonschema()
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/validate.py"))
        .arg(dir.path())
        .arg(&cases_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = report["cases"].as_array().unwrap();
    assert_eq!(results.len(), checks.len());
    let failures: Vec<String> = checks
        .iter()
        .zip(results)
        .filter(|((.., expected), result)| result["valid"] != *expected)
        .map(|((label, .., instance, expected), result)| {
            format!(
                "{label}: expected valid={expected}, errors {} for {instance}",
                result["errors"]
            )
        })
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}
