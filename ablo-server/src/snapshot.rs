//! Snapshot bootstrap: the current rows a subscriber may see, read from one
//! storage snapshot on a blocking thread, encoded there as `rows` messages
//! and handed over a bounded channel message by message, so a slow client
//! holds back the reader (backpressure) instead of the server buffering
//! every row. The WebSocket and `GET /v1/sync/snapshot` send the same
//! messages (both start it through `Reads::snapshot`).

use ablo_runtime::SyncId;
use tokio::sync::mpsc;

use crate::error::ApiError;
use crate::scope::GroupPatterns;
use crate::storage::{SnapshotRow, Storage};

/// Rows read from storage per page.
const PAGE_ROWS: usize = 2000;

/// A `rows` message of a snapshot holds rows of one model and ends at the
/// first row that takes it to this many bytes of rows (so a message is at
/// most this plus one row). Large messages keep the per-message cost (a
/// frame, a parse, a callback on the client) small against the rows.
pub(crate) const MESSAGE_BYTES: usize = 1024 * 1024;

/// Whether a row of this model in these groups is sent (the subscriber's
/// group list and its credential's read rights).
pub(crate) type Admits = Box<dyn Fn(&str, &[String]) -> bool + Send>;

/// What the reader hands over, in order: the snapshot's sync id, then the
/// `rows` messages, each as its JSON text.
pub(crate) enum SnapshotPart {
    Start(SyncId),
    Rows(String),
}

/// Bounds how many snapshots are read at once. A snapshot holds a storage
/// read connection and a blocking thread for as long as its client takes
/// to receive it, so without a bound enough slow clients would take every
/// read connection from the server's other requests. Turns are given in
/// the order they were asked for.
#[derive(Clone)]
pub(crate) struct Gate {
    turns: std::sync::Arc<tokio::sync::Semaphore>,
    waiting: prometheus::IntGauge,
}

/// A snapshot's turn: the reading ends, and the next waiting snapshot
/// starts, when it is dropped.
pub(crate) struct Turn(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);

impl Gate {
    /// A gate letting `at_once` snapshots read together (at least one),
    /// counting those that wait in `waiting`.
    pub(crate) fn new(at_once: usize, waiting: prometheus::IntGauge) -> Gate {
        Gate {
            turns: std::sync::Arc::new(tokio::sync::Semaphore::new(at_once.max(1))),
            waiting,
        }
    }

    /// Waits for a turn.
    pub(crate) async fn enter(&self) -> Turn {
        self.waiting.inc();
        let permit = self.turns.clone().acquire_owned().await;
        self.waiting.dec();
        Turn(permit.expect("the snapshot gate is never closed"))
    }
}

/// Starts reading the rows `visible_to` allows (every row for `None`) and
/// `admits` keeps, within `turn`.
pub(crate) fn stream(
    turn: Turn,
    storage: std::sync::Arc<dyn Storage>,
    visible_to: Option<GroupPatterns>,
    admits: Admits,
) -> mpsc::Receiver<Result<SnapshotPart, ApiError>> {
    // Two messages in flight: one being sent, one encoded ahead.
    let (parts, receiver) = mpsc::channel(2);
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        let mut started = false;
        let mut message = Message::default();
        let read = storage.snapshot(visible_to.as_ref(), PAGE_ROWS, &mut |head, rows| {
            if !started {
                started = true;
                if parts.blocking_send(Ok(SnapshotPart::Start(head))).is_err() {
                    return false;
                }
            }
            for row in rows {
                if !admits(&row.model, &row.sync_groups) {
                    continue;
                }
                if let Some(full) = message.push(row)
                    && parts.blocking_send(Ok(SnapshotPart::Rows(full))).is_err()
                {
                    return false;
                }
            }
            true
        });
        let outcome = match read {
            Ok(head) if !started => Ok(SnapshotPart::Start(head)),
            Ok(_) => match message.finish() {
                Some(last) => Ok(SnapshotPart::Rows(last)),
                None => return,
            },
            Err(err) => Err(ApiError::from(err)),
        };
        let _ = parts.blocking_send(outcome);
    });
    receiver
}

/// The `rows` message being filled.
#[derive(Default)]
struct Message {
    model: String,
    text: String,
    rows: usize,
}

impl Message {
    /// Adds a row; returns the previous message when this row starts a new
    /// one (another model) or the message is full.
    fn push(&mut self, row: SnapshotRow) -> Option<String> {
        let mut full = None;
        if self.rows > 0 && row.model != self.model {
            full = self.finish();
        }
        if self.rows == 0 {
            self.model = row.model;
            self.text = String::with_capacity(MESSAGE_BYTES + row.wire.len() + 64);
            self.text.push_str(r#"{"type":"rows","model":"#);
            self.text
                .push_str(&serde_json::Value::String(self.model.clone()).to_string());
            self.text.push_str(r#","rows":["#);
        } else {
            self.text.push(',');
        }
        self.text.push_str(&row.wire);
        self.rows += 1;
        if self.text.len() >= MESSAGE_BYTES {
            debug_assert!(full.is_none());
            return self.finish();
        }
        full
    }

    /// The message so far, closed; `None` without rows.
    fn finish(&mut self) -> Option<String> {
        if self.rows == 0 {
            return None;
        }
        self.rows = 0;
        let mut text = std::mem::take(&mut self.text);
        text.push_str("]}");
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ablo_runtime::wire::ServerMessage;
    use serde_json::json;

    fn row(model: &str, n: usize, pad: usize) -> SnapshotRow {
        SnapshotRow {
            model: model.into(),
            id: format!("r{n}"),
            sync_groups: vec![],
            wire: json!({"id": format!("r{n}"), "pad": "x".repeat(pad)}).to_string(),
        }
    }

    #[test]
    fn messages_are_rows_messages_split_by_model_and_size() {
        let mut message = Message::default();
        let mut out = Vec::new();
        for n in 0..3 {
            out.extend(message.push(row("a", n, 10)));
        }
        for n in 0..5 {
            out.extend(message.push(row("b\"", n, MESSAGE_BYTES / 3)));
        }
        out.extend(message.finish());
        let parsed: Vec<ServerMessage> = out
            .iter()
            .map(|t| serde_json::from_str(t).unwrap())
            .collect();
        let shape: Vec<(String, usize)> = parsed
            .into_iter()
            .map(|m| match m {
                ServerMessage::Rows { model, rows } => (model, rows.len()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            shape,
            [("a".into(), 3), ("b\"".into(), 3), ("b\"".into(), 2)]
        );
        assert!(message.finish().is_none());
    }
}
