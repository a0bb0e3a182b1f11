//! `GET /v1/sync/ws`: the live stream.
//!
//! A client sends `subscribe {cursor}` first. The session then subscribes to
//! the live hub *before* replaying the log after `cursor`, sends
//! `caughtUp`, and forwards live commits, skipping any whose sync id it has
//! already replayed: every delta arrives once, in order, with no gap at the
//! seam. A subscriber more than the hub's backlog behind gets
//! `resyncRequired` and is closed.

use std::collections::HashSet;
use std::time::Duration;

use ablo_runtime::SyncId;
use ablo_runtime::wire::{ClientMessage, ServerMessage, codes};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{QueryParams, bearer};
use crate::reads::{LogRead, ReaderView, Reads, SnapshotPart};
use crate::state::SharedState;

/// Unanswered server pings before the connection is dropped.
const MAX_SILENT_PINGS: u32 = 3;

/// Checks the page's origin, authenticates (header or `?token=` for
/// browsers) and upgrades.
pub(crate) async fn upgrade(
    State(state): State<SharedState>,
    query: QueryParams,
    mut parts: Parts,
) -> Result<Response, ApiError> {
    origin_allowed(&state.config.allowed_origins, &parts)?;
    let token = match bearer(&parts)? {
        Some(token) => Some(token.to_owned()),
        None => query.0.get("token").cloned(),
    };
    let principal = crate::pipeline::authenticate(&state, token.as_deref())?;
    let slot = SocketSlot::take(&state, &principal)?;
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return Ok(upgrade_refused(rejection)),
    };
    Ok(upgrade
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| async move {
            session(state, principal, socket).await;
            drop(slot);
        }))
}

/// 403: the upgrade came from a browser page whose origin is not allowed.
const ORIGIN_NOT_ALLOWED: &str = "origin_not_allowed";

/// With allowed origins configured (`--allow-origin`), an upgrade carrying
/// an `Origin` header must name one of them (or the list holds `*`).
/// Browsers always send `Origin` on a WebSocket and CORS does not apply to
/// upgrades, so this check is what keeps another site's page from opening
/// the live stream with a token it got hold of. Requests without the header
/// (agents, services) are not browsers and pass; with no origins configured
/// nothing is checked, as before.
fn origin_allowed(allowed: &[String], parts: &Parts) -> Result<(), ApiError> {
    if allowed.is_empty() {
        return Ok(());
    }
    let Some(origin) = parts.headers.get(axum::http::header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("");
    if allowed.iter().any(|o| o == "*" || o == origin) {
        return Ok(());
    }
    Err(ApiError::new(
        ablo_runtime::wire::ErrorType::Permission,
        crate::error::Refusal::Forbidden,
        ORIGIN_NOT_ALLOWED,
        format!("WebSocket connections from origin {origin:?} are not allowed"),
    )
    .with_details(serde_json::json!({"origin": origin})))
}

/// One of a credential's WebSocket slots, given back when the session ends.
struct SocketSlot {
    state: SharedState,
    key: String,
}

impl SocketSlot {
    /// Takes a slot, or 429 `too_many_websockets` when the credential
    /// already has as many sockets open as the server allows.
    fn take(state: &SharedState, principal: &Principal) -> Result<SocketSlot, ApiError> {
        let key = principal
            .grant
            .as_ref()
            .map_or_else(|| principal.actor.id.clone(), |g| g.id.clone());
        let limit = state.config.max_ws_per_credential;
        let mut open = state.sockets.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(key.clone()).or_default();
        if *count >= limit {
            return Err(ApiError::new(
                ablo_runtime::wire::ErrorType::RateLimit,
                crate::error::Refusal::RateLimited,
                TOO_MANY_WEBSOCKETS,
                format!("this credential already has {limit} WebSockets open"),
            )
            .with_details(serde_json::json!({"limit": limit})));
        }
        *count += 1;
        Ok(SocketSlot {
            state: state.clone(),
            key,
        })
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut open = self.state.sockets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// 429: the credential has as many WebSockets open as the server allows.
const TOO_MANY_WEBSOCKETS: &str = "too_many_websockets";

fn upgrade_refused(rejection: WebSocketUpgradeRejection) -> Response {
    // The envelope middleware wraps this response's status and text.
    rejection.into_response()
}

/// The sending half of a connection, with the longest time one send may
/// wait on a client that does not read.
struct Sink {
    inner: SplitSink<WebSocket, Message>,
    send_timeout: Duration,
}

async fn send(sink: &mut Sink, message: Message) -> bool {
    let limit = sink.send_timeout;
    let mut sending = std::pin::pin!(sink.inner.send(message));
    // Most sends finish at once (the socket has room): they arm no timer.
    if let std::task::Poll::Ready(sent) = futures::poll!(&mut sending) {
        return sent.is_ok();
    }
    matches!(tokio::time::timeout(limit, sending).await, Ok(Ok(())))
}

async fn send_json(sink: &mut Sink, message: &ServerMessage) -> bool {
    let text = serde_json::to_string(message).expect("server messages serialize");
    send(sink, Message::Text(text.into())).await
}

async fn close(sink: &mut Sink, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    let _ = send(sink, Message::Close(Some(frame))).await;
}

async fn refuse(sink: &mut Sink, error: ApiError) {
    let body = error.to_body(&format!("ws_{}", uuid::Uuid::now_v7().simple()));
    let _ = send_json(sink, &ServerMessage::Error { error: body }).await;
    close(sink, 1008, "protocol error").await;
}

/// Counts a subscribed stream in the metrics while it lives.
struct Subscribed<'s>(&'s SharedState);

impl Drop for Subscribed<'_> {
    fn drop(&mut self) {
        self.0.metrics.subscriptions.dec();
    }
}

/// Numbers live connections, so presence ends with the connection.
static NEXT_CONNECTION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

async fn session(state: SharedState, principal: Principal, socket: WebSocket) {
    let connection = NEXT_CONNECTION.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    state.metrics.connections.inc();
    live_session(&state, principal, socket, connection).await;
    state.metrics.connections.dec();
    state.presence.disconnect(connection);
}

async fn live_session(
    state: &SharedState,
    principal: Principal,
    socket: WebSocket,
    connection: u64,
) {
    let state = state.clone();
    let (inner, mut stream) = socket.split();
    let mut sink = Sink {
        inner,
        send_timeout: state.config.ws_send_timeout,
    };
    let Some((cursor, asked)) =
        await_subscribe(&mut sink, &mut stream, state.config.ws_subscribe_timeout).await
    else {
        return;
    };
    let filter = match ReaderView::new(&principal, asked) {
        Ok(filter) => filter,
        Err(denied) => {
            refuse(&mut sink, denied).await;
            return;
        }
    };
    let reads = state.reads();
    // Subscribers of one class share each commit's message.
    let class = std::sync::Arc::new(filter.visibility_class());
    tracing::debug!(actor = %principal.actor.id, ?cursor, "subscriber joined");
    let live = state.hub.subscribe();
    let intent_events = state.intents.subscribe();
    let presence_events = state.presence.subscribe();
    // A cursor within the log is replayed; no cursor, or one older than the
    // log keeps, gets the current rows and then the log after them.
    let replayed = match cursor {
        Some(asked) => match replay(&reads, &mut sink, asked, &filter).await {
            Replayed::To(cursor) => {
                if cursor > asked {
                    state.metrics.replays.inc();
                }
                Some(cursor)
            }
            Replayed::Gap => None,
            Replayed::Closed => return,
        },
        None => None,
    };
    let mut cursor = match replayed {
        Some(cursor) => cursor,
        None => {
            let Some(at) = send_snapshot(&reads, &mut sink, &filter).await else {
                return;
            };
            state.metrics.snapshots.inc();
            match replay(&reads, &mut sink, at, &filter).await {
                Replayed::To(cursor) => cursor,
                // Compacted while the snapshot was sent: start over.
                Replayed::Gap | Replayed::Closed => {
                    close(
                        &mut sink,
                        1013,
                        "the log moved past the snapshot; subscribe again",
                    )
                    .await;
                    return;
                }
            }
        }
    };
    state.metrics.subscriptions.inc();
    let _subscribed = Subscribed(&state);
    if !send_json(&mut sink, &ServerMessage::CaughtUp { cursor }).await {
        return;
    }
    // Who is working on what right now, within what the subscriber may see.
    for (intent, groups) in state.intents.snapshot() {
        if filter.admits(&intent.target.model, &groups) {
            let message = ServerMessage::Intent {
                event: ablo_runtime::wire::IntentEventKind::Created,
                intent,
                position: None,
            };
            if !send_json(&mut sink, &message).await {
                return;
            }
        }
    }
    for (presence, groups) in state.presence.snapshot() {
        if filter.admits(&presence.target.model, &groups)
            && !send_json(&mut sink, &ServerMessage::Presence { presence }).await
        {
            return;
        }
    }
    let mut shutdown = state.shutdown.clone();
    if *shutdown.borrow_and_update() {
        close(&mut sink, 1001, "server shutting down").await;
        return;
    }
    let mut ping = tokio::time::interval(state.config.ws_ping_interval);
    ping.tick().await;
    let mut silent_pings = 0;
    let per_second = std::num::NonZeroU32::new(state.config.ws_messages_per_second.max(1))
        .expect("at least one");
    let inbound = governor::RateLimiter::direct(
        governor::Quota::per_second(per_second)
            .allow_burst(per_second.saturating_mul(std::num::NonZeroU32::new(2).expect("two"))),
    );
    // Resolves when the session's capability is revoked or expires, or its
    // API key is revoked.
    let ended = async {
        match &principal.grant {
            Some(grant) => state.capabilities.ended(Some(grant)).await,
            None => {
                state.keys.ended(&principal.actor.id).await;
                crate::capability::AccessError::ApiKeyRevoked
            }
        }
    };
    tokio::pin!(ended);
    // Kept across turns of the loop: a receive in progress stays
    // registered with its channel instead of being dropped and registered
    // again each time another branch is taken.
    let live = receive(live);
    let intent_events = receive(intent_events);
    let presence_events = receive(presence_events);
    let shutdown = shutdown.changed();
    tokio::pin!(live, intent_events, presence_events, shutdown);
    let (mut inbound_messages, _reader) = read_apart(stream);
    loop {
        tokio::select! {
            Some(event) = live.next() => match event {
                Ok(event) if event.sync_id <= cursor => {}
                Ok(event) => {
                    cursor = event.sync_id;
                    let message = match live_message(&reads, &filter, &class, &event).await {
                        Ok(Some(message)) => message,
                        Ok(None) => continue,
                        Err(err) => {
                            refuse(&mut sink, err).await;
                            return;
                        }
                    };
                    state.metrics.fanout_lag.observe(event.published.elapsed().as_secs_f64());
                    if !send(&mut sink, message).await {
                        return;
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    let message = ServerMessage::ResyncRequired {
                        cursor,
                        message: "too far behind the live stream: catch up with GET /v1/sync/deltas?after=cursor, then subscribe again".into(),
                    };
                    let _ = send_json(&mut sink, &message).await;
                    close(&mut sink, 4000, "resync required").await;
                    return;
                }
                Err(RecvError::Closed) => return,
            },
            Some(event) = intent_events.next() => match event {
                Ok(event) if filter.admits(&event.intent.target.model, &event.sync_groups) => {
                    if !send_json(&mut sink, &crate::coordination::intent_message(&event)).await {
                        return;
                    }
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
            Some(event) = presence_events.next() => match event {
                Ok(event) if filter.admits(&event.presence.target.model, &event.sync_groups) => {
                    let message = ServerMessage::Presence { presence: event.presence };
                    if !send_json(&mut sink, &message).await {
                        return;
                    }
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
            incoming = inbound_messages.recv() => {
                let incoming = incoming.flatten();
                silent_pings = 0;
                if matches!(incoming, Some(Ok(Message::Text(_)))) && inbound.check().is_err() {
                    refuse(&mut sink, ApiError::new(
                        ablo_runtime::wire::ErrorType::RateLimit,
                        crate::error::Refusal::RateLimited,
                        crate::capability::codes::RATE_LIMITED,
                        format!("more than {} messages per second on this WebSocket", state.config.ws_messages_per_second),
                    )).await;
                    return;
                }
                match incoming {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(Message::Text(text))) => match serde_json::from_str::<ClientMessage>(&text) {
                        Ok(ClientMessage::Ping) => {
                            if !send_json(&mut sink, &ServerMessage::Pong).await {
                                return;
                            }
                        }
                        Ok(ClientMessage::Pong) => {}
                        Ok(ClientMessage::Presence { target, state: doing }) => {
                            if let Err(error) = crate::coordination::publish_presence(&state.store, &state.presence, &principal, connection, target, doing).await {
                                refuse(&mut sink, error).await;
                                return;
                            }
                        }
                        Ok(ClientMessage::Subscribe { .. }) => {
                            refuse(&mut sink, ApiError::bad_request(codes::INVALID_REQUEST, "already subscribed")).await;
                            return;
                        }
                        Err(err) => {
                            refuse(&mut sink, ApiError::bad_request(codes::MALFORMED_JSON, format!("invalid message: {err}"))).await;
                            return;
                        }
                    },
                    Some(Ok(_)) => {}
                }
            }
            _ = ping.tick() => {
                if silent_pings >= MAX_SILENT_PINGS {
                    close(&mut sink, 1001, "no answer to pings").await;
                    return;
                }
                silent_pings += 1;
                if !send_json(&mut sink, &ServerMessage::Ping).await {
                    return;
                }
            }
            _ = &mut shutdown => {
                close(&mut sink, 1001, "server shutting down").await;
                return;
            }
            ended = &mut ended => {
                let body = crate::error::ApiError::from(ended)
                    .to_body(&format!("ws_{}", uuid::Uuid::now_v7().simple()));
                let _ = send_json(&mut sink, &ServerMessage::Error { error: body }).await;
                close(&mut sink, 4001, "credential revoked or expired").await;
                return;
            }
        }
    }
}

/// What the client sends, read by a task of its own and handed over one
/// message at a time. The session's loop then waits on a channel instead
/// of polling the socket's read side, which readies a read buffer on each
/// poll, every time a commit wakes it. `None` ends the stream; the task
/// stops when the returned guard is dropped.
fn read_apart(
    mut stream: SplitStream<WebSocket>,
) -> (
    tokio::sync::mpsc::Receiver<Option<Result<Message, axum::Error>>>,
    AbortOnDrop,
) {
    let (messages, receiver) = tokio::sync::mpsc::channel(1);
    let reader = tokio::spawn(async move {
        loop {
            let next = stream.next().await;
            let last = !matches!(next, Some(Ok(_)));
            if messages.send(next).await.is_err() || last {
                return;
            }
        }
    });
    (receiver, AbortOnDrop(reader))
}

/// Stops a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The events of a broadcast channel as a stream that keeps its receive in
/// progress between polls.
fn receive<T: Clone>(
    receiver: tokio::sync::broadcast::Receiver<T>,
) -> impl futures::Stream<Item = Result<T, RecvError>> {
    futures::stream::unfold(receiver, |mut receiver| async move {
        let event = receiver.recv().await;
        Some((event, receiver))
    })
}

/// Waits for `subscribe`, answering pings meanwhile.
async fn await_subscribe(
    sink: &mut Sink,
    stream: &mut SplitStream<WebSocket>,
    timeout: Duration,
) -> Option<(Option<SyncId>, Option<HashSet<String>>)> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let next = tokio::time::timeout_at(deadline, stream.next()).await;
        let text = match next {
            Err(_) => {
                refuse(
                    sink,
                    ApiError::bad_request(codes::INVALID_REQUEST, "no subscribe message in time"),
                )
                .await;
                return None;
            }
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return None,
            Ok(Some(Ok(Message::Text(text)))) => text,
            Ok(Some(Ok(_))) => continue,
        };
        match serde_json::from_str::<ClientMessage>(&text) {
            Ok(ClientMessage::Subscribe {
                cursor,
                sync_groups,
            }) => {
                return Some((cursor, sync_groups.map(|g| g.into_iter().collect())));
            }
            Ok(ClientMessage::Ping) => {
                if !send_json(sink, &ServerMessage::Pong).await {
                    return None;
                }
            }
            Ok(ClientMessage::Pong) => {}
            Ok(ClientMessage::Presence { .. }) => {
                refuse(
                    sink,
                    ApiError::bad_request(
                        codes::INVALID_REQUEST,
                        "subscribe before publishing presence",
                    ),
                )
                .await;
                return None;
            }
            Err(err) => {
                refuse(
                    sink,
                    ApiError::bad_request(codes::MALFORMED_JSON, format!("invalid message: {err}")),
                )
                .await;
                return None;
            }
        }
    }
}

/// What a subscriber is sent of a live commit: the shared message, its
/// class's message (made once per class, [`crate::fanout::InlineDeltas::view`]),
/// or nothing. A commit published without its deltas (over the inline
/// limit) is read from the log and filtered for this subscriber alone.
async fn live_message(
    reads: &Reads,
    filter: &ReaderView,
    class: &std::sync::Arc<crate::fanout::VisibilityClass>,
    event: &crate::fanout::CommitEvent,
) -> Result<Option<Message>, ApiError> {
    match &event.inline {
        Some(inline) if filter.admits_all() => Ok(Some(Message::Text(inline.message.clone()))),
        Some(inline) => Ok(inline
            .view(class, |deltas| filter.message(deltas))
            .map(Message::Text)),
        None => Ok(reads
            .commit_message(filter, event.sync_id)
            .await?
            .map(Message::Text)),
    }
}

/// How a replay of the log ended.
enum Replayed {
    /// Everything up to this sync id was sent.
    To(SyncId),
    /// The log no longer reaches back to the cursor (retention).
    Gap,
    /// The socket closed or storage failed (the client was told).
    Closed,
}

/// Sends the current rows the subscriber may see: `snapshot`, then `rows`
/// messages; returns the snapshot's sync id.
async fn send_snapshot(reads: &Reads, sink: &mut Sink, filter: &ReaderView) -> Option<SyncId> {
    let mut parts = reads.snapshot(filter).await;
    let mut at = None;
    while let Some(part) = parts.recv().await {
        match part {
            Ok(SnapshotPart::Start(head)) => {
                at = Some(head);
                if !send_json(sink, &ServerMessage::Snapshot { cursor: head }).await {
                    return None;
                }
            }
            Ok(SnapshotPart::Rows(text)) => {
                if !send(sink, Message::Text(text.into())).await {
                    return None;
                }
            }
            Err(err) => {
                refuse(sink, err).await;
                return None;
            }
        }
    }
    at
}

/// Sends every logged delta after `cursor`.
async fn replay(
    reads: &Reads,
    sink: &mut Sink,
    mut cursor: SyncId,
    filter: &ReaderView,
) -> Replayed {
    loop {
        let after = cursor;
        let page = match reads.replay_page(filter, after).await {
            Ok(LogRead::Page(page)) => page,
            Ok(LogRead::Gap { .. }) => return Replayed::Gap,
            Err(err) => {
                refuse(sink, err).await;
                return Replayed::Closed;
            }
        };
        if let Some(last) = page.last {
            cursor = last;
        }
        if let Some(text) = page.text
            && !send(sink, Message::Text(text)).await
        {
            return Replayed::Closed;
        }
        if !page.has_more {
            return Replayed::To(cursor.max(after));
        }
    }
}
