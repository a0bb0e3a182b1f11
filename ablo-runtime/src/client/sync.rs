//! The live subscription: a WebSocket (`GET /v1/sync/ws`) that keeps the
//! local pool current, and reconnects, resuming from the cursor, when it
//! breaks.
//!
//! The loop: connect, send `subscribe {cursor}`, apply every `deltas`
//! message to the pool (which moves the cursor), report `Live` on
//! `caughtUp`. When the socket breaks, wait (backoff) and subscribe again
//! from the cursor: the server replays what was missed, with no gap and no
//! duplicate. When the server says `resyncRequired`, catch up over HTTP
//! (`GET /v1/sync/deltas?after=cursor`) and subscribe again.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use reqwest::Method;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};

mod rows_parser;

use rows_parser::RowsParser;

use super::Shared;
use super::transport::Request;
use crate::error::{Error, ErrorInfo};
use crate::wire::{ClientMessage, DeltasPage, ServerMessage};

/// The state of the live subscription.
///
/// ```
/// use ablo_runtime::client::SyncStatus;
/// assert!(SyncStatus::Live.is_live());
/// assert!(!SyncStatus::Connecting.is_live());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum SyncStatus {
    /// The client was built with `live(false)`.
    Off,
    /// Connecting for the first time.
    Connecting,
    /// Subscribed and caught up: the pool follows the server.
    Live,
    /// The connection broke; trying again.
    Reconnecting {
        /// How many attempts failed in a row.
        attempt: u32,
        /// The last failure.
        error: Error,
    },
    /// The server refused the subscription for good (for example a revoked
    /// key); the pool no longer follows the server.
    Failed(Error),
    /// The client was disposed.
    Closed,
}

impl SyncStatus {
    /// Whether the pool follows the server right now.
    ///
    /// ```
    /// assert!(!ablo_runtime::client::SyncStatus::Closed.is_live());
    /// ```
    pub fn is_live(&self) -> bool {
        matches!(self, SyncStatus::Live)
    }
}

/// If nothing at all arrives for this long, the socket is presumed dead.
const IDLE_LIMIT: Duration = Duration::from_secs(45);
/// How often the client pings the server.
const PING_EVERY: Duration = Duration::from_secs(15);
/// Deltas asked for per page when catching up over HTTP.
const CATCH_UP_PAGE: usize = 1000;

enum SessionEnd {
    Shutdown,
    ResyncRequired,
}

/// Runs the subscription until shutdown.
pub(crate) async fn run(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut failures: u32 = 0;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let result = match session(&shared, &mut shutdown, &mut failures).await {
            Ok(SessionEnd::Shutdown) => break,
            Ok(SessionEnd::ResyncRequired) => catch_up(&shared).await,
            Err(error) => Err(error),
        };
        let Err(error) = result else { continue };
        if matches!(error, Error::Authentication(_) | Error::Permission(_)) {
            shared
                .transport
                .log
                .error(format!("live subscription refused, giving up: {error}"));
            shared.status.send_replace(SyncStatus::Failed(error));
            return;
        }
        failures += 1;
        let delay = shared.transport.retry.backoff(failures, &error);
        shared.transport.log.warn(format!(
            "live subscription lost ({error}); reconnecting in {delay:?} (attempt {failures})"
        ));
        shared.status.send_replace(SyncStatus::Reconnecting {
            attempt: failures,
            error,
        });
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = super::stopped(&mut shutdown) => break,
        }
    }
    shared.status.send_replace(SyncStatus::Closed);
}

/// One WebSocket connection, from connect to break.
async fn session(
    shared: &Shared,
    shutdown: &mut watch::Receiver<bool>,
    failures: &mut u32,
) -> Result<SessionEnd, Error> {
    let mut url = shared
        .transport
        .url(&["v1".into(), "sync".into(), "ws".into()]);
    let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
    url.set_scheme(scheme).map_err(|_| {
        Error::configuration(
            "invalid_url",
            format!("cannot make `{url}` a WebSocket URL"),
        )
    })?;
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| Error::configuration("invalid_url", e.to_string()))?;
    let bearer =
        HeaderValue::from_str(&format!("Bearer {}", shared.transport.api_key())).map_err(|_| {
            Error::configuration("invalid_api_key", "the API key is not a valid header value")
        })?;
    request.headers_mut().insert("authorization", bearer);

    let connect = tokio_tungstenite::connect_async(request);
    let (mut socket, _) = tokio::time::timeout(shared.timeout, connect)
        .await
        .map_err(|_| Error::connection("timeout", "the WebSocket did not open in time"))?
        .map_err(handshake_error)?;

    shared.pool.abandon_snapshot();
    let cursor = shared.pool.cursor();
    shared
        .transport
        .log
        .info(format!("subscribed from cursor {cursor}"));
    // A client that holds nothing asks for a snapshot of the current rows
    // rather than the whole log.
    let subscribe = ClientMessage::Subscribe {
        cursor: (!shared.pool.holds_nothing()).then_some(cursor),
        sync_groups: None,
    };
    send(&mut socket, &subscribe).await?;
    shared.presence.reset_heard();
    let mut published = shared.presence.published();
    let mut presence_sent = std::collections::HashMap::new();
    let wanted = published.borrow_and_update().clone();
    for message in super::presence::presence_messages(&mut presence_sent, &wanted) {
        send(&mut socket, &message).await?;
    }

    let mut rows_parser: Option<RowsParser> = None;
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut idle_deadline = tokio::time::Instant::now() + IDLE_LIMIT;
    loop {
        tokio::select! {
            frame = socket.next() => {
                idle_deadline = tokio::time::Instant::now() + IDLE_LIMIT;
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | None => {
                        return Err(Error::connection("connection_lost", "the server closed the live subscription"));
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(Error::connection("connection_lost", e.to_string())),
                };
                // A snapshot's `rows` messages are most of a bootstrap: they
                // are parsed aside while the socket keeps reading.
                if text.as_str().starts_with(ROWS_PREFIX) {
                    rows_parser.get_or_insert_with(RowsParser::start).push(text);
                    continue;
                }
                let message: ServerMessage = serde_json::from_str(text.as_str()).map_err(|e| {
                    Error::invalid_response(format!("unreadable live message: {e}"))
                })?;
                if let Some(parser) = rows_parser.take() {
                    for (model, rows) in parser.finish().await? {
                        shared.pool.store_snapshot_rows(&model, rows);
                    }
                }
                match message {
                    ServerMessage::Deltas { deltas } => {
                        shared.pool.finish_snapshot();
                        shared.pool.apply_deltas(&deltas);
                    }
                    ServerMessage::Snapshot { cursor } => {
                        shared.transport.log.info(format!("bootstrapping from a snapshot as of {cursor}"));
                        shared.pool.begin_snapshot(cursor);
                    }
                    ServerMessage::Rows { model, rows } => shared.pool.store_snapshot_rows(&model, rows),
                    ServerMessage::CaughtUp { cursor } => {
                        shared.pool.finish_snapshot();
                        shared.pool.mark_live();
                        shared.pool.advance_cursor(cursor);
                        *failures = 0;
                        shared.status.send_replace(SyncStatus::Live);
                        shared.transport.log.info(format!("live at cursor {}", shared.pool.cursor()));
                    }
                    ServerMessage::ResyncRequired { cursor, message } => {
                        shared.transport.log.warn(format!(
                            "server asked for a resync after {cursor}: {message}"
                        ));
                        return Ok(SessionEnd::ResyncRequired);
                    }
                    ServerMessage::Ping => send(&mut socket, &ClientMessage::Pong).await?,
                    ServerMessage::Intent { event, intent, position } => {
                        shared.intents.apply(event, intent, position);
                    }
                    ServerMessage::Presence { presence } => shared.presence.apply(presence),
                    ServerMessage::Pong => {}
                    ServerMessage::Error { error } => {
                        let kind = serde_json::to_value(error.kind)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default();
                        let info = ErrorInfo {
                            code: error.code,
                            message: error.message,
                            request_id: Some(error.request_id),
                            status: None,
                            details: error.details,
                        };
                        return Err(Error::from_parts(&kind, info, None));
                    }
                }
            }
            _ = ping.tick() => send(&mut socket, &ClientMessage::Ping).await?,
            Ok(()) = published.changed() => {
                let wanted = published.borrow_and_update().clone();
                for message in super::presence::presence_messages(&mut presence_sent, &wanted) {
                    send(&mut socket, &message).await?;
                }
            }
            _ = tokio::time::sleep_until(idle_deadline) => {
                return Err(Error::connection("timeout", format!("nothing received for {IDLE_LIMIT:?}")));
            }
            _ = super::stopped(shutdown) => {
                let _ = socket.close(None).await;
                return Ok(SessionEnd::Shutdown);
            }
        }
    }
}

/// How the server begins a snapshot's `rows` message.
const ROWS_PREFIX: &str = r#"{"type":"rows","#;

async fn send<S>(socket: &mut S, message: &ClientMessage) -> Result<(), Error>
where
    S: futures::Sink<Message, Error = tungstenite::Error> + Unpin,
{
    let text = serde_json::to_string(message).expect("client messages serialize");
    socket
        .send(Message::text(text))
        .await
        .map_err(|e| Error::connection("connection_lost", e.to_string()))
}

/// Reads the sync log after the cursor over HTTP, page by page, into the
/// pool.
pub(crate) async fn catch_up(shared: &Shared) -> Result<(), Error> {
    loop {
        let after = shared.pool.cursor();
        let request = Request::new(Method::GET, &["v1", "sync", "deltas"]).query(vec![
            ("after".into(), after.to_string()),
            ("limit".into(), CATCH_UP_PAGE.to_string()),
        ]);
        let page: DeltasPage = match shared.transport.call(&request, shared.timeout).await {
            // The log no longer reaches back to the cursor: subscribing
            // again gets a snapshot instead.
            Err(err) if err.code() == "snapshot_required" => return Ok(()),
            other => other?,
        };
        shared.pool.apply_deltas(&page.data);
        shared.pool.advance_cursor(page.next_after);
        if !page.has_more {
            return Ok(());
        }
    }
}

/// A failed WebSocket handshake: an HTTP error answer keeps its type.
fn handshake_error(error: tungstenite::Error) -> Error {
    match error {
        tungstenite::Error::Http(response) => {
            let status = response.status().as_u16();
            let body = response.body().clone().unwrap_or_default();
            Error::from_response(status, &body, None)
        }
        other => Error::connection("connect_failed", other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::http::Response;

    #[test]
    fn a_refused_handshake_keeps_the_servers_error() {
        let body = br#"{"error":{"type":"authentication","code":"invalid_api_key","message":"unknown key","requestId":"req_7"}}"#;
        let response = Response::builder()
            .status(401)
            .body(Some(body.to_vec()))
            .unwrap();
        let err = handshake_error(tungstenite::Error::Http(response));
        assert!(matches!(err, Error::Authentication(_)), "{err:?}");
        assert_eq!(err.code(), "invalid_api_key");
        assert_eq!(err.request_id(), Some("req_7"));
    }

    #[test]
    fn other_handshake_failures_are_connection_errors() {
        let err = handshake_error(tungstenite::Error::ConnectionClosed);
        assert!(matches!(err, Error::Connection(_)), "{err:?}");
        assert_eq!(err.code(), "connect_failed");
        assert!(err.is_transient());
    }
}
