//! `GET /v1/sync/deltas`: catch-up from the sync log, in order, paged.

use ablo_runtime::SyncId;
use ablo_runtime::wire::{DeltasPage, codes};
use axum::Json;
use axum::extract::State;

use super::QueryParams;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::SharedState;

/// The default number of deltas per page.
const DEFAULT_LIMIT: usize = 500;

pub(super) async fn deltas(
    State(state): State<SharedState>,
    principal: Principal,
    query: QueryParams,
) -> Result<Json<DeltasPage>, ApiError> {
    let after = SyncId(query.parse::<u64>("after")?.unwrap_or(0));
    let max = state.config.max_page_size;
    let limit = query
        .parse::<usize>("limit")?
        .unwrap_or(DEFAULT_LIMIT.min(max));
    if limit == 0 || limit > max {
        return Err(ApiError::bad_request(
            codes::INVALID_QUERY,
            format!("`limit` must be 1 to {max}"),
        ));
    }
    let max_bytes = state.config.max_page_bytes;
    let page = state
        .storage(move |s| s.deltas_after(after, limit, max_bytes))
        .await?;
    if page.floor > after {
        return Err(snapshot_required(after, page.floor));
    }
    let next_after = page.deltas.last().map(|d| d.sync_id).unwrap_or(after);
    Ok(Json(DeltasPage {
        data: page
            .deltas
            .iter()
            .filter_map(|delta| crate::capability::delta_view(Some(&principal), None, delta))
            .map(std::borrow::Cow::into_owned)
            .collect(),
        stamp: page.head,
        next_after,
        has_more: page.has_more,
    }))
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
