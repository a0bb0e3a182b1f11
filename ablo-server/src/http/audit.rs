//! `GET /v1/audit` (filters and cursor pages), `GET /v1/audit/verify` and
//! `GET /v1/audit/export` (CSV). API keys only.

use ablo_runtime::Timestamp;
use ablo_runtime::wire::codes;
use axum::Json;
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::QueryParams;
use crate::audit::{AuditEntry, verify_chain_against};
use crate::auth::Principal;
use crate::capability::AccessError;
use crate::error::ApiError;
use crate::state::SharedState;
use crate::storage::AuditFilter;

const DEFAULT_LIMIT: usize = 100;
/// Rows read per storage call while exporting.
const EXPORT_PAGE: usize = 1000;

fn require_key(principal: &Principal, what: &str) -> Result<(), ApiError> {
    if principal.is_api_key() {
        Ok(())
    } else {
        Err(ApiError::from(AccessError::api_key_required(what)))
    }
}

fn invalid(message: String) -> ApiError {
    ApiError::bad_request(codes::INVALID_QUERY, message)
}

/// A time as RFC 3339 or milliseconds since the epoch.
fn time_param(query: &QueryParams, name: &str) -> Result<Option<i64>, ApiError> {
    let Some(raw) = query.0.get(name) else {
        return Ok(None);
    };
    if let Ok(ms) = raw.parse::<i64>() {
        return Ok(Some(ms));
    }
    Timestamp::parse(raw)
        .map(|t| Some(t.as_millis()))
        .map_err(|_| {
            invalid(format!(
                "`{name}` must be RFC 3339 or milliseconds: `{raw}`"
            ))
        })
}

fn filter(query: &QueryParams) -> Result<AuditFilter, ApiError> {
    let actor_kind = query.0.get("actorKind").cloned();
    if let Some(kind) = &actor_kind
        && !matches!(kind.as_str(), "user" | "agent" | "system")
    {
        return Err(invalid(format!(
            "`actorKind` must be user, agent or system: `{kind}`"
        )));
    }
    Ok(AuditFilter {
        actor_kind,
        actor_id: query.0.get("actorId").cloned(),
        model: query.0.get("model").cloned(),
        since_ms: time_param(query, "since")?,
        until_ms: time_param(query, "until")?,
    })
}

fn entry_json(position: u64, entry: &AuditEntry) -> Value {
    let mut value = serde_json::to_value(entry).expect("entries serialize");
    value["position"] = json!(position);
    value["at"] = json!(
        Timestamp::from_millis(entry.at_ms)
            .map(|t| t.to_string())
            .unwrap_or_default()
    );
    value
}

pub(super) async fn list(
    State(state): State<SharedState>,
    principal: Principal,
    query: QueryParams,
) -> Result<Json<Value>, ApiError> {
    require_key(&principal, "audit.read")?;
    let filter = filter(&query)?;
    let max = state.config.max_page_size;
    let limit = query
        .parse::<usize>("limit")?
        .unwrap_or(DEFAULT_LIMIT.min(max));
    if limit == 0 || limit > max {
        return Err(invalid(format!("`limit` must be 1 to {max}")));
    }
    let after = query.parse::<u64>("cursor")?.unwrap_or(0);
    let page = state
        .storage(move |s| s.audit_page(&filter, after, limit))
        .await?;
    let next_cursor = (page.len() == limit)
        .then(|| page.last().map(|(position, _)| position.to_string()))
        .flatten();
    Ok(Json(json!({
        "data": page.iter().map(|(p, e)| entry_json(*p, e)).collect::<Vec<_>>(),
        "nextCursor": next_cursor,
    })))
}

pub(super) async fn verify(
    State(state): State<SharedState>,
    principal: Principal,
    query: QueryParams,
) -> Result<Json<Value>, ApiError> {
    require_key(&principal, "audit.read")?;
    let (Some(kind), Some(id)) = (
        query.0.get("principalKind").cloned(),
        query.0.get("principalId").cloned(),
    ) else {
        return Err(invalid(
            "`principalKind` and `principalId` are required".into(),
        ));
    };
    let anchor = match (query.0.get("anchorSeq"), query.0.get("anchorHash")) {
        (None, None) => None,
        (Some(seq), Some(hash)) => Some((
            seq.parse::<u64>().map_err(|_| {
                invalid(format!("`anchorSeq` must be a chain sequence, not `{seq}`"))
            })?,
            hash.clone(),
        )),
        _ => {
            return Err(invalid(
                "`anchorSeq` and `anchorHash` go together (a `lastSeq` and `lastHash` saved from an earlier verify)".into(),
            ));
        }
    };
    let chain = state.storage(move |s| s.audit_chain(&kind, &id)).await?;
    Ok(Json(verify_chain_against(chain, anchor).to_json()))
}

/// The CSV columns, in order.
const CSV_COLUMNS: [&str; 17] = [
    "position",
    "at",
    "actorKind",
    "actorId",
    "onBehalfOfKind",
    "onBehalfOfId",
    "capabilityId",
    "capabilityLabel",
    "taskId",
    "model",
    "action",
    "rowIds",
    "syncId",
    "flagged",
    "changedFields",
    "chainSeq",
    "rowHash",
];

/// One CSV field: quoted when it holds a comma, quote or line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn csv_line(position: u64, e: &AuditEntry) -> String {
    let kind = |k: ablo_runtime::wire::ParticipantKind| k.as_str().to_owned();
    let fields = [
        position.to_string(),
        Timestamp::from_millis(e.at_ms)
            .map(|t| t.to_string())
            .unwrap_or_default(),
        kind(e.actor.kind),
        e.actor.id.clone(),
        e.on_behalf_of
            .as_ref()
            .map(|p| kind(p.kind))
            .unwrap_or_default(),
        e.on_behalf_of
            .as_ref()
            .map(|p| p.id.clone())
            .unwrap_or_default(),
        e.capability_id.clone().unwrap_or_default(),
        e.capability_label.clone().unwrap_or_default(),
        e.task_id.clone().unwrap_or_default(),
        e.model.clone(),
        e.action.clone(),
        e.row_ids.join(" "),
        e.sync_id.to_string(),
        e.flagged.to_string(),
        e.changed_fields.join(" "),
        e.chain_seq.to_string(),
        e.row_hash.clone(),
    ];
    let mut line = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

pub(super) async fn export(
    State(state): State<SharedState>,
    principal: Principal,
    query: QueryParams,
) -> Result<Response, ApiError> {
    require_key(&principal, "audit.read")?;
    let filter = filter(&query)?;
    let mut csv = CSV_COLUMNS.join(",");
    csv.push_str("\r\n");
    let mut after = 0;
    loop {
        let page_filter = filter.clone();
        let page = state
            .storage(move |s| s.audit_page(&page_filter, after, EXPORT_PAGE))
            .await?;
        for (position, entry) in &page {
            csv.push_str(&csv_line(*position, entry));
        }
        match page.last() {
            Some((position, _)) if page.len() == EXPORT_PAGE => after = *position,
            _ => break,
        }
    }
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (CONTENT_DISPOSITION, "attachment; filename=\"audit.csv\""),
        ],
        csv,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_with_separators_are_quoted() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
