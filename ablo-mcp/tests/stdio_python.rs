//! The real Python MCP client (the `mcp` package from PyPI, pinned in
//! tools/requirements.txt) drives the `ablo-mcp` binary over stdio against a
//! real server: it lists the tools, creates and updates a row, gets a stale
//! error with the current row and recovers from it, and claims a row another
//! agent holds, being granted it when that agent releases.

use std::process::Stdio;
use std::time::Duration;

use ablo::client::{Client, MintCapability};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// A unit of work.
#[ablo::model]
pub struct Task {
    /// What to do.
    pub title: String,
    pub status: TaskStatus,
    pub points: i64,
    pub summary: Option<String>,
}

/// Where a task stands.
#[derive(ablo::Enum)]
pub enum TaskStatus {
    Todo,
    Done,
}

ablo::schema! { pub struct App { tasks: Task } }

const KEY: &str = "sk_test_mcp_python_0123456789";

async fn agent(admin: &Client, url: &str, id: &str) -> String {
    let minted = admin
        .capabilities()
        .mint(
            &MintCapability::agent(id)
                .operations(["tasks.*"])
                .sync_groups(["*"]),
        )
        .await
        .unwrap();
    let _ = url;
    minted.token.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_mcp_client_drives_ablo_mcp_over_stdio() {
    let dir = tempfile::tempdir().unwrap();
    let config = ablo_server::ServerConfig::new(dir.path())
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_api_key(KEY);
    let server = ablo_server::start(config).await.unwrap();
    let url = server.url();
    App::push_schema(&url, KEY).await.unwrap();
    let admin = App::connect(&url, KEY).await.unwrap();
    let held = admin
        .tasks()
        .create(Task {
            title: "Held by the other agent".into(),
            status: TaskStatus::Todo,
            points: 3,
            summary: None,
        })
        .await
        .unwrap();

    // The other agent holds a claim on `held` until the MCP agent waits.
    let other_token = agent(&admin, &url, "agent_other").await;
    let other = App::connect(&url, &other_token).await.unwrap();
    let claim = other.tasks().claim(held.id.clone()).await.unwrap();
    let mcp_token = agent(&admin, &url, "agent_mcp").await;

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/drive.py");
    let mut child = Command::new("python3")
        .arg(script)
        .env("ABLO_MCP_BIN", env!("CARGO_BIN_EXE_ablo-mcp"))
        .env("ABLO_URL", &url)
        .env("ABLO_API_KEY", &mcp_token)
        .env("HELD_ID", held.id.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 with the mcp package (scripts/setup-tools installs it)");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let mut claim = Some(claim);
    let outcome = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push(line.clone());
            if line == "STEP claim-held" {
                // Let the MCP agent find the row held and start waiting,
                // then release.
                let claim = claim.take().unwrap();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    claim.release().await.unwrap();
                });
            }
        }
        child.wait().await.unwrap()
    })
    .await
    .expect("the Python client finishes within two minutes");
    assert!(outcome.success(), "python failed: {seen:#?}");
    assert_eq!(seen.last().map(String::as_str), Some("OK"), "{seen:#?}");

    let after = admin.tasks().retrieve(held.id.clone()).await.unwrap();
    assert_eq!(after.data.title, "Mine now");
    server.shutdown().await.unwrap();
}
