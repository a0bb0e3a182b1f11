//! Snapshot bootstrap: the current rows a subscriber may see, read from one
//! storage snapshot on a blocking thread and handed over a bounded channel
//! page by page, so a slow client holds back the reader (backpressure)
//! instead of the server buffering every row.

use ablo_runtime::SyncId;
use tokio::sync::mpsc;

use crate::capability::GroupPatterns;
use crate::error::ApiError;
use crate::state::SharedState;
use crate::storage::StoredRow;

/// Rows per page (and per `rows` message at most).
pub(crate) const PAGE_ROWS: usize = 500;

/// What the reader hands over, in order: the snapshot's sync id, then pages.
pub(crate) enum SnapshotPart {
    Start(SyncId),
    Rows(Vec<StoredRow>),
}

/// Starts reading the rows `visible_to` allows (every row for `None`).
pub(crate) fn stream(
    state: &SharedState,
    visible_to: Option<GroupPatterns>,
) -> mpsc::Receiver<Result<SnapshotPart, ApiError>> {
    // Two pages in flight: one being sent, one read ahead.
    let (parts, receiver) = mpsc::channel(2);
    let storage = state.storage.clone();
    tokio::task::spawn_blocking(move || {
        let mut started = false;
        let read = storage.snapshot(visible_to.as_ref(), PAGE_ROWS, &mut |head, rows| {
            if !started {
                started = true;
                if parts.blocking_send(Ok(SnapshotPart::Start(head))).is_err() {
                    return false;
                }
            }
            parts.blocking_send(Ok(SnapshotPart::Rows(rows))).is_ok()
        });
        let outcome = match read {
            Ok(head) if !started => Ok(SnapshotPart::Start(head)),
            Ok(_) => return,
            Err(err) => Err(ApiError::from(err)),
        };
        let _ = parts.blocking_send(outcome);
    });
    receiver
}
