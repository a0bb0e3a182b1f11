//! `GET /v1/sync/deltas`: catch-up from the sync log, in order, paged;
//! `GET /v1/sync/snapshot`: the current rows as of one sync id, streamed as
//! NDJSON (the WebSocket snapshot's messages, one per line).

use ablo_runtime::SyncId;
use ablo_runtime::wire::{DeltasPage, ServerMessage, codes};
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use super::QueryParams;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::reads::{LogRead, ReaderView, Reads, SnapshotPart};

pub(super) async fn deltas(
    State(reads): State<Reads>,
    principal: Principal,
    query: QueryParams,
) -> Result<Json<DeltasPage>, ApiError> {
    let after = SyncId(query.parse::<u64>("after")?.unwrap_or(0));
    let limit = query.parse::<usize>("limit")?;
    let view = ReaderView::new(&principal, None)?;
    match reads.deltas(&view, after, limit).await? {
        LogRead::Page(page) => Ok(Json(page)),
        LogRead::Gap { floor } => Err(snapshot_required(after, floor)),
    }
}

/// 410 `snapshot_required`: the log was compacted past `after`; subscribe
/// without a cursor (or with this one) to get a snapshot of the current
/// rows.
fn snapshot_required(after: SyncId, floor: SyncId) -> ApiError {
    ApiError::new(
        ablo_runtime::wire::ErrorType::Validation,
        crate::error::Refusal::Gone,
        SNAPSHOT_REQUIRED,
        format!(
            "the log keeps commits after {floor} only; {after} is older: subscribe for a snapshot"
        ),
    )
    .with_details(serde_json::json!({"after": after, "floor": floor}))
}

/// The code of [`snapshot_required`].
pub(crate) const SNAPSHOT_REQUIRED: &str = "snapshot_required";

/// `GET /v1/sync/snapshot[?syncGroups=a,b]`: a line
/// `{"type":"snapshot","cursor":N}`, then `{"type":"rows","model":…,"rows":[…]}`
/// lines (the rows the credential may read, as of sync id `N`, by model and
/// id, each line at most about [`crate::snapshot::MESSAGE_BYTES`] of rows),
/// then `{"type":"snapshotEnd","cursor":N}`. A body without the last line
/// was cut off. The reader continues with `GET /v1/sync/deltas?after=N`.
pub(super) async fn snapshot(
    State(reads): State<Reads>,
    principal: Principal,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let asked = query
        .0
        .get("syncGroups")
        .map(|raw| sync_groups(raw))
        .transpose()?;
    let view = ReaderView::new(&principal, asked)?;
    let mut parts = reads.snapshot(&view).await;
    // The snapshot's start decides the status: a storage error before it is
    // a typed error response, one after it an `error` line.
    let cursor = match parts.recv().await {
        Some(Ok(SnapshotPart::Start(cursor))) => cursor,
        Some(Err(err)) => return Err(err),
        Some(Ok(SnapshotPart::Rows(_))) | None => {
            return Err(ApiError::internal());
        }
    };
    let first = line(&ServerMessage::Snapshot { cursor });
    let rest = futures::stream::unfold(Some(parts), move |parts| async move {
        let mut parts = parts?;
        let text = match parts.recv().await {
            Some(Ok(SnapshotPart::Rows(mut text))) => {
                text.push('\n');
                text
            }
            Some(Ok(SnapshotPart::Start(_))) => return None,
            Some(Err(err)) => {
                let error = err.to_body(&format!("req_{}", uuid::Uuid::now_v7().simple()));
                return Some((Ok(line(&ServerMessage::Error { error })), None));
            }
            None => {
                let end = format!("{{\"type\":\"snapshotEnd\",\"cursor\":{cursor}}}\n");
                return Some((Ok(Bytes::from(end)), None));
            }
        };
        Some((Ok::<_, std::io::Error>(Bytes::from(text)), Some(parts)))
    });
    let body = futures::stream::once(async move { Ok(first) }).chain(rest);
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(body),
    )
        .into_response())
}

/// One NDJSON line.
fn line(message: &ServerMessage) -> Bytes {
    let mut text = serde_json::to_string(message).expect("server messages serialize");
    text.push('\n');
    Bytes::from(text)
}

/// `syncGroups=a,b`: exact group names, comma-separated.
fn sync_groups(raw: &str) -> Result<std::collections::HashSet<String>, ApiError> {
    raw.split(',')
        .map(|group| {
            let bad = group.is_empty()
                || group.contains('*')
                || group.chars().any(|c| c.is_whitespace() || c.is_control());
            if bad {
                Err(ApiError::bad_request(
                    codes::INVALID_QUERY,
                    format!(
                        "`syncGroups` lists group names separated by commas, such as `org:org_1,team:red`; `{group}` is not one"
                    ),
                ))
            } else {
                Ok(group.to_owned())
            }
        })
        .collect()
}
