//! Checks a pushed [`SchemaDescriptor`] for consistency and computes a row's
//! sync groups from its model's templates; holds the schema in force
//! ([`SchemaSlot`]).

use std::sync::{Arc, RwLock};

use ablo_runtime::wire::JsonObject;
use ablo_runtime::{Json, SchemaDescriptor};

use crate::error::{ApiError, Refusal};
use crate::store::Store;

/// The schema in force, shared by every part of the server that validates
/// against it; replaced whole when a new schema is pushed.
#[derive(Default)]
pub(crate) struct SchemaSlot(RwLock<Option<Arc<SchemaDescriptor>>>);

impl SchemaSlot {
    /// A slot holding `schema` (the stored one at start, if any).
    pub(crate) fn new(schema: Option<Arc<SchemaDescriptor>>) -> SchemaSlot {
        SchemaSlot(RwLock::new(schema))
    }

    /// The schema in force, if one was pushed.
    pub(crate) fn get(&self) -> Option<Arc<SchemaDescriptor>> {
        self.0.read().expect("schema lock").clone()
    }

    /// Puts `schema` in force.
    pub(crate) fn set(&self, schema: Arc<SchemaDescriptor>) {
        *self.0.write().expect("schema lock") = Some(schema);
    }

    /// The schema in force when it has `model`; else 404
    /// `schema_not_found` (no schema yet) or `model_not_found`.
    pub(crate) fn with_model(&self, model: &str) -> Result<Arc<SchemaDescriptor>, ApiError> {
        let schema = self.get().ok_or_else(|| {
            ApiError::not_found(
                ablo_runtime::wire::codes::SCHEMA_NOT_FOUND,
                "no schema has been pushed yet",
            )
        })?;
        if schema.model(model).is_none() {
            return Err(ApiError::not_found(
                ablo_runtime::wire::codes::MODEL_NOT_FOUND,
                format!("the schema has no model `{model}`"),
            ));
        }
        Ok(schema)
    }

    /// The schema in force, or the 404 `schema_not_found` of a server no
    /// schema has been pushed to.
    pub(crate) fn pushed(&self) -> Result<Arc<SchemaDescriptor>, ApiError> {
        self.get().ok_or_else(|| {
            ApiError::not_found(
                ablo_runtime::wire::codes::SCHEMA_NOT_FOUND,
                "no schema has been pushed yet: PUT /v1/schema first",
            )
        })
    }
}

/// Field names the server sets itself; a model may not declare them (the
/// shared rule, [`ablo_runtime::schema::rules::RESERVED_ROW_FIELDS`]).
///
/// ```
/// assert!(ablo_server::schema::RESERVED_FIELDS.contains(&"stamp"));
/// ```
pub const RESERVED_FIELDS: &[&str] = &ablo_runtime::schema::rules::RESERVED_ROW_FIELDS;

/// The group of a row whose model declares no sync groups (or whose
/// templates all name `null` fields).
///
/// ```
/// assert_eq!(ablo_server::schema::DEFAULT_GROUP, "default");
/// ```
pub const DEFAULT_GROUP: &str = "default";

/// Every problem of a schema, or `Ok` when it can be enforced: the shared
/// rules of [`ablo_runtime::schema::validate_for_push`] (a supported layout,
/// a valid hash, identifier names, no duplicates, no reserved field names,
/// every referenced model, enum and object declared, sync-group templates
/// naming existing fields), each problem as `element: problem`.
///
/// ```
/// use ablo_runtime::{FieldDescriptor, FieldType, ModelDescriptor, SchemaDescriptor, TypeRegistry};
/// let model = ModelDescriptor { name: "tasks".into(), type_name: "Task".into(), doc: None,
///     fields: vec![FieldDescriptor::new("status", "status", FieldType::Enum { name: "Status".into() })],
///     sync_groups: vec!["org:{orgId}".into()], ts: String::new(), json_schema: serde_json::json!({}) };
/// let schema = SchemaDescriptor::build("App", vec![model], TypeRegistry::default());
/// let problems = ablo_server::schema::check(&schema).unwrap_err();
/// assert_eq!(problems.len(), 2, "{problems:?}");
/// ```
pub fn check(schema: &SchemaDescriptor) -> Result<(), Vec<String>> {
    ablo_runtime::schema::validate_for_push(schema)
        .map_err(|problems| problems.iter().map(ToString::to_string).collect())
}

/// Whether a push of `next` over `current` (the schema the server holds, if
/// any) may go ahead: always for a first push or a push that breaks no
/// client (the rules of [`ablo_runtime::schema::diff`]), and for a breaking
/// one only when the push says so (`allow_breaking`, the `allowBreaking`
/// query parameter). Refused: 409 `breaking_schema_change`, its details
/// listing the breaking changes.
///
/// ```
/// use ablo_runtime::{FieldDescriptor, FieldType, ModelDescriptor, SchemaDescriptor, TypeRegistry};
/// let model = |fields| ModelDescriptor { name: "tasks".into(), type_name: "Task".into(), doc: None,
///     fields, sync_groups: vec![], ts: String::new(), json_schema: serde_json::json!({}) };
/// let title = FieldDescriptor::new("title", "title", FieldType::String);
/// let old = SchemaDescriptor::build("App", vec![model(vec![title])], TypeRegistry::default());
/// let new = SchemaDescriptor::build("App", vec![model(vec![])], TypeRegistry::default());
/// let refused = ablo_server::schema::check_push(Some(&old), &new, false).unwrap_err();
/// assert_eq!(refused.code(), "breaking_schema_change");
/// assert_eq!(refused.refusal(), ablo_server::Refusal::Conflict);
/// assert!(ablo_server::schema::check_push(Some(&old), &new, true).is_ok());
/// assert!(ablo_server::schema::check_push(None, &new, false).is_ok());
/// ```
pub fn check_push(
    current: Option<&SchemaDescriptor>,
    next: &SchemaDescriptor,
    allow_breaking: bool,
) -> Result<Vec<ablo_runtime::schema::SchemaChange>, ApiError> {
    let Some(current) = current else {
        return Ok(Vec::new());
    };
    let diff = ablo_runtime::schema::diff(current, next);
    if diff.is_breaking() && !allow_breaking {
        let breaking: Vec<_> = diff.breaking().cloned().collect();
        let list: Vec<String> = breaking.iter().map(ToString::to_string).collect();
        return Err(ApiError::new(
            ablo_runtime::wire::ErrorType::Validation,
            Refusal::Conflict,
            ablo_runtime::wire::codes::BREAKING_SCHEMA_CHANGE,
            format!(
                "the pushed schema would break clients of the schema in force ({}); push again with allowBreaking=true if this is intended",
                list.join("; ")
            ),
        )
        .with_details(serde_json::json!({
            "currentHash": current.hash,
            "hash": next.hash,
            "changes": breaking,
        })));
    }
    Ok(diff.changes)
}

/// The field names a sync-group template uses: `org:{orgId}` → `orgId`
/// ([`ablo_runtime::schema::rules::placeholders`]).
///
/// ```
/// let names: Vec<_> = ablo_server::schema::placeholders("org:{orgId}:team:{teamId}").collect();
/// assert_eq!(names, ["orgId", "teamId"]);
/// ```
pub fn placeholders(template: &str) -> impl Iterator<Item = &str> {
    ablo_runtime::schema::rules::placeholders(template)
}

/// The sync groups of a row of a model with these templates: each template
/// with its placeholders replaced by the row's values; a template naming a
/// `null` or missing field yields no group; no group at all means
/// [`DEFAULT_GROUP`].
///
/// ```
/// use ablo_server::schema::sync_groups;
/// let data = serde_json::json!({"orgId": "org_1", "n": 7}).as_object().unwrap().clone();
/// assert_eq!(sync_groups(&["org:{orgId}".into(), "n:{n}".into()], &data), ["org:org_1", "n:7"]);
/// assert_eq!(sync_groups(&[], &data), ["default"]);
/// ```
pub fn sync_groups(templates: &[String], data: &JsonObject) -> Vec<String> {
    let mut groups: Vec<String> = templates
        .iter()
        .filter_map(|template| render(template, data))
        .collect();
    groups.dedup();
    if groups.is_empty() {
        groups.push(DEFAULT_GROUP.to_owned());
    }
    groups
}

fn render(template: &str, data: &JsonObject) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let (name, after) = rest[start + 1..].split_once('}')?;
        match data.get(name)? {
            Json::Null => return None,
            Json::String(s) => out.push_str(s),
            other => out.push_str(&other.to_string()),
        }
        rest = after;
    }
    out.push_str(rest);
    Some(out)
}

/// `PUT /v1/schema`: checks `schema` ([`check`], then [`check_push`] against
/// the schema in force), stores it when it differs and answers what changed.
pub(crate) async fn push(
    store: &Store,
    slot: &SchemaSlot,
    schema: SchemaDescriptor,
    allow_breaking: bool,
) -> Result<ablo_runtime::wire::SchemaPushResponse, ApiError> {
    use ablo_runtime::wire::codes;
    if let Err(problems) = check(&schema) {
        return Err(ApiError::unprocessable(
            codes::INVALID_SCHEMA,
            format!("the schema cannot be enforced: {}", problems.join("; ")),
        )
        .with_details(serde_json::json!({"problems": problems})));
    }
    let current = slot.get();
    let changes = check_push(current.as_deref(), &schema, allow_breaking)?;
    let changed = current.is_none_or(|current| current.hash != schema.hash);
    if changed {
        let stored = schema.clone();
        store.call(move |s| s.put_schema(&stored)).await?;
        slot.set(Arc::new(schema.clone()));
        tracing::info!(
            hash = %schema.hash,
            models = schema.models.len(),
            breaking = changes.iter().any(|c| c.breaking),
            "schema pushed"
        );
    }
    Ok(ablo_runtime::wire::SchemaPushResponse {
        hash: schema.hash,
        changed,
        changes,
    })
}
