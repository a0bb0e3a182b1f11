//! Starting a server: bootstrap keys, generated keys that persist, bad keys,
//! an address in use, and data that survives a clean restart.

mod server_common;

use reqwest::StatusCode;
use serde_json::json;
use server_common::{Http, schema, task};

fn config(dir: &std::path::Path) -> ablo_server::ServerConfig {
    ablo_server::ServerConfig::new(dir).with_addr("127.0.0.1:0".parse().unwrap())
}

#[tokio::test]
async fn a_key_is_generated_once_and_kept_hashed() {
    let dir = tempfile::tempdir().unwrap();
    let server = ablo_server::start(config(dir.path())).await.unwrap();
    let key = server.api_key().expect("a generated key").to_owned();
    assert!(key.starts_with("sk_test_"), "{key}");
    let http = Http::new(&server.url(), &key);
    let (status, _) = http
        .put("/v1/schema", &serde_json::to_value(schema()).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    server.shutdown().await.unwrap();

    // The key text is not stored, only its hash.
    for file in ["ablo.db", "ablo.db-wal"] {
        let stored = std::fs::read(dir.path().join(file)).unwrap_or_default();
        let needle = key.as_bytes();
        assert!(
            !stored.windows(needle.len()).any(|w| w == needle),
            "the key is not in {file}"
        );
    }

    let restarted = ablo_server::start(config(dir.path())).await.unwrap();
    assert_eq!(restarted.api_key(), None, "no new key when one exists");
    let http = Http::new(&restarted.url(), &key);
    let (status, body) = http.get("/v1/schema").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the generated key still works: {body}"
    );
    restarted.shutdown().await.unwrap();
}

#[tokio::test]
async fn bootstrap_keys_must_look_like_keys() {
    let dir = tempfile::tempdir().unwrap();
    for bad in [
        "",
        "secret",
        "sk_test_short",
        "pk_test_0123456789abcdef",
        "sk_test_0123456789abcdef!",
    ] {
        let result = ablo_server::start(config(dir.path()).with_api_key(bad)).await;
        assert!(
            matches!(result, Err(ablo_server::StartError::InvalidApiKey)),
            "{bad:?}"
        );
    }
}

#[tokio::test]
async fn an_address_in_use_is_a_start_error() {
    let dir = tempfile::tempdir().unwrap();
    let first = ablo_server::start(config(dir.path()).with_api_key(server_common::API_KEY))
        .await
        .unwrap();
    let other = tempfile::tempdir().unwrap();
    let taken = ablo_server::start(config(other.path()).with_addr(first.addr())).await;
    assert!(matches!(taken, Err(ablo_server::StartError::Io(_))));
    first.shutdown().await.unwrap();
}

#[tokio::test]
async fn rows_log_and_idempotency_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let start = || ablo_server::start(config(dir.path()).with_api_key(server_common::API_KEY));
    let server = start().await.unwrap();
    let http = Http::new(&server.url(), server_common::API_KEY);
    http.put("/v1/schema", &serde_json::to_value(schema()).unwrap())
        .await;
    let commit = json!({"clientTxId": "tx_restart", "operations": [{"type": "create", "model": "tasks", "id": "t1", "data": task("kept")}]});
    let (_, receipt) = http.commit(&commit).await;
    server.shutdown().await.unwrap();

    let server = start().await.unwrap();
    let http = Http::new(&server.url(), server_common::API_KEY);
    let (status, row) = http.get("/v1/models/tasks/t1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(row["data"]["title"], "kept");
    let (_, replay) = http.commit(&commit).await;
    assert_eq!(replay, receipt, "idempotency records persist");
    let (_, next) = http
        .post("/v1/models/tasks", &json!({"data": task("next")}))
        .await;
    assert_eq!(next["stamp"], 2, "sync ids continue after a restart");
    server.shutdown().await.unwrap();
}
