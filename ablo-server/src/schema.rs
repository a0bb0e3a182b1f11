//! Checks a pushed [`SchemaDescriptor`] for consistency and computes a row's
//! sync groups from its model's templates.

use std::collections::HashSet;

use ablo_runtime::wire::JsonObject;
use ablo_runtime::{FieldDescriptor, FieldType, Json, SCHEMA_FORMAT_VERSION, SchemaDescriptor};

/// Field names the server sets itself; a model may not declare them.
///
/// ```
/// assert!(ablo_server::schema::RESERVED_FIELDS.contains(&"stamp"));
/// ```
pub const RESERVED_FIELDS: &[&str] = &["id", "stamp", "createdAt", "updatedAt"];

/// The group of a row whose model declares no sync groups (or whose
/// templates all name `null` fields).
///
/// ```
/// assert_eq!(ablo_server::schema::DEFAULT_GROUP, "default");
/// ```
pub const DEFAULT_GROUP: &str = "default";

/// Every problem of a schema, or `Ok` when it can be enforced: a valid hash,
/// model and field names that are identifiers, no duplicates, no reserved
/// field names, every referenced model, enum and object declared, and sync
/// group templates naming existing fields.
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
    let mut problems = Vec::new();
    if schema.format_version != SCHEMA_FORMAT_VERSION {
        problems.push(format!(
            "formatVersion {} is not supported (expected {SCHEMA_FORMAT_VERSION})",
            schema.format_version
        ));
    }
    if !schema.hash_is_valid() {
        problems.push("hash does not match the descriptor's content".to_owned());
    }
    let mut model_names = HashSet::new();
    for model in &schema.models {
        if !is_identifier(&model.name) {
            problems.push(format!("model name `{}` is not an identifier", model.name));
        }
        if !model_names.insert(model.name.as_str()) {
            problems.push(format!("model `{}` is declared twice", model.name));
        }
        check_fields(
            schema,
            &format!("model `{}`", model.name),
            &model.fields,
            &mut problems,
        );
        for template in &model.sync_groups {
            for placeholder in placeholders(template) {
                if model.field(placeholder).is_none() {
                    problems.push(format!(
                        "model `{}`: sync group `{template}` names unknown field `{placeholder}`",
                        model.name
                    ));
                }
            }
        }
    }
    for object in &schema.objects {
        check_fields(
            schema,
            &format!("object `{}`", object.name),
            &object.fields,
            &mut problems,
        );
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn check_fields(
    schema: &SchemaDescriptor,
    owner: &str,
    fields: &[FieldDescriptor],
    problems: &mut Vec<String>,
) {
    let mut names = HashSet::new();
    for field in fields {
        if !is_identifier(&field.name) {
            problems.push(format!(
                "{owner}: field name `{}` is not an identifier",
                field.name
            ));
        }
        if RESERVED_FIELDS.contains(&field.name.as_str()) {
            problems.push(format!("{owner}: field name `{}` is reserved", field.name));
        }
        if !names.insert(field.name.as_str()) {
            problems.push(format!("{owner}: field `{}` is declared twice", field.name));
        }
        check_type(schema, owner, &field.name, &field.ty, problems);
    }
}

fn check_type(
    schema: &SchemaDescriptor,
    owner: &str,
    field: &str,
    ty: &FieldType,
    problems: &mut Vec<String>,
) {
    match ty {
        FieldType::Ref { model } if schema.model(model).is_none() => problems.push(format!(
            "{owner}: field `{field}` references unknown model `{model}`"
        )),
        FieldType::Enum { name } if schema.enum_named(name).is_none() => problems.push(format!(
            "{owner}: field `{field}` uses undeclared enum `{name}`"
        )),
        FieldType::Object { name } if schema.object_named(name).is_none() => problems.push(
            format!("{owner}: field `{field}` uses undeclared object `{name}`"),
        ),
        FieldType::Integer { bits, .. } if ![8, 16, 32, 64].contains(bits) => problems.push(
            format!("{owner}: field `{field}` has unsupported integer width {bits}"),
        ),
        FieldType::Float { bits } if ![32, 64].contains(bits) => problems.push(format!(
            "{owner}: field `{field}` has unsupported float width {bits}"
        )),
        FieldType::List { of } | FieldType::Optional { of } => {
            check_type(schema, owner, field, of, problems)
        }
        _ => {}
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64
}

/// The field names a sync-group template uses: `org:{orgId}` → `orgId`.
///
/// ```
/// let names: Vec<_> = ablo_server::schema::placeholders("org:{orgId}:team:{teamId}").collect();
/// assert_eq!(names, ["orgId", "teamId"]);
/// ```
pub fn placeholders(template: &str) -> impl Iterator<Item = &str> {
    template
        .split('{')
        .skip(1)
        .filter_map(|part| part.split_once('}').map(|(name, _)| name))
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
