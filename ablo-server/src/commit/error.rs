//! [`CommitError`]: every way a commit is refused, with the data the refusal
//! names. The commit core, the write gate and the Data Source detour raise
//! it; it becomes the wire envelope ([`ApiError`]) only where a caller
//! answers, through the one `From` impl below. Its `Display` is the
//! envelope's message.

use ablo_runtime::SyncId;
use ablo_runtime::wire::{ErrorType, Intent, OperationType, StaleDetails, codes};
use serde_json::json;

use crate::capability::ScopeDenied;
use crate::error::{ApiError, Refusal};

use super::validate::{FieldProblem, MAX_JSON_DEPTH};

/// Why a commit is refused. Nothing of it is applied.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum CommitError {
    /// The `Idempotency-Key` header and the body's `clientTxId` differ.
    #[error("the Idempotency-Key header and clientTxId differ")]
    ClientTxIdMismatch,
    /// The `clientTxId` is empty or longer than 256 characters.
    #[error("clientTxId must be 1 to 256 characters")]
    InvalidClientTxId,
    /// The commit has no operations, or more than the server allows.
    #[error("a commit needs 1 to {max} operations")]
    OperationCount {
        /// The most operations a commit may have.
        max: usize,
    },
    /// An operation names a model the schema does not have.
    #[error("operations[{operation_index}]: the schema has no model `{model}`")]
    UnknownModel {
        /// The operation (0-based).
        operation_index: usize,
        /// The model it names.
        model: String,
    },
    /// An operation's id is not a valid row id.
    #[error("operations[{operation_index}]: {reason}")]
    InvalidId {
        /// The operation (0-based).
        operation_index: usize,
        /// What is wrong with the id.
        reason: String,
    },
    /// An update or delete without an id.
    #[error("operations[{operation_index}]: {} needs an `id`", kind_name(*.kind))]
    MissingId {
        /// The operation (0-based).
        operation_index: usize,
        /// Its type.
        kind: OperationType,
    },
    /// A field value nests arrays and objects deeper than [`MAX_JSON_DEPTH`].
    #[error(
        "operations[{operation_index}]: a field value is nested {depth} levels deep; at most {MAX_JSON_DEPTH} are allowed"
    )]
    NestingTooDeep {
        /// The operation (0-based).
        operation_index: usize,
        /// How deep the value nests.
        depth: usize,
    },
    /// Fields of an operation are unknown, missing or of the wrong type.
    /// The first problem gives the error its code.
    #[error("operations[{operation_index}]: {}", summary(problems))]
    InvalidFields {
        /// The operation (0-based).
        operation_index: usize,
        /// The operation's model.
        model: String,
        /// Every problem found, never empty.
        problems: Vec<FieldProblem>,
    },
    /// The credential does not allow the operation or the sync group.
    #[error("{0}")]
    PermissionDenied(ScopeDenied),
    /// The row does not exist, or is outside the credential's sync groups
    /// (the two are answered alike).
    #[error("no row {model}/{id}")]
    RowNotFound {
        /// The row's model.
        model: String,
        /// The row's id.
        id: String,
    },
    /// A create of a row that already exists.
    #[error("a row {model}/{id} already exists")]
    RowExists {
        /// The row's model.
        model: String,
        /// The row's id.
        id: String,
    },
    /// The row changed after the operation's `readAt`; carries the current
    /// row and its stamp.
    #[error("{}", crate::error::stale_message(.0))]
    Stale(Box<StaleDetails>),
    /// The `clientTxId` was already used with a different body.
    #[error("clientTxId `{client_tx_id}` was already used with a different body")]
    IdempotencyConflict {
        /// The reused id.
        client_tx_id: String,
        /// The sync id of the commit that first used it.
        sync_id: SyncId,
    },
    /// `causedByTaskId` names no agent run.
    #[error("no task `{task_id}`")]
    TaskNotFound {
        /// The id named.
        task_id: String,
    },
    /// `causedByTaskId` names an agent run that is no longer open.
    #[error("task `{task_id}` is already {status}")]
    TaskClosed {
        /// The id named.
        task_id: String,
        /// The run's status.
        status: String,
    },
    /// The write names an intent (`intentId`) that is not active: released,
    /// lapsed or still waiting.
    #[error("intent {} is not active (released, lapsed or still waiting)", .0.intent_id)]
    IntentNotActive(IntentWrite),
    /// The write names another participant's intent.
    #[error("intent {} belongs to another participant", .0.intent_id)]
    NotIntentHolder(IntentWrite),
    /// The write names an intent on another row.
    #[error("intent {} is on another row", .0.intent_id)]
    IntentOnAnotherRow(IntentWrite),
    /// Another participant holds a claim covering the write.
    #[error("{model}/{id} is claimed by another participant")]
    EntityClaimed {
        /// The row's model.
        model: String,
        /// The row's id.
        id: String,
        /// The operation (0-based).
        operation_index: usize,
        /// The claims in the way.
        intents: Vec<Intent>,
    },
    /// Another participant's intent covers the write (`ifBusy: fail`, or
    /// `wait` that timed out).
    #[error("another participant is working on {model}/{id}")]
    Busy {
        /// The row's model.
        model: String,
        /// The row's id.
        id: String,
        /// The operation (0-based).
        operation_index: usize,
        /// The intents in the way.
        intents: Vec<Intent>,
    },
    /// The commit mixes models of different backing stores (Ablo-managed
    /// and a Data Source, or two sources), so it could not be applied
    /// all-or-nothing.
    #[error(
        "a commit may not mix models of different backing stores (Ablo-managed or a Data Source); split it"
    )]
    MixedSources,
}

/// A write made under an intent: which intent, and the operation and row
/// it was named for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IntentWrite {
    /// The intent named by `intentId`.
    pub intent_id: String,
    /// The operation (0-based).
    pub operation_index: usize,
    /// The written row's model.
    pub model: String,
    /// The written row's id.
    pub id: String,
}

impl IntentWrite {
    fn details(&self) -> serde_json::Value {
        json!({
            "intentId": self.intent_id, "operationIndex": self.operation_index,
            "model": self.model, "id": self.id
        })
    }
}

fn kind_name(kind: OperationType) -> &'static str {
    match kind {
        OperationType::Create => "create",
        OperationType::Update => "update",
        OperationType::Delete => "delete",
    }
}

fn summary(problems: &[FieldProblem]) -> String {
    let first = problems.first().map_or("", |p| p.message.as_str());
    match problems.len() {
        0 | 1 => first.to_owned(),
        n => format!("{first} (and {} more problems)", n - 1),
    }
}

impl From<CommitError> for ApiError {
    fn from(err: CommitError) -> Self {
        let message = err.to_string();
        match err {
            CommitError::ClientTxIdMismatch | CommitError::InvalidClientTxId => {
                ApiError::bad_request(codes::INVALID_REQUEST, message)
            }
            CommitError::OperationCount { .. } => {
                ApiError::unprocessable(codes::INVALID_COMMIT, message)
            }
            CommitError::UnknownModel {
                operation_index,
                model,
            } => ApiError::unprocessable(codes::UNKNOWN_MODEL, message)
                .with_details(json!({"operationIndex": operation_index, "model": model})),
            CommitError::InvalidId {
                operation_index, ..
            }
            | CommitError::MissingId {
                operation_index, ..
            } => ApiError::unprocessable(codes::INVALID_ID, message)
                .with_details(json!({"operationIndex": operation_index})),
            CommitError::NestingTooDeep {
                operation_index, ..
            } => ApiError::bad_request(codes::NESTING_TOO_DEEP, message).with_details(
                json!({"operationIndex": operation_index, "maxDepth": MAX_JSON_DEPTH}),
            ),
            CommitError::InvalidFields {
                operation_index,
                model,
                problems,
            } => {
                let code = problems
                    .first()
                    .map_or(codes::INVALID_FIELD_VALUE, |p| p.kind.code());
                let listed: Vec<_> = problems
                    .iter()
                    .map(|p| json!({"code": p.kind.code(), "field": p.field, "message": p.message}))
                    .collect();
                ApiError::unprocessable(code, message).with_details(json!({
                    "operationIndex": operation_index, "model": model, "problems": listed
                }))
            }
            CommitError::PermissionDenied(reason) => {
                crate::capability::AccessError::ScopeDenied(reason).into()
            }
            CommitError::RowNotFound { model, id } => crate::error::row_not_found(&model, &id),
            CommitError::RowExists { model, id } => {
                ApiError::idempotency(codes::ROW_EXISTS, message)
                    .with_details(json!({"model": model, "id": id}))
            }
            CommitError::Stale(details) => ApiError::stale(*details),
            CommitError::IdempotencyConflict {
                client_tx_id,
                sync_id,
            } => ApiError::idempotency(codes::IDEMPOTENCY_CONFLICT, message)
                .with_details(json!({"clientTxId": client_tx_id, "syncId": sync_id})),
            CommitError::TaskNotFound { task_id } => {
                ApiError::not_found(crate::capability::codes::TASK_NOT_FOUND, message)
                    .with_details(json!({"taskId": task_id}))
            }
            CommitError::TaskClosed { task_id, status } => {
                ApiError::idempotency(crate::capability::codes::TASK_CLOSED, message)
                    .with_details(json!({"taskId": task_id, "status": status}))
            }
            CommitError::IntentNotActive(write) => {
                ApiError::not_found(codes::INTENT_NOT_FOUND, message).with_details(write.details())
            }
            CommitError::NotIntentHolder(write) => ApiError::new(
                ErrorType::Permission,
                Refusal::Forbidden,
                codes::NOT_INTENT_HOLDER,
                message,
            )
            .with_details(write.details()),
            CommitError::IntentOnAnotherRow(write) => {
                ApiError::unprocessable(codes::INVALID_REQUEST, message)
                    .with_details(write.details())
            }
            CommitError::MixedSources => ApiError::unprocessable(codes::MIXED_SOURCES, message),
            CommitError::EntityClaimed {
                model,
                id,
                operation_index,
                intents,
            } => ApiError::new(
                ErrorType::EntityClaimed,
                Refusal::Conflict,
                codes::ENTITY_CLAIMED,
                message,
            )
            .with_details(json!({
                "model": model, "id": id, "operationIndex": operation_index, "intents": intents
            })),
            CommitError::Busy {
                model,
                id,
                operation_index,
                intents,
            } => ApiError::new(ErrorType::Busy, Refusal::Conflict, codes::BUSY, message)
                .with_details(json!({
                    "model": model, "id": id, "operationIndex": operation_index, "intents": intents
                })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::validate::FieldProblemKind;
    use super::*;
    use crate::capability::codes as cap;
    use ErrorType as T;
    use Refusal as R;

    fn row(model: &str, id: &str) -> (String, String) {
        (model.to_owned(), id.to_owned())
    }

    /// Each variant's type, refusal and code, and its details (`None`: the
    /// envelope has none).
    fn expectations() -> Vec<(CommitError, T, R, &'static str, Option<serde_json::Value>)> {
        let (model, id) = row("tasks", "t1");
        let stale = StaleDetails {
            model: model.clone(),
            id: id.clone(),
            operation_index: 1,
            read_at: SyncId(3),
            stamp: SyncId(5),
            current: json!({"id": "t1", "title": "now"}),
            conflicting_fields: vec!["title".into()],
        };
        let write = IntentWrite {
            intent_id: "int_1".into(),
            operation_index: 1,
            model: model.clone(),
            id: id.clone(),
        };
        let write_details =
            json!({"intentId": "int_1", "operationIndex": 1, "model": "tasks", "id": "t1"});
        let in_the_way = json!({"model": "tasks", "id": "t1", "operationIndex": 0, "intents": []});
        let the_row = json!({"model": "tasks", "id": "t1"});
        vec![
            (
                CommitError::ClientTxIdMismatch,
                T::Validation,
                R::Malformed,
                codes::INVALID_REQUEST,
                None,
            ),
            (
                CommitError::InvalidClientTxId,
                T::Validation,
                R::Malformed,
                codes::INVALID_REQUEST,
                None,
            ),
            (
                CommitError::OperationCount { max: 10 },
                T::Validation,
                R::Invalid,
                codes::INVALID_COMMIT,
                None,
            ),
            (
                CommitError::UnknownModel {
                    operation_index: 2,
                    model: "nope".into(),
                },
                T::Validation,
                R::Invalid,
                codes::UNKNOWN_MODEL,
                Some(json!({"operationIndex": 2, "model": "nope"})),
            ),
            (
                CommitError::InvalidId {
                    operation_index: 1,
                    reason: "bad".into(),
                },
                T::Validation,
                R::Invalid,
                codes::INVALID_ID,
                Some(json!({"operationIndex": 1})),
            ),
            (
                CommitError::MissingId {
                    operation_index: 1,
                    kind: OperationType::Delete,
                },
                T::Validation,
                R::Invalid,
                codes::INVALID_ID,
                Some(json!({"operationIndex": 1})),
            ),
            (
                CommitError::NestingTooDeep {
                    operation_index: 0,
                    depth: 40,
                },
                T::Validation,
                R::Malformed,
                codes::NESTING_TOO_DEEP,
                Some(json!({"operationIndex": 0, "maxDepth": MAX_JSON_DEPTH})),
            ),
            (
                CommitError::PermissionDenied(ScopeDenied::Operation {
                    operation: "tasks.delete".into(),
                }),
                T::Permission,
                R::Forbidden,
                cap::CAPABILITY_SCOPE_DENIED,
                Some(json!({"operation": "tasks.delete"})),
            ),
            (
                CommitError::PermissionDenied(ScopeDenied::SyncGroup {
                    group: "org:b".into(),
                }),
                T::Permission,
                R::Forbidden,
                cap::CAPABILITY_SCOPE_DENIED,
                Some(json!({"syncGroup": "org:b"})),
            ),
            (
                CommitError::RowNotFound {
                    model: model.clone(),
                    id: id.clone(),
                },
                T::NotFound,
                R::NotFound,
                codes::ROW_NOT_FOUND,
                Some(the_row.clone()),
            ),
            (
                CommitError::RowExists {
                    model: model.clone(),
                    id: id.clone(),
                },
                T::Idempotency,
                R::Conflict,
                codes::ROW_EXISTS,
                Some(the_row),
            ),
            (
                CommitError::Stale(Box::new(stale.clone())),
                T::StaleContext,
                R::Conflict,
                codes::STALE_CONTEXT,
                Some(serde_json::to_value(stale).unwrap()),
            ),
            (
                CommitError::IdempotencyConflict {
                    client_tx_id: "tx1".into(),
                    sync_id: SyncId(7),
                },
                T::Idempotency,
                R::Conflict,
                codes::IDEMPOTENCY_CONFLICT,
                Some(json!({"clientTxId": "tx1", "syncId": 7})),
            ),
            (
                CommitError::TaskNotFound {
                    task_id: "run1".into(),
                },
                T::NotFound,
                R::NotFound,
                cap::TASK_NOT_FOUND,
                Some(json!({"taskId": "run1"})),
            ),
            (
                CommitError::TaskClosed {
                    task_id: "run1".into(),
                    status: "completed".into(),
                },
                T::Idempotency,
                R::Conflict,
                cap::TASK_CLOSED,
                Some(json!({"taskId": "run1", "status": "completed"})),
            ),
            (
                CommitError::IntentNotActive(write.clone()),
                T::NotFound,
                R::NotFound,
                codes::INTENT_NOT_FOUND,
                Some(write_details.clone()),
            ),
            (
                CommitError::NotIntentHolder(write.clone()),
                T::Permission,
                R::Forbidden,
                codes::NOT_INTENT_HOLDER,
                Some(write_details.clone()),
            ),
            (
                CommitError::IntentOnAnotherRow(write),
                T::Validation,
                R::Invalid,
                codes::INVALID_REQUEST,
                Some(write_details),
            ),
            (
                CommitError::EntityClaimed {
                    model: model.clone(),
                    id: id.clone(),
                    operation_index: 0,
                    intents: Vec::new(),
                },
                T::EntityClaimed,
                R::Conflict,
                codes::ENTITY_CLAIMED,
                Some(in_the_way.clone()),
            ),
            (
                CommitError::Busy {
                    model,
                    id,
                    operation_index: 0,
                    intents: Vec::new(),
                },
                T::Busy,
                R::Conflict,
                codes::BUSY,
                Some(in_the_way),
            ),
            (
                CommitError::MixedSources,
                T::Validation,
                R::Invalid,
                codes::MIXED_SOURCES,
                None,
            ),
        ]
    }

    #[test]
    fn each_variant_maps_to_its_code_type_refusal_and_details() {
        for (err, kind, refusal, code, details) in expectations() {
            let name = format!("{err:?}");
            let api = ApiError::from(err);
            assert_eq!(
                (api.kind(), api.refusal(), api.code()),
                (kind, refusal, code),
                "{name}"
            );
            assert_eq!(api.details(), details.as_ref(), "{name}");
        }
    }

    #[test]
    fn field_problems_take_the_first_problems_code_and_list_every_one() {
        let problem = |kind, field: &str| FieldProblem {
            kind,
            field: field.into(),
            message: "wrong".into(),
        };
        for (kind, code) in [
            (FieldProblemKind::Unknown, "unknown_field"),
            (FieldProblemKind::MissingRequired, "missing_required_field"),
            (FieldProblemKind::NullRequired, "null_required_field"),
            (FieldProblemKind::InvalidValue, "invalid_field_value"),
        ] {
            let api = ApiError::from(CommitError::InvalidFields {
                operation_index: 3,
                model: "tasks".into(),
                problems: vec![
                    problem(kind, "a"),
                    problem(FieldProblemKind::Unknown, "b.c"),
                ],
            });
            assert_eq!(
                (api.kind(), api.refusal(), api.code()),
                (T::Validation, R::Invalid, code)
            );
            let details = api.details().unwrap();
            assert_eq!(
                (&details["operationIndex"], &details["model"]),
                (&json!(3), &json!("tasks"))
            );
            let listed: Vec<_> = details["problems"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p["code"].as_str().unwrap(), p["field"].as_str().unwrap()))
                .collect();
            assert_eq!(listed, [(code, "a"), (codes::UNKNOWN_FIELD, "b.c")]);
        }
    }
}
