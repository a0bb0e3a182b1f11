//! Stages 2 and 3 of a commit, pure: validate the request against the
//! schema, fix its transaction id and body hash, and check each operation
//! against the credential's capability.

use ablo_runtime::SchemaDescriptor;
use ablo_runtime::wire::{CommitRequest, OperationType};
use sha2::{Digest, Sha256};

use super::CommitError;
use crate::auth::Principal;
use crate::capability::Action;

use super::{PreparedCommit, validate};

/// Stage 2: validates every operation and fixes the transaction id.
pub(crate) fn prepare(
    schema: &SchemaDescriptor,
    principal: &Principal,
    mut request: CommitRequest,
    idempotency_key: Option<String>,
    max_operations: usize,
) -> Result<PreparedCommit, CommitError> {
    let client_tx_id = match (idempotency_key, request.client_tx_id.take()) {
        (Some(header), Some(body)) if header != body => {
            return Err(CommitError::ClientTxIdMismatch);
        }
        (Some(id), _) | (None, Some(id)) => Some(id),
        (None, None) => None,
    };
    if let Some(id) = &client_tx_id
        && (id.is_empty() || id.len() > 256)
    {
        return Err(CommitError::InvalidClientTxId);
    }
    if request.operations.is_empty() || request.operations.len() > max_operations {
        return Err(CommitError::OperationCount {
            max: max_operations,
        });
    }
    let canonical =
        serde_json::to_vec(&serde_json::to_value(&request).expect("request serializes"))
            .expect("json serializes");
    let operations = request
        .operations
        .iter()
        .enumerate()
        .map(|(index, op)| validate::operation(schema, index, op))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PreparedCommit {
        principal_key: principal.idempotency_key(),
        remember: client_tx_id.is_some(),
        client_tx_id: client_tx_id
            .unwrap_or_else(|| format!("tx_{}", uuid::Uuid::now_v7().simple())),
        body_hash: hex::encode(Sha256::digest(&canonical)),
        actor: principal.actor.clone(),
        attribution: super::Attribution::of(principal, request.caused_by_task_id.clone()),
        operations,
        claims: None,
        applied_by_source: false,
    })
}

/// Stage 3: every operation must be among the credential's operations
/// (`model.action`). Sync groups depend on the rows, so they are checked in
/// [`execute`], before and after each write.
pub(crate) fn authorize(principal: &Principal, commit: &PreparedCommit) -> Result<(), CommitError> {
    if principal.is_api_key() {
        return Ok(());
    }
    for op in &commit.operations {
        let action = match op.kind {
            OperationType::Create => Action::Create,
            OperationType::Update => Action::Update,
            OperationType::Delete => Action::Delete,
        };
        principal
            .scope
            .check_operation(&op.model, action)
            .map_err(CommitError::PermissionDenied)?;
    }
    Ok(())
}
