//! Messages on the WebSocket (`GET /v1/sync/ws`), both ways.

use serde::{Deserialize, Serialize};

use super::{Delta, ErrorBody, Intent, IntentEventKind, Presence, PresenceState, Target};
use crate::types::SyncId;

/// A message a client sends on the WebSocket (`GET /v1/sync/ws`).
///
/// ```
/// use ablo_runtime::wire::ClientMessage;
/// use ablo_runtime::SyncId;
/// let msg: ClientMessage = serde_json::from_str(r#"{"type":"subscribe","cursor":12}"#).unwrap();
/// assert_eq!(msg, ClientMessage::Subscribe { cursor: Some(SyncId(12)), sync_groups: None });
/// let fresh: ClientMessage = serde_json::from_str(r#"{"type":"subscribe"}"#).unwrap();
/// assert_eq!(fresh, ClientMessage::Subscribe { cursor: None, sync_groups: None });
/// assert_eq!(serde_json::to_string(&ClientMessage::Ping).unwrap(), r#"{"type":"ping"}"#);
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ClientMessage {
    /// Start the stream: every delta after `cursor`, then live ones. Sent
    /// once, first. Without a cursor, or with one older than the log the
    /// server keeps, the server sends a snapshot of the current rows
    /// ([`ServerMessage::Snapshot`]) and then the deltas after it.
    #[serde(rename_all = "camelCase")]
    Subscribe {
        /// The last sync id the client has applied; absent when it holds
        /// nothing.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cursor: Option<SyncId>,
        /// Receive only these groups (of those the credential allows);
        /// absent: all of them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sync_groups: Option<Vec<String>>,
    },
    /// Asks the server for a `pong`.
    Ping,
    /// Answers a server `ping`.
    Pong,
    /// Publishes what this connection's participant does with a target
    /// (`left` withdraws it). Entries end when the connection closes.
    Presence {
        /// The row or field.
        target: Target,
        /// `viewing`, `editing` or `left`.
        state: PresenceState,
    },
}

/// A message the server sends on the WebSocket.
///
/// ```
/// use ablo_runtime::wire::ServerMessage;
/// use ablo_runtime::SyncId;
/// let msg = ServerMessage::CaughtUp { cursor: SyncId(12) };
/// assert_eq!(serde_json::to_string(&msg).unwrap(), r#"{"type":"caughtUp","cursor":12}"#);
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ServerMessage {
    /// Deltas in sync-id order; a message never splits a commit.
    Deltas {
        /// The deltas.
        deltas: Vec<Delta>,
    },
    /// The server sends the current rows as of sync id `cursor` instead of
    /// the log: drop every confirmed row, keep unconfirmed own writes, and
    /// take `cursor` as the cursor. [`ServerMessage::Rows`] messages follow,
    /// then the deltas after `cursor` and [`ServerMessage::CaughtUp`].
    Snapshot {
        /// The sync id the rows are current as of.
        cursor: SyncId,
    },
    /// Current rows of one model, part of a snapshot (flat rows with their
    /// `stamp`, as `GET /v1/models/{model}` returns them).
    Rows {
        /// The model's wire name.
        model: String,
        /// The rows.
        rows: Vec<crate::Json>,
    },
    /// Sent once after the replay of the log: everything up to `cursor` has
    /// been sent and further deltas are live.
    CaughtUp {
        /// The last sync id sent (the subscribe cursor if nothing was
        /// replayed).
        cursor: SyncId,
    },
    /// The subscriber fell too far behind. The server closes the socket
    /// after this message; catch up with `GET /v1/sync/deltas?after=cursor`
    /// and subscribe again.
    ResyncRequired {
        /// The last sync id delivered on this socket.
        cursor: SyncId,
        /// A human-readable explanation.
        message: String,
    },
    /// Asks the client for a `pong`.
    Ping,
    /// Answers a client `ping`.
    Pong,
    /// An intent was taken, heartbeated, released or expired (sent to
    /// subscribers of the target row's groups).
    #[serde(rename_all = "camelCase")]
    Intent {
        /// What happened.
        event: IntentEventKind,
        /// The intent.
        intent: Intent,
        /// For `queued`: the place in line, from 1.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        position: Option<usize>,
    },
    /// A participant's presence changed.
    Presence {
        /// The presence entry.
        presence: Presence,
    },
    /// The client sent something the server cannot act on (for example a
    /// second `subscribe`); the socket is closed after this message.
    Error {
        /// The error, as in HTTP error bodies.
        error: ErrorBody,
    },
}
