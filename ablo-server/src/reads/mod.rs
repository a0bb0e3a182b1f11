//! Every read of the store a client makes, over HTTP or the WebSocket:
//! rows (list, retrieve), pages of the sync log after a cursor, the
//! current rows as a snapshot, and the large commits the live hub does not
//! carry. Each read applies one [`ReaderView`], so both edges show a
//! credential exactly the same deltas, rows, intents and presence.

mod rows;
mod view;

use std::sync::Arc;

use ablo_runtime::SyncId;
use ablo_runtime::wire::{Delta, DeltasPage, codes};
use axum::extract::ws::Utf8Bytes;
use tokio::sync::mpsc;

use crate::coordination::IntentBoard;
use crate::cursor::CursorSeal;
use crate::error::ApiError;
use crate::schema::SchemaSlot;
pub(crate) use crate::snapshot::SnapshotPart;
use crate::sources::SourceContext;
use crate::store::Store;
pub(crate) use view::ReaderView;

/// The default number of deltas per `GET /v1/sync/deltas` page.
const DEFAULT_DELTAS: usize = 500;
/// Most deltas per replay message.
const REPLAY_PAGE: usize = 500;
/// Replay messages end at the first commit boundary past this many bytes:
/// a subscriber that does not read holds at most one such message (plus
/// its socket buffers) in the server's memory, whatever the log's length
/// (a single commit larger than this is still one message).
const REPLAY_BYTES: usize = 8 * 1024;

/// The largest pages a client may ask for.
#[derive(Clone, Copy)]
pub(crate) struct PageLimits {
    /// Most rows or deltas in one page.
    pub max_page_size: usize,
    /// A page ends at the first row or commit past this many bytes.
    pub max_page_bytes: usize,
}

/// The read service: the handles reads use, cheap to clone.
#[derive(Clone)]
pub(crate) struct Reads {
    store: Store,
    schema: Arc<SchemaSlot>,
    cursors: Arc<CursorSeal>,
    intents: Arc<IntentBoard>,
    /// Reads of a source-backed model refresh the mirror first.
    sources: SourceContext,
    limits: PageLimits,
    /// Snapshots take turns through it.
    snapshots: crate::snapshot::Gate,
}

/// A read of the sync log after a cursor.
pub(crate) enum LogRead<T> {
    /// The page, as the reader sees it.
    Page(T),
    /// The log keeps commits after `floor` only, and the cursor is older:
    /// the reader needs a snapshot.
    Gap {
        /// The oldest sync id the log still continues from.
        floor: SyncId,
    },
}

/// One page of a replay: read, filtered and serialized on a storage
/// thread, so only the message (at most about [`REPLAY_BYTES`]) crosses
/// back and waits for the client. A parsed page never waits for a busy
/// socket, however many replays run.
pub(crate) struct ReplayPage {
    /// The `deltas` message, if the reader sees any delta of the page.
    pub text: Option<Utf8Bytes>,
    /// The sync id of the page's last delta, shown or not.
    pub last: Option<SyncId>,
    /// Whether more deltas follow.
    pub has_more: bool,
}

impl Reads {
    /// The service over these handles.
    pub(crate) fn new(
        store: Store,
        schema: Arc<SchemaSlot>,
        cursors: Arc<CursorSeal>,
        intents: Arc<IntentBoard>,
        sources: SourceContext,
        limits: PageLimits,
        snapshots: crate::snapshot::Gate,
    ) -> Reads {
        Reads {
            store,
            schema,
            cursors,
            intents,
            sources,
            limits,
            snapshots,
        }
    }

    /// `GET /v1/sync/deltas`: the deltas after `after` the view shows, at
    /// most `limit` (500 or the page size limit by default, 400
    /// `invalid_query` past it).
    pub(crate) async fn deltas(
        &self,
        view: &ReaderView,
        after: SyncId,
        limit: Option<usize>,
    ) -> Result<LogRead<DeltasPage>, ApiError> {
        let max = self.limits.max_page_size;
        let limit = limit.unwrap_or(DEFAULT_DELTAS.min(max));
        if limit == 0 || limit > max {
            return Err(ApiError::bad_request(
                codes::INVALID_QUERY,
                format!("`limit` must be 1 to {max}"),
            ));
        }
        let max_bytes = self.limits.max_page_bytes;
        self.read_log(view, after, limit, max_bytes, move |view, page| {
            DeltasPage {
                data: view
                    .shown(&page.deltas)
                    .into_iter()
                    .map(std::borrow::Cow::into_owned)
                    .collect(),
                stamp: page.head,
                next_after: page.deltas.last().map(|d| d.sync_id).unwrap_or(after),
                has_more: page.has_more,
            }
        })
        .await
    }

    /// The next replay message after `after`.
    pub(crate) async fn replay_page(
        &self,
        view: &ReaderView,
        after: SyncId,
    ) -> Result<LogRead<ReplayPage>, ApiError> {
        self.read_log(view, after, REPLAY_PAGE, REPLAY_BYTES, |view, page| {
            let text = view.message_text(&page.deltas).map(|mut text| {
                // Held for as long as the client takes to read it: no slack.
                text.shrink_to_fit();
                Utf8Bytes::from(text)
            });
            ReplayPage {
                text,
                last: page.deltas.last().map(|d| d.sync_id),
                has_more: page.has_more,
            }
        })
        .await
    }

    /// Reads a page of the log after `after` and shapes it for `view` on
    /// the storage thread.
    async fn read_log<T: Send + 'static>(
        &self,
        view: &ReaderView,
        after: SyncId,
        limit: usize,
        max_bytes: usize,
        shape: impl FnOnce(&ReaderView, crate::storage::LogPage) -> T + Send + 'static,
    ) -> Result<LogRead<T>, ApiError> {
        let view = view.clone();
        self.store
            .call(move |s| {
                let page = s.deltas_after(after, limit, max_bytes)?;
                if page.floor > after {
                    return Ok(LogRead::Gap { floor: page.floor });
                }
                Ok(LogRead::Page(shape(&view, page)))
            })
            .await
            .map_err(ApiError::from)
    }

    /// The `deltas` message the view shows of the commit at `sync_id`, read
    /// from the log (`None` when it shows none): for a commit published
    /// without its deltas, over the hub's inline limit.
    pub(crate) async fn commit_message(
        &self,
        view: &ReaderView,
        sync_id: SyncId,
    ) -> Result<Option<Utf8Bytes>, ApiError> {
        let before = SyncId(sync_id.0 - 1);
        let page = self
            .store
            .call(move |s| s.deltas_after(before, 1, usize::MAX))
            .await?;
        let loaded: Vec<Delta> = page
            .deltas
            .into_iter()
            .filter(|d| d.sync_id == sync_id)
            .collect();
        Ok(view.message(&loaded))
    }

    /// Starts a snapshot of the current rows the view shows, once its turn
    /// comes ([`crate::snapshot::Gate`]): its sync id, then `rows`
    /// messages, handed over as the reader takes them.
    pub(crate) async fn snapshot(
        &self,
        view: &ReaderView,
    ) -> mpsc::Receiver<Result<SnapshotPart, ApiError>> {
        let admits = view.clone();
        let turn = self.snapshots.enter().await;
        crate::snapshot::stream(
            turn,
            self.store.backend().clone(),
            view.visible_groups(),
            Box::new(move |model: &str, groups: &[String]| admits.admits(model, groups)),
        )
    }
}
