//! `ablo-server keys create|list|revoke` against a data directory that a
//! running server uses: a created key works, a revoked one stops working
//! within a second, and only hashes are stored.

use std::process::Command;
use std::time::{Duration, Instant};

fn keys(args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_ablo-server"))
        .arg("keys")
        .args(args)
        .output()
        .expect("the binary runs");
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

async fn status_with(url: &str, key: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{url}/v1/sync/deltas"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn keys_are_created_listed_and_revoked_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let config = ablo_server::ServerConfig::new(dir.path())
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_api_key("sk_test_bootstrap_0123456789");
    let server = ablo_server::start(config).await.unwrap();
    let url = server.url();

    let (ok, out) = keys(&["create", "--data", data, "--label", "ci"]);
    assert!(ok, "{out}");
    let (id, key) = out.trim().split_once('\t').unwrap();
    assert!(
        id.starts_with("key_") && key.starts_with("sk_test_"),
        "{out}"
    );
    let (ok, live) = keys(&["create", "--data", data, "--live"]);
    assert!(ok);
    assert!(
        live.trim()
            .split_once('\t')
            .unwrap()
            .1
            .starts_with("sk_live_")
    );

    let (ok, listed) = keys(&["list", "--data", data]);
    assert!(ok);
    assert_eq!(listed.lines().count(), 3, "{listed}");
    assert!(listed.contains(id) && listed.contains("\tci"));
    assert!(
        !listed.contains(key),
        "keys are never stored or shown again"
    );
    let db = std::fs::read(dir.path().join("ablo.db")).unwrap();
    assert!(!db.windows(key.len()).any(|w| w == key.as_bytes()));

    let started = Instant::now();
    while status_with(&url, key).await != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "new key not picked up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (ok, out) = keys(&["revoke", "--data", data, id]);
    assert!(ok, "{out}");
    let revoked = Instant::now();
    while status_with(&url, key).await != 401 {
        assert!(
            revoked.elapsed() < Duration::from_secs(2),
            "revoked key still works"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(revoked.elapsed() < Duration::from_millis(1500));
    assert_eq!(status_with(&url, "sk_test_bootstrap_0123456789").await, 200);

    let (ok, _) = keys(&["revoke", "--data", data, "key_unknown"]);
    assert!(!ok, "revoking an unknown key fails");
    server.shutdown().await.unwrap();
}
