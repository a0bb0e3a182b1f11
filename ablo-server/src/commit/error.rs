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

use super::validate::MAX_JSON_DEPTH;

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
}

/// One problem with a field of an operation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldProblem {
    /// What is wrong.
    pub kind: FieldProblemKind,
    /// The field's path (`title`, `meta.tags[2]`); empty for the operation
    /// as a whole.
    pub field: String,
    /// The problem in words.
    pub message: String,
}

/// The kinds of [`FieldProblem`], each with its error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldProblemKind {
    /// The model or object has no such field, or the server sets it.
    Unknown,
    /// A create lacks a required field.
    MissingRequired,
    /// A required field is set to null.
    NullRequired,
    /// The value is not of the field's type.
    InvalidValue,
}

impl FieldProblemKind {
    /// The problem's error code.
    pub(crate) fn code(self) -> &'static str {
        match self {
            FieldProblemKind::Unknown => codes::UNKNOWN_FIELD,
            FieldProblemKind::MissingRequired => codes::MISSING_REQUIRED_FIELD,
            FieldProblemKind::NullRequired => codes::NULL_REQUIRED_FIELD,
            FieldProblemKind::InvalidValue => codes::INVALID_FIELD_VALUE,
        }
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
            CommitError::PermissionDenied(reason) => crate::capability::denied(reason),
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
    use super::*;

    fn mapped(err: CommitError) -> ApiError {
        ApiError::from(err)
    }

    fn assert_maps(err: CommitError, kind: ErrorType, refusal: Refusal, code: &str) -> ApiError {
        let api = mapped(err);
        assert_eq!(
            (api.kind(), api.refusal(), api.code()),
            (kind, refusal, code)
        );
        api
    }

    fn problem(kind: FieldProblemKind, field: &str) -> FieldProblem {
        FieldProblem {
            kind,
            field: field.into(),
            message: format!("{field} is wrong"),
        }
    }

    #[test]
    fn request_shape_errors_are_malformed_or_invalid() {
        for err in [
            CommitError::ClientTxIdMismatch,
            CommitError::InvalidClientTxId,
        ] {
            let api = assert_maps(
                err,
                ErrorType::Validation,
                Refusal::Malformed,
                codes::INVALID_REQUEST,
            );
            assert!(api.details().is_none());
        }
        let api = assert_maps(
            CommitError::OperationCount { max: 10 },
            ErrorType::Validation,
            Refusal::Invalid,
            codes::INVALID_COMMIT,
        );
        assert!(api.details().is_none());
    }

    #[test]
    fn operation_errors_name_the_operation() {
        let api = assert_maps(
            CommitError::UnknownModel {
                operation_index: 2,
                model: "nope".into(),
            },
            ErrorType::Validation,
            Refusal::Invalid,
            codes::UNKNOWN_MODEL,
        );
        assert_eq!(
            api.details(),
            Some(&json!({"operationIndex": 2, "model": "nope"}))
        );
        for err in [
            CommitError::InvalidId {
                operation_index: 1,
                reason: "bad".into(),
            },
            CommitError::MissingId {
                operation_index: 1,
                kind: OperationType::Delete,
            },
        ] {
            let api = assert_maps(
                err,
                ErrorType::Validation,
                Refusal::Invalid,
                codes::INVALID_ID,
            );
            assert_eq!(api.details(), Some(&json!({"operationIndex": 1})));
        }
        let api = assert_maps(
            CommitError::NestingTooDeep {
                operation_index: 0,
                depth: 40,
            },
            ErrorType::Validation,
            Refusal::Malformed,
            codes::NESTING_TOO_DEEP,
        );
        assert_eq!(
            api.details(),
            Some(&json!({"operationIndex": 0, "maxDepth": MAX_JSON_DEPTH}))
        );
    }

    #[test]
    fn field_problems_take_the_first_problems_code_and_list_every_one() {
        for kind in [
            FieldProblemKind::Unknown,
            FieldProblemKind::MissingRequired,
            FieldProblemKind::NullRequired,
            FieldProblemKind::InvalidValue,
        ] {
            let api = assert_maps(
                CommitError::InvalidFields {
                    operation_index: 3,
                    model: "tasks".into(),
                    problems: vec![problem(kind, "a"), problem(FieldProblemKind::Unknown, "b")],
                },
                ErrorType::Validation,
                Refusal::Invalid,
                kind.code(),
            );
            let details = api.details().unwrap();
            assert_eq!(details["operationIndex"], 3);
            assert_eq!(details["model"], "tasks");
            assert_eq!(details["problems"][0]["code"], kind.code());
            assert_eq!(details["problems"][0]["field"], "a");
            assert_eq!(details["problems"][1]["code"], codes::UNKNOWN_FIELD);
        }
        assert_eq!(FieldProblemKind::Unknown.code(), "unknown_field");
        assert_eq!(
            FieldProblemKind::MissingRequired.code(),
            "missing_required_field"
        );
        assert_eq!(FieldProblemKind::NullRequired.code(), "null_required_field");
        assert_eq!(FieldProblemKind::InvalidValue.code(), "invalid_field_value");
    }

    #[test]
    fn permission_denied_names_the_operation_or_group() {
        let api = assert_maps(
            CommitError::PermissionDenied(ScopeDenied::Operation {
                operation: "tasks.delete".into(),
            }),
            ErrorType::Permission,
            Refusal::Forbidden,
            crate::capability::codes::CAPABILITY_SCOPE_DENIED,
        );
        assert_eq!(api.details(), Some(&json!({"operation": "tasks.delete"})));
        let api = assert_maps(
            CommitError::PermissionDenied(ScopeDenied::SyncGroup {
                group: "org:b".into(),
            }),
            ErrorType::Permission,
            Refusal::Forbidden,
            crate::capability::codes::CAPABILITY_SCOPE_DENIED,
        );
        assert_eq!(api.details(), Some(&json!({"syncGroup": "org:b"})));
    }

    #[test]
    fn row_errors_name_the_row() {
        let row = json!({"model": "tasks", "id": "t1"});
        let api = assert_maps(
            CommitError::RowNotFound {
                model: "tasks".into(),
                id: "t1".into(),
            },
            ErrorType::NotFound,
            Refusal::NotFound,
            codes::ROW_NOT_FOUND,
        );
        assert_eq!(api.details(), Some(&row));
        let api = assert_maps(
            CommitError::RowExists {
                model: "tasks".into(),
                id: "t1".into(),
            },
            ErrorType::Idempotency,
            Refusal::Conflict,
            codes::ROW_EXISTS,
        );
        assert_eq!(api.details(), Some(&row));
    }

    #[test]
    fn stale_carries_the_current_row_and_stamp() {
        let details = StaleDetails {
            model: "tasks".into(),
            id: "t1".into(),
            operation_index: 1,
            read_at: SyncId(3),
            stamp: SyncId(5),
            current: json!({"id": "t1", "title": "now"}),
            conflicting_fields: vec!["title".into()],
        };
        let api = assert_maps(
            CommitError::Stale(Box::new(details.clone())),
            ErrorType::StaleContext,
            Refusal::Conflict,
            codes::STALE_CONTEXT,
        );
        assert_eq!(api.details(), Some(&serde_json::to_value(details).unwrap()));
    }

    #[test]
    fn idempotency_and_task_errors() {
        let api = assert_maps(
            CommitError::IdempotencyConflict {
                client_tx_id: "tx1".into(),
                sync_id: SyncId(7),
            },
            ErrorType::Idempotency,
            Refusal::Conflict,
            codes::IDEMPOTENCY_CONFLICT,
        );
        assert_eq!(
            api.details(),
            Some(&json!({"clientTxId": "tx1", "syncId": 7}))
        );
        let api = assert_maps(
            CommitError::TaskNotFound {
                task_id: "run1".into(),
            },
            ErrorType::NotFound,
            Refusal::NotFound,
            crate::capability::codes::TASK_NOT_FOUND,
        );
        assert_eq!(api.details(), Some(&json!({"taskId": "run1"})));
        let api = assert_maps(
            CommitError::TaskClosed {
                task_id: "run1".into(),
                status: "completed".into(),
            },
            ErrorType::Idempotency,
            Refusal::Conflict,
            crate::capability::codes::TASK_CLOSED,
        );
        assert_eq!(
            api.details(),
            Some(&json!({"taskId": "run1", "status": "completed"}))
        );
    }

    #[test]
    fn claims_and_intents_in_the_way_are_conflicts() {
        let claimed = assert_maps(
            CommitError::EntityClaimed {
                model: "tasks".into(),
                id: "t1".into(),
                operation_index: 0,
                intents: Vec::new(),
            },
            ErrorType::EntityClaimed,
            Refusal::Conflict,
            codes::ENTITY_CLAIMED,
        );
        let busy = assert_maps(
            CommitError::Busy {
                model: "tasks".into(),
                id: "t1".into(),
                operation_index: 0,
                intents: Vec::new(),
            },
            ErrorType::Busy,
            Refusal::Conflict,
            codes::BUSY,
        );
        let expected = json!({"model": "tasks", "id": "t1", "operationIndex": 0, "intents": []});
        assert_eq!(claimed.details(), Some(&expected));
        assert_eq!(busy.details(), Some(&expected));
    }
}
