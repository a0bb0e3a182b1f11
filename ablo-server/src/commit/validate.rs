//! Validation of commit operations against the pushed schema: models, ids,
//! fields, and every value against its [`FieldType`]. Values come back
//! normalized (timestamps in UTC with milliseconds, UUIDs lowercase).

use ablo_runtime::wire::{JsonObject, OnStale, Operation, OperationType, codes};
use ablo_runtime::{FieldDescriptor, FieldType, Json, SchemaDescriptor, SyncId, Timestamp, Uuid};

use super::CommitError;
use crate::schema::RESERVED_FIELDS;

/// The largest magnitude a 64-bit integer field accepts: JavaScript's
/// `Number.MAX_SAFE_INTEGER`, so every client reads the exact value.
pub(crate) const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// The longest row id accepted.
pub(crate) const MAX_ID_LEN: usize = 256;

/// An operation that passed validation.
#[derive(Clone, Debug)]
pub(crate) struct PreparedOperation {
    pub kind: OperationType,
    pub model: String,
    pub id: String,
    /// Normalized fields; for `create`, every field of the model (absent
    /// optional fields as `null`).
    pub data: JsonObject,
    pub read_at: Option<SyncId>,
    pub on_stale: OnStale,
    pub sync_group_templates: Vec<String>,
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

/// The deepest nesting of arrays and objects a field value may have: a
/// stored row and its receipt must always be readable back, whatever a
/// client sends.
pub(crate) const MAX_JSON_DEPTH: usize = 32;

/// How deeply `value` nests arrays and objects (a scalar is 0).
fn json_depth(value: &Json) -> usize {
    // Iterative, so a hostile value cannot exhaust the stack here either.
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Json>> = match value {
            Json::Array(items) => Box::new(items.iter()),
            Json::Object(fields) => Box::new(fields.values()),
            _ => continue,
        };
        deepest = deepest.max(depth + 1);
        stack.extend(children.map(|child| (child, depth + 1)));
    }
    deepest
}

/// Validates operation `index` of a commit.
pub(crate) fn operation(
    schema: &SchemaDescriptor,
    index: usize,
    op: &Operation,
) -> Result<PreparedOperation, CommitError> {
    let Some(model) = schema.model(&op.model) else {
        return Err(CommitError::UnknownModel {
            operation_index: index,
            model: op.model.clone(),
        });
    };
    let id = match (&op.id, op.kind) {
        (Some(id), _) => check_id(id).map_err(|reason| CommitError::InvalidId {
            operation_index: index,
            reason,
        })?,
        (None, OperationType::Create) => uuid::Uuid::now_v7().to_string(),
        (None, kind) => {
            return Err(CommitError::MissingId {
                operation_index: index,
                kind,
            });
        }
    };
    if let Some(data) = &op.data {
        let depth = data.values().map(json_depth).max().unwrap_or(0);
        if depth > MAX_JSON_DEPTH {
            return Err(CommitError::NestingTooDeep {
                operation_index: index,
                depth,
            });
        }
    }
    let mut problems = Vec::new();
    let mut data = JsonObject::new();
    match op.kind {
        OperationType::Delete => {
            if op.data.as_ref().is_some_and(|d| !d.is_empty()) {
                problems.push(FieldProblem {
                    kind: FieldProblemKind::Unknown,
                    field: String::new(),
                    message: "a delete takes no `data`".into(),
                });
            }
        }
        OperationType::Create | OperationType::Update => {
            let given = op.data.clone().unwrap_or_default();
            for (name, value) in given {
                match model.field(&name) {
                    Some(field) => {
                        if let Some(v) =
                            check_value(schema, &field.ty, &value, &name, &mut problems)
                        {
                            data.insert(name, v);
                        }
                    }
                    None if RESERVED_FIELDS.contains(&name.as_str()) => {
                        problems.push(FieldProblem {
                            kind: FieldProblemKind::Unknown,
                            message: format!("`{name}` is set by the server and cannot be written"),
                            field: name,
                        })
                    }
                    None => problems.push(FieldProblem {
                        kind: FieldProblemKind::Unknown,
                        message: format!("model `{}` has no field `{name}`", model.name),
                        field: name,
                    }),
                }
            }
            if op.kind == OperationType::Create {
                fill_missing(&model.fields, &mut data, "", &mut problems);
            }
        }
    }
    if !problems.is_empty() {
        return Err(CommitError::InvalidFields {
            operation_index: index,
            model: model.name.clone(),
            problems,
        });
    }
    Ok(PreparedOperation {
        kind: op.kind,
        model: model.name.clone(),
        id,
        data,
        read_at: op.read_at,
        on_stale: op.on_stale.unwrap_or_default(),
        sync_group_templates: model.sync_groups.clone(),
    })
}

/// An id must be non-empty, at most [`MAX_ID_LEN`] bytes, without control
/// characters or `/` (ids appear in URL paths).
pub(crate) fn check_id(id: &str) -> Result<String, String> {
    if id.is_empty() {
        return Err("an id must not be empty".into());
    }
    if id.len() > MAX_ID_LEN {
        return Err(format!("an id must be at most {MAX_ID_LEN} bytes"));
    }
    if id.chars().any(|c| c.is_control() || c == '/') {
        return Err("an id must not contain control characters or `/`".into());
    }
    Ok(id.to_owned())
}

/// Required fields missing from a `create` are problems; missing optional
/// ones become `null`.
fn fill_missing(
    fields: &[FieldDescriptor],
    data: &mut JsonObject,
    prefix: &str,
    problems: &mut Vec<FieldProblem>,
) {
    for field in fields {
        if data.contains_key(&field.name) {
            continue;
        }
        if field.is_required() {
            problems.push(FieldProblem {
                kind: FieldProblemKind::MissingRequired,
                field: format!("{prefix}{}", field.name),
                message: format!("required field `{prefix}{}` is missing", field.name),
            });
        } else {
            data.insert(field.name.clone(), Json::Null);
        }
    }
}

/// Checks `value` against `ty`; returns the normalized value, or records a
/// problem and returns `None`.
fn check_value(
    schema: &SchemaDescriptor,
    ty: &FieldType,
    value: &Json,
    path: &str,
    problems: &mut Vec<FieldProblem>,
) -> Option<Json> {
    let mut wrong = |expected: String| {
        let (kind, message) = if value.is_null() {
            (
                FieldProblemKind::NullRequired,
                format!("field `{path}` is required and cannot be null"),
            )
        } else {
            (
                FieldProblemKind::InvalidValue,
                format!("field `{path}` expects {expected}, got {}", describe(value)),
            )
        };
        problems.push(FieldProblem {
            kind,
            field: path.to_owned(),
            message,
        });
        None
    };
    match (ty, value) {
        (FieldType::Optional { .. }, Json::Null) => Some(Json::Null),
        (FieldType::Optional { of }, _) => check_value(schema, of, value, path, problems),
        (FieldType::String, Json::String(_)) | (FieldType::Boolean, Json::Bool(_)) => {
            Some(value.clone())
        }
        (FieldType::Json, _) => Some(value.clone()),
        (FieldType::Integer { bits, signed }, Json::Number(n)) => {
            let (min, max) = integer_range(*bits, *signed);
            match n.as_i64() {
                Some(i) if i >= min && i <= max => Some(value.clone()),
                _ => wrong(format!("an integer from {min} to {max}")),
            }
        }
        (FieldType::Float { bits }, Json::Number(n)) => {
            let f = n.as_f64().unwrap_or(f64::INFINITY);
            if *bits == 32 && f.abs() > f64::from(f32::MAX) {
                wrong("a number within the 32-bit float range".into())
            } else {
                Some(value.clone())
            }
        }
        (FieldType::Timestamp, Json::String(text)) => match Timestamp::parse(text) {
            Ok(t) => Some(Json::String(t.to_string())),
            Err(_) => wrong("an RFC 3339 timestamp".into()),
        },
        (FieldType::Uuid, Json::String(text)) => match Uuid::parse_str(text) {
            Ok(u) => Some(Json::String(u.hyphenated().to_string())),
            Err(_) => wrong("a UUID".into()),
        },
        (FieldType::Ref { model }, Json::String(id)) => match check_id(id) {
            Ok(_) => Some(value.clone()),
            Err(_) => wrong(format!("the id of a `{model}` row")),
        },
        (FieldType::Enum { name }, Json::String(text)) => {
            let variants = schema
                .enum_named(name)
                .map(|e| e.variants.as_slice())
                .unwrap_or_default();
            if variants.iter().any(|v| v == text) {
                Some(value.clone())
            } else {
                wrong(format!("one of {}", variants.join(", ")))
            }
        }
        (FieldType::List { of }, Json::Array(items)) => {
            let before = problems.len();
            let checked: Vec<Json> = items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| {
                    check_value(schema, of, item, &format!("{path}[{i}]"), problems)
                })
                .collect();
            (problems.len() == before).then_some(Json::Array(checked))
        }
        (FieldType::Object { name }, Json::Object(given)) => {
            let object = schema.object_named(name)?;
            let before = problems.len();
            let mut checked = JsonObject::new();
            for (key, inner) in given {
                match object.fields.iter().find(|f| &f.name == key) {
                    Some(field) => {
                        if let Some(v) = check_value(
                            schema,
                            &field.ty,
                            inner,
                            &format!("{path}.{key}"),
                            problems,
                        ) {
                            checked.insert(key.clone(), v);
                        }
                    }
                    None => problems.push(FieldProblem {
                        kind: FieldProblemKind::Unknown,
                        field: format!("{path}.{key}"),
                        message: format!("object `{name}` has no field `{key}` (at `{path}`)"),
                    }),
                }
            }
            fill_missing(&object.fields, &mut checked, &format!("{path}."), problems);
            (problems.len() == before).then_some(Json::Object(checked))
        }
        (ty, _) => wrong(expected_name(ty)),
    }
}

fn integer_range(bits: u8, signed: bool) -> (i64, i64) {
    match (bits, signed) {
        (64, true) => (-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
        (64, false) => (0, MAX_SAFE_INTEGER),
        (bits, true) => (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1),
        (bits, false) => (0, (1i64 << bits) - 1),
    }
}

fn expected_name(ty: &FieldType) -> String {
    match ty {
        FieldType::String => "a string".into(),
        FieldType::Boolean => "a boolean".into(),
        FieldType::Integer { .. } => "an integer".into(),
        FieldType::Float { .. } => "a number".into(),
        FieldType::Timestamp => "an RFC 3339 timestamp".into(),
        FieldType::Json => "any JSON".into(),
        FieldType::Uuid => "a UUID".into(),
        FieldType::Ref { model } => format!("the id of a `{model}` row"),
        FieldType::Enum { name } => format!("a `{name}` value"),
        FieldType::Object { name } => format!("a `{name}` object"),
        FieldType::List { of } => format!("a list of {}", expected_name(of)),
        FieldType::Optional { of } => format!("{} or null", expected_name(of)),
    }
}

fn describe(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_ranges_follow_width_and_javascript_limits() {
        assert_eq!(integer_range(8, true), (-128, 127));
        assert_eq!(integer_range(16, false), (0, 65535));
        assert_eq!(integer_range(64, true).1, 9_007_199_254_740_991);
    }
}
