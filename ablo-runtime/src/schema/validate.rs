//! [`validate`]: whether a descriptor is consistent enough to be enforced
//! and rendered. The server runs it (with [`validate_for_push`]) on every
//! push and code generation before it renders anything.

use std::collections::HashSet;
use std::fmt;

use super::rules::{self, is_reserved_row_field, is_type_name, is_wire_name};
use super::{FieldDescriptor, FieldType, SCHEMA_FORMAT_VERSION, SchemaDescriptor};

/// One problem of a descriptor: the element at fault and what is wrong.
///
/// ```
/// use ablo_runtime::schema::SchemaProblem;
/// let p = SchemaProblem::new("field tasks.stamp", "reserved");
/// assert_eq!(p.to_string(), "field tasks.stamp: reserved");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SchemaProblem {
    /// The element: `schema App`, `model tasks`, `field tasks.title`,
    /// `enum TaskStatus`, `object Address`.
    pub element: String,
    /// What is wrong with it.
    pub problem: String,
}

impl SchemaProblem {
    /// A problem of `element`.
    ///
    /// ```
    /// let p = ablo_runtime::schema::SchemaProblem::new("model tasks", "declared twice");
    /// assert_eq!(p.element, "model tasks");
    /// ```
    pub fn new(element: impl Into<String>, problem: impl Into<String>) -> Self {
        SchemaProblem {
            element: element.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for SchemaProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.element, self.problem)
    }
}

/// Every structural problem of a descriptor, definitions (enums, objects)
/// before models so a bad name is reported as such rather than as a
/// dangling reference: names that break [`rules`], duplicates, reserved
/// field names, references to undeclared models, enums and objects,
/// unsupported number widths and sync-group templates naming unknown
/// fields. The hash is not checked here (see [`validate_for_push`]).
///
/// ```
/// use ablo_runtime::{FieldDescriptor, FieldType, ModelDescriptor, SchemaDescriptor, TypeRegistry};
/// use ablo_runtime::schema::validate;
/// let model = ModelDescriptor { name: "tasks".into(), type_name: "Task".into(), doc: None,
///     fields: vec![FieldDescriptor::new("stamp", "stamp", FieldType::String)],
///     sync_groups: vec![], ts: String::new(), json_schema: serde_json::json!({}) };
/// let schema = SchemaDescriptor::build("App", vec![model], TypeRegistry::default());
/// let problems = validate(&schema).unwrap_err();
/// assert_eq!(problems[0].element, "field tasks.stamp");
/// assert!(problems[0].problem.contains("reserved"));
/// ```
pub fn validate(schema: &SchemaDescriptor) -> Result<(), Vec<SchemaProblem>> {
    let mut out = Vec::new();
    if !is_type_name(&schema.name) {
        out.push(SchemaProblem::new(
            format!("schema {}", schema.name),
            "the name is not an identifier",
        ));
    }
    let mut enum_names = HashSet::new();
    for en in &schema.enums {
        let element = format!("enum {}", en.name);
        if !is_type_name(&en.name) {
            out.push(SchemaProblem::new(
                &element,
                "the name is not an identifier",
            ));
        }
        if !enum_names.insert(en.name.as_str()) {
            out.push(SchemaProblem::new(&element, "declared twice"));
        }
        let unique: HashSet<_> = en.variants.iter().collect();
        if unique.len() != en.variants.len() {
            out.push(SchemaProblem::new(&element, "a variant is listed twice"));
        }
    }
    let mut object_names = HashSet::new();
    for object in &schema.objects {
        let element = format!("object {}", object.name);
        if !is_type_name(&object.name) {
            out.push(SchemaProblem::new(
                &element,
                "the name is not an identifier",
            ));
        }
        if !object_names.insert(object.name.as_str()) {
            out.push(SchemaProblem::new(&element, "declared twice"));
        }
        check_fields(schema, &object.name, &object.fields, false, &mut out);
    }
    let mut wire_names = HashSet::new();
    let mut type_names = HashSet::new();
    for model in &schema.models {
        let element = format!("model {}", model.name);
        if !is_wire_name(&model.name) {
            out.push(SchemaProblem::new(
                &element,
                format!(
                    "the wire name is not an identifier (ASCII letters, digits and `_`, not starting with a digit, at most {} bytes)",
                    rules::MAX_NAME_LEN
                ),
            ));
        }
        if !is_type_name(&model.type_name) {
            out.push(SchemaProblem::new(
                &element,
                format!("type name `{}` is not an identifier", model.type_name),
            ));
        }
        if !wire_names.insert(model.name.as_str()) {
            out.push(SchemaProblem::new(&element, "declared twice"));
        }
        if !type_names.insert(model.type_name.as_str()) {
            out.push(SchemaProblem::new(
                &element,
                format!("type name `{}` is used by two models", model.type_name),
            ));
        }
        check_fields(schema, &model.name, &model.fields, true, &mut out);
        for template in &model.sync_groups {
            for placeholder in rules::placeholders(template) {
                if model.field(placeholder).is_none() {
                    out.push(SchemaProblem::new(
                        &element,
                        format!("sync group `{template}` names unknown field `{placeholder}`"),
                    ));
                }
            }
        }
    }
    if out.is_empty() { Ok(()) } else { Err(out) }
}

/// [`validate`] plus what a pushed descriptor must also satisfy: the
/// layout version this build reads ([`SCHEMA_FORMAT_VERSION`]) and a hash
/// that matches the content. The server runs this on `PUT /v1/schema`.
///
/// ```
/// use ablo_runtime::{SchemaDescriptor, TypeRegistry};
/// use ablo_runtime::schema::validate_for_push;
/// let mut schema = SchemaDescriptor::build("App", vec![], TypeRegistry::default());
/// assert!(validate_for_push(&schema).is_ok());
/// schema.name = "Edited".into();
/// assert!(validate_for_push(&schema).unwrap_err()[0].problem.contains("hash"));
/// ```
pub fn validate_for_push(schema: &SchemaDescriptor) -> Result<(), Vec<SchemaProblem>> {
    let mut out = Vec::new();
    let element = format!("schema {}", schema.name);
    if schema.format_version != SCHEMA_FORMAT_VERSION {
        out.push(SchemaProblem::new(
            &element,
            format!(
                "formatVersion {} is not supported (expected {SCHEMA_FORMAT_VERSION})",
                schema.format_version
            ),
        ));
    }
    if !schema.hash_is_valid() {
        out.push(SchemaProblem::new(
            &element,
            "hash does not match the descriptor's content",
        ));
    }
    if let Err(problems) = validate(schema) {
        out.extend(problems);
    }
    if out.is_empty() { Ok(()) } else { Err(out) }
}

fn check_fields(
    schema: &SchemaDescriptor,
    owner: &str,
    fields: &[FieldDescriptor],
    is_model: bool,
    out: &mut Vec<SchemaProblem>,
) {
    let mut seen = HashSet::new();
    for field in fields {
        let element = format!("field {owner}.{}", field.name);
        if field.name.is_empty() {
            out.push(SchemaProblem::new(&element, "the wire name is empty"));
            continue;
        }
        if !is_wire_name(&field.name) {
            out.push(SchemaProblem::new(
                &element,
                "the wire name is not an identifier (ASCII letters, digits and `_`, not starting with a digit)",
            ));
        }
        if !seen.insert(field.name.as_str()) {
            out.push(SchemaProblem::new(&element, "declared twice"));
        }
        if is_model && is_reserved_row_field(&field.name) {
            out.push(SchemaProblem::new(
                &element,
                format!(
                    "this name is reserved for the row envelope ({})",
                    rules::reserved_row_fields_text()
                ),
            ));
        }
        check_type(schema, &element, &field.ty, out);
    }
}

fn check_type(
    schema: &SchemaDescriptor,
    element: &str,
    ty: &FieldType,
    out: &mut Vec<SchemaProblem>,
) {
    let problem = match ty {
        FieldType::Enum { name } if schema.enum_named(name).is_none() => {
            format!("uses enum `{name}`, which the descriptor does not list")
        }
        FieldType::Object { name } if schema.object_named(name).is_none() => {
            format!("uses object `{name}`, which the descriptor does not list")
        }
        FieldType::Ref { model } if schema.model(model).is_none() => {
            format!("refers to model `{model}`, which the descriptor does not list")
        }
        FieldType::Integer { bits, .. } if ![8, 16, 32, 64].contains(bits) => {
            format!("integers of {bits} bits are not supported")
        }
        FieldType::Float { bits } if ![32, 64].contains(bits) => {
            format!("floats of {bits} bits are not supported")
        }
        FieldType::List { of } | FieldType::Optional { of } => {
            return check_type(schema, element, of, out);
        }
        _ => return,
    };
    out.push(SchemaProblem::new(element, problem));
}
