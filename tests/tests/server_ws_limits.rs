//! WebSocket limits that depend on server settings: a connection that never
//! subscribes is refused once the subscribe timeout passes; a commit over
//! the inline limit still reaches every subscriber, read from the log.

mod server_common;

use std::time::Duration;

use ablo_runtime::wire::ServerMessage;
use server_common::TestServer;

#[tokio::test]
async fn a_connection_that_never_subscribes_is_refused() {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let server = TestServer::start_with(|mut c| {
        c.ws_subscribe_timeout = Duration::from_millis(200);
        c
    })
    .await;
    let url = format!(
        "{}/v1/sync/ws?token={}",
        server.url.replacen("http", "ws", 1),
        server_common::API_KEY
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let frame = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .expect("refused in time")
        .unwrap()
        .unwrap();
    let message: ServerMessage = serde_json::from_str(frame.to_text().unwrap()).unwrap();
    let ServerMessage::Error { error } = message else {
        panic!("{message:?}")
    };
    assert_eq!(error.code, "invalid_request");
    assert!(matches!(
        socket.next().await,
        Some(Ok(Message::Close(_))) | None
    ));
}

#[tokio::test]
async fn commits_over_the_inline_limit_reach_subscribers_from_the_log() {
    let server = TestServer::start_with(|mut c| {
        c.ws_inline_limit = 1024;
        c
    })
    .await;
    let mut everything = server_common::Subscriber::connect(&server.url, 0, None).await;
    everything.until_caught_up().await;
    let mut filtered =
        server_common::Subscriber::connect(&server.url, 0, Some(vec!["default".into()])).await;
    filtered.until_caught_up().await;
    let long = "x".repeat(20_000);
    server.http.create_task("small", "small").await;
    server.http.create_task("large", &long).await;
    server.http.create_task("after", "after").await;
    for subscriber in [&mut everything, &mut filtered] {
        let seen = subscriber.deltas_through(3).await;
        let ids: Vec<&str> = seen.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["small", "large", "after"]);
        assert_eq!(seen[1].data["title"].as_str().unwrap().len(), 20_000);
    }
}
