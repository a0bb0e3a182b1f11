//! WebSocket limits that depend on server settings: a connection that never
//! subscribes is refused once the subscribe timeout passes.

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
