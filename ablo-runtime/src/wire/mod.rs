//! The JSON wire contract between Ablo clients and the sync server (HTTP and
//! WebSocket, version 1, camelCase).
//!
//! Every type here serializes to exactly the shape `docs/protocol.md`
//! documents; the server produces and the client consumes them (and the
//! other way round for requests), so both sides share one definition.
//!
//! - commits: [`CommitRequest`], [`Operation`], [`OnStale`], [`CommitReceipt`];
//! - the sync log: [`Delta`], [`DeltasPage`];
//! - reads: [`ListResponse`], [`RetrieveResponse`];
//! - single-row writes: [`CreateRowRequest`], [`UpdateRowRequest`],
//!   [`DeleteResponse`];
//! - errors: [`ErrorEnvelope`], [`ErrorBody`], [`ErrorType`] and the [`codes`];
//! - WebSocket: [`ClientMessage`] and [`ServerMessage`];
//! - Data Sources: [`SourceRequest`] and its answers, [`SourceEvent`],
//!   [`SourceConfig`], [`SourceInfo`], [`SourceStatus`].
//!
//! ```
//! use ablo_runtime::wire::{CommitRequest, Operation, OnStale};
//! use ablo_runtime::SyncId;
//! let request = CommitRequest::new(vec![
//!     Operation::update("tasks", "task_1", serde_json::json!({"status": "done"}))
//!         .read_at(SyncId(41))
//!         .on_stale(OnStale::Reject),
//! ]);
//! let json = serde_json::to_value(&request).unwrap();
//! assert_eq!(json["operations"][0]["type"], "update");
//! assert_eq!(json["operations"][0]["readAt"], 41);
//! assert_eq!(json["operations"][0]["onStale"], "reject");
//! ```

use crate::types::Json;

mod commit;
mod coordination;
mod error;
mod rows;
mod socket;
mod source;
mod sync;

pub use commit::*;
pub use coordination::*;
pub use error::*;
pub use rows::*;
pub use socket::*;
pub use source::*;
pub use sync::*;

/// The JSON object holding a row's fields (or a patch of some of them).
///
/// ```
/// let data: ablo_runtime::wire::JsonObject = serde_json::from_str(r#"{"title": "x"}"#).unwrap();
/// assert_eq!(data["title"], "x");
/// ```
pub type JsonObject = serde_json::Map<String, Json>;

/// The `object` value of a [`CommitReceipt`].
///
/// ```
/// assert_eq!(ablo_runtime::wire::COMMIT_RECEIPT_OBJECT, "commit_receipt");
/// ```
pub const COMMIT_RECEIPT_OBJECT: &str = "commit_receipt";

/// The HTTP header whose value, when present on a write, is used as its
/// `clientTxId`.
///
/// ```
/// assert_eq!(ablo_runtime::wire::IDEMPOTENCY_KEY_HEADER, "idempotency-key");
/// ```
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// The HTTP header carrying the id the server gave a request; the same id is
/// in every error body as `requestId`.
///
/// ```
/// assert_eq!(ablo_runtime::wire::REQUEST_ID_HEADER, "x-request-id");
/// ```
pub const REQUEST_ID_HEADER: &str = "x-request-id";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::SyncId;

    #[test]
    fn commit_request_refuses_unknown_keys_and_bad_types() {
        let err =
            serde_json::from_str::<CommitRequest>(r#"{"operations":[],"extra":1}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        let err = serde_json::from_str::<CommitRequest>(
            r#"{"operations":[{"type":"upsert","model":"tasks"}]}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown variant"), "{err}");
        let err = serde_json::from_str::<CommitRequest>(
            r#"{"operations":[{"type":"update","model":"tasks","id":"t","readAt":-1}]}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("invalid value"), "{err}");
    }

    #[test]
    fn server_messages_round_trip() {
        let messages = vec![
            ServerMessage::Deltas { deltas: vec![] },
            ServerMessage::ResyncRequired {
                cursor: SyncId(4),
                message: "behind".into(),
            },
            ServerMessage::Ping,
            ServerMessage::Pong,
        ];
        for msg in messages {
            let json = serde_json::to_string(&msg).unwrap();
            let back: ServerMessage = serde_json::from_str(&json).unwrap();
            assert_eq!(back, msg);
        }
        let json = serde_json::to_value(ServerMessage::ResyncRequired {
            cursor: SyncId(4),
            message: "behind".into(),
        })
        .unwrap();
        assert_eq!(json["type"], "resyncRequired");
    }

    #[test]
    fn non_object_data_is_kept_visible() {
        let op = Operation::create("tasks", serde_json::json!(5));
        assert_eq!(op.data.unwrap()["value"], 5);
    }
}
