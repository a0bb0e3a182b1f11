//! The commit pipeline's async orchestration: authenticate, prepare,
//! authorize, consult intents, claims and Data Sources, then hand the commit
//! to the group-commit writer and wait for its receipt. The stages
//! themselves are in [`crate::commit`] (the core), [`crate::coordination`]
//! (the write gate) and [`crate::sources`] (the Data Source detour); this
//! module is the one place that strings them together, above all of them.

use std::sync::Arc;

use ablo_runtime::wire::{CommitReceipt, CommitRequest, OperationType, codes};

use crate::auth::Principal;
use crate::commit::{ClaimGuard, PreparedCommit, authorize, prepare};
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::StorageError;

/// Runs a commit through the pipeline and returns its receipt (counted and
/// timed in the server's metrics).
pub(crate) async fn run(
    state: &AppState,
    principal: &Principal,
    request: CommitRequest,
    idempotency_key: Option<String>,
) -> Result<CommitReceipt, ApiError> {
    let started = std::time::Instant::now();
    let result = run_stages(state, principal, request, idempotency_key).await;
    let outcome = result.as_ref().map(|_| ()).map_err(ApiError::code);
    state.metrics.commit_done(outcome, started.elapsed());
    result
}

async fn run_stages(
    state: &AppState,
    principal: &Principal,
    request: CommitRequest,
    idempotency_key: Option<String>,
) -> Result<CommitReceipt, ApiError> {
    let schema = state.schema.pushed()?;
    let write_options: Vec<_> = request
        .operations
        .iter()
        .map(|op| (op.if_busy.unwrap_or_default(), op.intent_id.clone()))
        .collect();
    let mut prepared = prepare(
        &schema,
        principal,
        request,
        idempotency_key,
        state.config.max_operations,
    )?;
    authorize(principal, &prepared)?;
    authorize_rows(state, principal, &prepared).await?;
    // Stage 3, intents and claims: `entity_claimed`, `ifBusy`, and the
    // claim holder's guard stamp.
    let writer = principal.participant();
    let guarded =
        crate::coordination::gate(&state.intents, &writer, &mut prepared, &write_options).await?;
    let claims: Arc<dyn ClaimGuard> = Arc::new(crate::coordination::ClaimCheck::new(
        state.intents.clone(),
        writer,
    ));
    prepared.claims = Some(claims);
    let receipt = match crate::sources::commit::backing_source(&state.sources, &prepared)? {
        Some(source) => {
            crate::sources::commit::run(&state.source_context(), &schema, source, prepared).await?
        }
        None => state.committer.submit(prepared).await?,
    };
    crate::coordination::advance_guards(&state.intents, &guarded, receipt.sync_id);
    Ok(receipt)
}

/// Stage 1: the principal a bearer credential acts as.
pub(crate) fn authenticate(
    state: &AppState,
    credential: Option<&str>,
) -> Result<Principal, ApiError> {
    let Some(key) = credential else {
        return Err(ApiError::authentication(
            codes::MISSING_API_KEY,
            "send `Authorization: Bearer <api key>`",
        ));
    };
    let principal = if key.starts_with("cap_") {
        state
            .capabilities
            .principal_for(key)
            .map_err(crate::capability::AccessError::from)?
    } else {
        state.keys.principal_for(key).ok_or_else(|| {
            ApiError::authentication(codes::INVALID_API_KEY, "the API key is not valid")
        })?
    };
    state.rate_limiter.check(&principal)?;
    Ok(principal)
}

/// Stage 3, before intents, claims or a Data Source are consulted: every
/// row an update or delete names must exist within the credential's read
/// scope, so that neither a `busy` nor an `entity_claimed` error, nor a
/// source call, ever concerns a row the caller cannot see. The writer
/// checks again inside the commit's savepoint.
async fn authorize_rows(
    state: &AppState,
    principal: &Principal,
    commit: &PreparedCommit,
) -> Result<(), ApiError> {
    let Some(scope) = commit.attribution.scope.clone() else {
        return Ok(());
    };
    let keys: Vec<(String, String)> = commit
        .operations
        .iter()
        .filter(|op| op.kind != OperationType::Create)
        .map(|op| (op.model.clone(), op.id.clone()))
        .collect();
    if keys.is_empty() || principal.is_api_key() {
        return Ok(());
    }
    let rows = state
        .storage(move |s| {
            keys.into_iter()
                .map(|(model, id)| Ok(((model.clone(), id.clone()), s.row(&model, &id)?.0)))
                .collect::<Result<Vec<_>, StorageError>>()
        })
        .await?;
    for ((model, id), row) in rows {
        if let Some(row) = row
            && !scope.allows_row(&row.sync_groups)
        {
            return Err(crate::error::row_not_found(&model, &id));
        }
    }
    Ok(())
}
