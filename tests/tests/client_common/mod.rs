//! Shared setup of the client end-to-end tests: a real embedded server on a
//! free port in a temporary directory, with the test schema pushed.

#![allow(dead_code)]

pub mod proxy;

use std::time::Duration;

use ablo::client::{Client, ClientBuilder, RetryPolicy};

/// A task, the model most tests write.
#[ablo::model]
pub struct Task {
    pub title: String,
    pub status: TaskStatus,
    pub summary: Option<String>,
    pub points: i64,
}

/// Where a task stands.
#[derive(ablo::Enum)]
pub enum TaskStatus {
    Todo,
    Doing,
    Done,
}

/// A shared counter, for the read-modify-write race.
#[ablo::model]
pub struct Counter {
    pub name: String,
    pub value: i64,
}

ablo::schema! {
    pub struct App {
        tasks: Task,
        counters: Counter,
    }
}

/// The bootstrap key every test server accepts.
pub const API_KEY: &str = "sk_test_client_e2e_0123456789";

/// A running server that lives as long as this value.
pub struct TestServer {
    pub server: Option<ablo_server::RunningServer>,
    pub url: String,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server on a free port in a new temporary directory and
    /// pushes the test schema (connecting never pushes).
    pub async fn start() -> TestServer {
        TestServer::start_with(|config| config).await
    }

    /// Starts a server with an adjusted configuration.
    pub async fn start_with(
        adjust: impl FnOnce(ablo_server::ServerConfig) -> ablo_server::ServerConfig,
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = ablo_server::ServerConfig::new(dir.path())
            .with_addr("127.0.0.1:0".parse().expect("addr"))
            .with_api_key(API_KEY);
        let config = adjust(config);
        let key = config.api_key.clone().unwrap_or_else(|| API_KEY.to_owned());
        let server = ablo_server::start(config).await.expect("server starts");
        let url = server.url();
        ablo_tests::push_schema(&url, &key, &App::descriptor()).await;
        TestServer {
            server: Some(server),
            url,
            dir,
        }
    }

    /// A builder for a client of this server with the test schema and short
    /// timeouts.
    pub fn builder(&self) -> ClientBuilder {
        Client::builder(&self.url, API_KEY)
            .schema(App::descriptor())
            .timeout(Duration::from_secs(10))
            .retry(
                RetryPolicy::default()
                    .initial_delay(Duration::from_millis(20))
                    .max_delay(Duration::from_millis(200)),
            )
    }

    /// A connected client that is live and caught up.
    pub async fn client(&self) -> Client {
        let client = self.builder().connect().await.expect("connect");
        client.ready().await.expect("ready");
        client
    }

    /// Stops the server (the data directory stays).
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("shutdown");
        }
    }

    /// Starts the server again on the same port and data directory.
    pub async fn restart(&mut self) {
        self.stop().await;
        let addr = self.url.trim_start_matches("http://").to_owned();
        // The port was just released; binding it again can race with the
        // kernel's cleanup for a moment.
        for _ in 0..50 {
            let config = ablo_server::ServerConfig::new(self.dir.path())
                .with_addr(addr.parse().expect("addr"))
                .with_api_key(API_KEY);
            match ablo_server::start(config).await {
                Ok(server) => {
                    self.server = Some(server);
                    return;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        panic!("the server did not start again on {addr}");
    }
}

/// A task with the given title, `todo`, no summary, no points.
pub fn task(title: &str) -> Task {
    Task {
        title: title.to_owned(),
        status: TaskStatus::Todo,
        summary: None,
        points: 0,
    }
}

/// Waits up to five seconds for `condition`, polling every 10 ms.
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Awaits the next item of a stream, failing the test after five seconds.
pub async fn next_within<S: futures::Stream + Unpin>(stream: &mut S, what: &str) -> S::Item {
    use futures::StreamExt;
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for: {what}"))
        .unwrap_or_else(|| panic!("stream ended while waiting for: {what}"))
}
