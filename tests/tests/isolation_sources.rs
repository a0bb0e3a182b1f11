//! Hole 5 of `docs/security.md`: a write by a capability to a row outside
//! its groups, on a model backed by a Data Source, is refused before the
//! source is called, so the customer's database never sees it; its error
//! carries nothing of the row.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ablo::source::{DataSource, Reply};
use ablo::wire::{JsonObject, SourceCommit};
use serde_json::{Value, json};

#[ablo::model(name = "docs", sync_groups = ["org:{org_id}"])]
pub struct Doc {
    pub org_id: String,
    pub body: String,
}

ablo::schema! { pub struct Docs { docs: Doc } }

const API_KEY: &str = "sk_test_isolation_sources_0123456789";
const SECRET: &str = "whsec_isolation_sources_0123456789";

/// The customer's table; `commits` counts every commit it was asked to apply.
#[derive(Default)]
struct Table {
    rows: Mutex<BTreeMap<String, JsonObject>>,
    commits: Mutex<Vec<SourceCommit>>,
}

impl DataSource for Table {
    async fn commit(&self, commit: SourceCommit) -> Result<Vec<JsonObject>, Reply> {
        self.commits.lock().unwrap().push(commit.clone());
        let mut rows = self.rows.lock().unwrap();
        let mut written = Vec::new();
        for op in &commit.operations {
            let row = rows.entry(op.id.clone()).or_default();
            row.extend(op.input.clone());
            row.insert("id".into(), json!(op.id));
            written.push(row.clone());
        }
        Ok(written)
    }

    async fn load(&self, _model: &str, id: &str) -> Result<Option<JsonObject>, Reply> {
        Ok(self.rows.lock().unwrap().get(id).cloned())
    }

    async fn list(&self, _model: &str, _query: Value) -> Result<Vec<JsonObject>, Reply> {
        Ok(self.rows.lock().unwrap().values().cloned().collect())
    }
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Value,
) -> (u16, Value) {
    let response = http
        .request(method, url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_out_of_scope_write_never_reaches_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let config = ablo_server::ServerConfig::new(dir.path())
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_api_key(API_KEY);
    let server = ablo_server::start(config).await.unwrap();
    let base = server.url();
    ablo_tests::push_schema(&base, API_KEY, &Docs::descriptor()).await;
    let table = Arc::new(Table::default());
    let source_url = ablo_tests::serve_data_source(table.clone(), SECRET).await;
    let http = reqwest::Client::new();
    use reqwest::Method;
    let (status, body) = call(
        &http,
        Method::PUT,
        format!("{base}/v1/sources/docs-app"),
        API_KEY,
        json!({"url": source_url, "models": ["docs"], "signingSecret": SECRET}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    for (id, org, text) in [("d_a", "a", "plain"), ("d_b", "b", "b-secret-text")] {
        let (status, body) = call(
            &http,
            Method::POST,
            format!("{base}/v1/models/docs"),
            API_KEY,
            json!({"id": id, "data": {"orgId": org, "body": text}}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, minted) = call(
        &http,
        Method::POST,
        format!("{base}/v1/capabilities"),
        API_KEY,
        json!({"participantKind": "agent", "participantId": "agent_s",
               "operations": ["docs.*"], "syncGroups": ["org:a"]}),
    )
    .await;
    assert_eq!(status, 201, "{minted}");
    let token = minted["token"].as_str().unwrap();
    let before = table.commits.lock().unwrap().len();

    // A stale-guarded write to org:b: not found, nothing of the row.
    let (status, refused) = call(
        &http,
        Method::PATCH,
        format!("{base}/v1/models/docs/d_b"),
        token,
        json!({"data": {"body": "overwritten"}, "readAt": 0}),
    )
    .await;
    assert_eq!(status, 404, "{refused}");
    assert_eq!(refused["error"]["code"], "row_not_found");
    let text = refused.to_string();
    assert!(
        !text.contains("b-secret-text") && !text.contains("org:b"),
        "{text}"
    );

    // Moving its own row into org:b is refused before the source too.
    let (status, moved) = call(
        &http,
        Method::PATCH,
        format!("{base}/v1/models/docs/d_a"),
        token,
        json!({"data": {"orgId": "b"}}),
    )
    .await;
    assert_eq!(status, 403, "{moved}");
    assert_eq!(moved["error"]["code"], "capability_scope_denied");

    assert_eq!(table.commits.lock().unwrap().len(), before);
    assert_eq!(
        table.rows.lock().unwrap()["d_b"]["body"],
        "b-secret-text",
        "the customer's row is untouched"
    );
    assert_eq!(table.rows.lock().unwrap()["d_a"]["orgId"], "a");
    server.shutdown().await.unwrap();
}
