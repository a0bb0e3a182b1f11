//! Changes made outside Ablo: events polled from a source or pushed by it,
//! applied once each (by event id), echoes of Ablo's own commits dropped.

use std::sync::Arc;
use std::time::Duration;

use ablo_runtime::wire::{EventsOutcome, SourceEvent, SourceEvents, SourceRequest};
use ablo_runtime::{Json, SchemaDescriptor, Timestamp};

use super::call::{self, SourceError};
use super::reads::reconcile;
use super::{Source, SourceContext};
use crate::error::ApiError;

/// Events asked for per poll.
const PAGE: usize = 100;

/// Applies pushed `events` of `source` in order.
pub(crate) async fn apply(
    cx: &SourceContext,
    source: &Arc<Source>,
    events: Vec<SourceEvent>,
) -> Result<EventsOutcome, ApiError> {
    let _whole = source.locks.whole().await;
    apply_locked(cx, source, events).await
}

/// [`apply`] for a caller holding the whole source.
async fn apply_locked(
    cx: &SourceContext,
    source: &Arc<Source>,
    events: Vec<SourceEvent>,
) -> Result<EventsOutcome, ApiError> {
    let schema = cx.schema.pushed()?;
    let mut outcome = EventsOutcome::default();
    for event in events {
        let (name, id) = (source.name.clone(), event.id.clone());
        if cx.store.call(move |s| s.event_applied(&name, &id)).await? {
            outcome.duplicates += 1;
            continue;
        }
        match apply_one(cx, &schema, source, &event).await {
            Ok(Applied::Echo) => outcome.echoes += 1,
            Ok(Applied::Changed) => outcome.applied += 1,
            Ok(Applied::Unchanged) => outcome.unchanged += 1,
            Err(problem) => {
                outcome.invalid += 1;
                source.record_attempt(Err(ablo_runtime::wire::SourceFailure {
                    at: Timestamp::now(),
                    request: "events".into(),
                    message: format!("event `{}`: {problem}", event.id),
                }));
            }
        }
        let (name, id) = (source.name.clone(), event.id.clone());
        cx.store
            .call(move |s| s.mark_event_applied(&name, &id))
            .await?;
    }
    Ok(outcome)
}

enum Applied {
    Echo,
    Changed,
    Unchanged,
}

async fn apply_one(
    cx: &SourceContext,
    schema: &SchemaDescriptor,
    source: &Arc<Source>,
    event: &SourceEvent,
) -> Result<Applied, String> {
    if let Some(client_tx_id) = event.client_tx_id.clone()
        && cx
            .store
            .call(move |s| s.is_source_commit(&client_tx_id))
            .await
            .map_err(|e| e.to_string())?
    {
        return Ok(Applied::Echo);
    }
    if !source.backs(&event.model) {
        return Err(format!(
            "model `{}` is not backed by this source",
            event.model
        ));
    }
    let row = match event.kind.to_ascii_lowercase().as_str() {
        "delete" => None,
        "insert" | "create" | "update" | "upsert" => match &event.data {
            Json::Object(row) => {
                let mut row = row.clone();
                row.entry("id")
                    .or_insert_with(|| Json::String(event.entity_id.clone()));
                if row.get("id") != Some(&Json::String(event.entity_id.clone())) {
                    return Err("`data.id` differs from `entityId`".into());
                }
                Some(row)
            }
            _ => return Err("`data` must be the row, an object".into()),
        },
        other => return Err(format!("unknown event type `{other}`")),
    };
    let changed = reconcile(
        cx,
        schema,
        source,
        &event.model,
        vec![(event.entity_id.clone(), row)],
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(if changed > 0 {
        Applied::Changed
    } else {
        Applied::Unchanged
    })
}

/// Polls every source that answers `events`, every `interval`, until the
/// server stops. A full page is followed by the next one at once.
pub(crate) async fn poll(
    cx: SourceContext,
    interval: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.wait_for(|stopping| *stopping) => return,
        }
        if cx.schema.get().is_none() {
            continue;
        }
        for source in cx.sources.all() {
            if source.events_supported() {
                poll_source(&cx, &source).await;
            }
        }
    }
}

async fn poll_source(cx: &SourceContext, source: &Arc<Source>) {
    // A few pages per round at most, so one busy source does not hold up
    // the others.
    for _ in 0..10 {
        // Held from the request to the write: a commit landing meanwhile
        // would otherwise be overwritten by this older answer, and its echo
        // dropped.
        let _whole = source.locks.whole().await;
        let cursor = source.record().events_cursor;
        let request = SourceRequest::Events {
            cursor: cursor.clone(),
            limit: PAGE,
        };
        let page: SourceEvents =
            match call::send(&cx.http, &poll_retry(&cx.retry), source, &request).await {
                Ok(page) => page,
                Err(SourceError::Rejected { .. }) => {
                    source.events_unsupported();
                    return;
                }
                Err(_) => return,
            };
        let full = page.events.len() >= PAGE;
        if let Err(err) = apply_locked(cx, source, page.events).await {
            tracing::warn!(source = %source.name, error = %err.message(), "applying events failed");
            return;
        }
        if page.next_cursor != Json::Null && page.next_cursor != cursor {
            source.set_events_cursor(page.next_cursor.clone());
            let (name, next) = (source.name.clone(), page.next_cursor);
            if let Err(err) = cx
                .store
                .call(move |s| s.put_events_cursor(&name, &next))
                .await
            {
                tracing::warn!(source = %source.name, error = %err, "storing the events cursor failed");
                return;
            }
        }
        if !full {
            return;
        }
    }
}

/// Polls are retried less: the next poll comes soon anyway.
fn poll_retry(retry: &super::call::SourceRetry) -> super::call::SourceRetry {
    super::call::SourceRetry {
        attempts: 1,
        timeout: retry.timeout.min(Duration::from_secs(5)),
        ..*retry
    }
}
