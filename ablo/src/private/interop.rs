//! What the `ts_rs::TS` and `schemars::JsonSchema` impls of models and
//! objects call. The macros write those impls from the field list they
//! already hold instead of running the ts-rs and schemars derives, which
//! would parse every struct again; the output is the same as theirs for a
//! struct whose fields carry serde renames (the tests crate compares the
//! two on a struct with every field type).

use schemars::{Schema, SchemaGenerator};

/// The TypeScript object type of a struct: each entry is a field's key (its
/// doc comment, if any, then its name) and its TypeScript type.
pub fn ts_object(fields: &[(&str, String)]) -> String {
    let members: Vec<String> = fields
        .iter()
        .map(|(key, ty)| format!("{key}: {ty},"))
        .collect();
    format!("{{ {} }}", members.join(" "))
}

/// `type Name = { ... };`
pub fn ts_declaration(name: &str, inline: &str) -> String {
    format!("type {name} = {inline};")
}

/// The schema a struct's properties are added to.
pub fn json_schema_object() -> Schema {
    schemars::json_schema!({ "type": "object" })
}

/// Adds one field to a struct's schema. An optional field is left out of
/// `required` when the schema describes what may be deserialized.
///
/// `subschema` is the field type's schema and whether it is an `Option`,
/// from `FieldValue::__json_subschema`: asked of schemars, as its own
/// derive asks it, so a type alias of `Option<T>` counts too, and through
/// `FieldValue` so that an unsupported field type fails one trait bound and
/// is reported once, in Ablo's words. The TypeScript side goes through
/// `FieldValue::__ts_name` and `FieldValue::__ts_visit` the same way.
pub fn json_schema_property(
    schema: &mut Schema,
    generator: &mut SchemaGenerator,
    subschema: (Schema, bool),
    key: &str,
    title: &str,
    description: &str,
) {
    let (mut property, is_option) = subschema;
    json_schema_metadata(&mut property, title, description);
    let optional = generator.contract().is_deserialize() && is_option;
    let object = schema.ensure_object();
    if let Some(properties) = object
        .entry("properties")
        .or_insert_with(|| serde_json::Value::Object(Default::default()))
        .as_object_mut()
    {
        properties.insert(key.to_owned(), property.into());
    }
    if !optional
        && let Some(required) = object
            .entry("required")
            .or_insert_with(|| serde_json::Value::Array(Vec::new()))
            .as_array_mut()
    {
        required.push(key.into());
    }
}

/// Sets `title` and `description` from a doc comment, skipping empty ones.
pub fn json_schema_metadata(schema: &mut Schema, title: &str, description: &str) {
    for (key, value) in [("title", title), ("description", description)] {
        if !value.is_empty() {
            schema.insert(key.to_owned(), value.into());
        }
    }
}
