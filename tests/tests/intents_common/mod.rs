//! Two participants on one server: the server is started once with each
//! API key on the same data directory, so both keys are accepted and act as
//! two distinct `system` participants.

#![allow(dead_code)]

use std::time::Duration;

use ablo::client::{Client, RetryPolicy};

use crate::client_common::{API_KEY, App, TestServer};

/// The second participant's key.
pub const OTHER_KEY: &str = "sk_test_intents_other_0123456789";

/// A server accepting [`API_KEY`] and [`OTHER_KEY`].
pub async fn two_key_server() -> TestServer {
    let mut server = TestServer::start_with(|c| c.with_api_key(OTHER_KEY)).await;
    server.restart().await;
    server
}

/// The key of contender `n` (for servers from [`many_key_server`]).
pub fn contender_key(n: usize) -> String {
    format!("sk_test_intents_contender_{n:04}_0123456789")
}

/// A server accepting [`API_KEY`], [`OTHER_KEY`] and `contenders` more keys
/// ([`contender_key`]), stored in its data directory before it starts:
/// each key is a distinct participant.
pub async fn many_key_server(contenders: usize) -> TestServer {
    use ablo_server::storage::Storage;
    let mut server = two_key_server().await;
    server.stop().await;
    let storage = ablo_server::storage::SqliteStorage::open(server.dir.path()).expect("storage");
    for n in 0..contenders {
        let record = ablo_server::auth::record_for(&contender_key(n), &format!("contender {n}"));
        storage.put_api_key(&record).expect("key stored");
    }
    drop(storage);
    server.restart().await;
    server
}

/// A live, caught-up client with `key`.
pub async fn client_with(server: &TestServer, key: &str) -> Client {
    let client = Client::builder(&server.url, key)
        .schema(App::descriptor())
        .timeout(Duration::from_secs(20))
        .retry(
            RetryPolicy::default()
                .initial_delay(Duration::from_millis(20))
                .max_delay(Duration::from_millis(200)),
        )
        .connect()
        .await
        .expect("connect");
    client.ready().await.expect("ready");
    client
}

/// A client for each participant: (first, other).
pub async fn two_clients(server: &TestServer) -> (Client, Client) {
    (
        client_with(server, API_KEY).await,
        client_with(server, OTHER_KEY).await,
    )
}

/// A live, caught-up client with a capability token (which may not push
/// the schema, so the client is built without one).
pub async fn token_client(server: &TestServer, token: &str) -> Client {
    let client = Client::builder(&server.url, token)
        .timeout(Duration::from_secs(20))
        .connect()
        .await
        .expect("connect");
    client.ready().await.expect("ready");
    client
}
