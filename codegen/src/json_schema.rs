//! Renders one JSON Schema (draft 2020-12) per model from the schemars
//! schemas embedded in the descriptor.
//!
//! The root of each file is the row exactly as the server sends it (`id`,
//! `stamp`, `createdAt`, `updatedAt` and every field, no other property);
//! `$defs` holds `<Type>Input` (the `data` of a create request),
//! `<Type>Patch` (the `data` of an update request) and the enums and nested
//! objects the fields use. Sized integers carry their range; 64-bit ones are limited to ±(2^53 − 1), the
//! range JavaScript represents exactly and the server enforces.

use std::collections::BTreeMap;

use ablo_runtime::{ModelDescriptor, SchemaDescriptor};
use serde_json::{Map, Value, json};

use crate::CodegenError;
use crate::json_out::pretty_ordered;
use crate::validate::NameTable;

/// 2^53 − 1, the largest integer JavaScript represents exactly.
pub(crate) const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;

const DEFS_PREFIX: &str = "#/$defs/";

/// The schemas of one model, with references of the form `#/$defs/Name`.
#[derive(Clone)]
pub(crate) struct ModelSchemas {
    pub row: Value,
    pub input: Value,
    pub patch: Value,
    /// Enums and objects the fields use, by name.
    pub defs: BTreeMap<String, Value>,
}

/// The schema of a row's `id`.
pub(crate) fn id_schema() -> Value {
    json!({"type": "string", "minLength": 1, "description": "The row's id."})
}

/// The schema of a sync id (`stamp`, `readAt`, `syncId`).
pub(crate) fn sync_id_schema(description: &str) -> Value {
    json!({"type": "integer", "minimum": 0, "maximum": MAX_SAFE_INTEGER, "description": description})
}

pub(crate) fn model_schemas(
    descriptor: &SchemaDescriptor,
    model: &ModelDescriptor,
) -> Result<ModelSchemas, CodegenError> {
    let element = format!("model {}", model.name);
    let source_properties = model.json_schema["properties"]
        .as_object()
        .expect("validated: properties is an object");
    let mut properties = Map::new();
    for field in &model.fields {
        let mut schema = source_properties.get(&field.name).cloned().ok_or_else(|| {
            CodegenError::invalid(
                &element,
                format!("its JSON Schema has no property `{}`", field.name),
            )
        })?;
        limit_integers(&mut schema);
        properties.insert(field.name.clone(), schema);
    }
    if let Some(extra) = source_properties.keys().find(|k| model.field(k).is_none()) {
        return Err(CodegenError::invalid(
            &element,
            format!("its JSON Schema has property `{extra}`, which is not a field"),
        ));
    }
    let required: Vec<&str> = model
        .fields
        .iter()
        .filter(|f| f.is_required())
        .map(|f| f.name.as_str())
        .collect();

    let mut row_properties = Map::new();
    row_properties.insert("id".into(), id_schema());
    row_properties.insert(
        "stamp".into(),
        sync_id_schema("Sync id of the row's last change."),
    );
    for (name, description) in [
        ("createdAt", "When the row was created (RFC 3339, UTC)."),
        ("updatedAt", "When the row last changed (RFC 3339, UTC)."),
    ] {
        row_properties.insert(
            name.into(),
            json!({"type": "string", "format": "date-time", "description": description}),
        );
    }
    row_properties.extend(properties.clone());
    let mut row_required = vec!["id", "stamp", "createdAt", "updatedAt"];
    row_required.extend(model.fields.iter().map(|f| f.name.as_str()));

    let mut row = json!({
        "title": model.type_name,
        "type": "object",
        "properties": row_properties,
        "required": row_required,
        "additionalProperties": false,
    });
    let mut row_description = format!("A row of `{}`, as the server sends it.", model.name);
    if let Some(doc) = model
        .doc
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        row_description = format!("{doc}\n\n{row_description}");
    }
    row["description"] = Value::String(row_description);

    let input = json!({
        "title": format!("{}Input", model.type_name),
        "description": format!("The `data` of a request creating a row of `{}`: optional fields may be left out.", model.name),
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    });
    let patch = json!({
        "title": format!("{}Patch", model.type_name),
        "description": format!("The `data` of a request updating a row of `{}`: fields left out keep their value; optional fields accept null.", model.name),
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
    });

    let mut defs = BTreeMap::new();
    if let Some(source_defs) = model.json_schema.get("$defs").and_then(Value::as_object) {
        for (name, schema) in source_defs {
            let mut schema = schema.clone();
            limit_integers(&mut schema);
            defs.insert(name.clone(), schema);
        }
    }
    resolve_references(descriptor, &element, [&row, &input, &patch], &mut defs)?;
    // The server refuses unknown keys in nested objects too.
    for (name, schema) in defs.iter_mut() {
        if descriptor.object_named(name).is_some()
            && let Some(map) = schema.as_object_mut()
            && map.contains_key("properties")
        {
            map.entry("additionalProperties")
                .or_insert(Value::Bool(false));
        }
    }
    Ok(ModelSchemas {
        row,
        input,
        patch,
        defs,
    })
}

/// Renders `schemas/<model>.schema.json`.
pub(crate) fn render_model(
    descriptor: &SchemaDescriptor,
    model: &ModelDescriptor,
    schemas: ModelSchemas,
    header: &str,
) -> Result<String, CodegenError> {
    let ModelSchemas {
        row,
        input,
        patch,
        defs,
    } = schemas;
    let mut names = NameTable::new("JSON Schema");
    let mut all_defs = Map::new();
    for (name, schema) in [("Input", input), ("Patch", patch)] {
        let name = format!("{}{name}", model.type_name);
        names.claim(&name, format!("model {}", model.name))?;
        all_defs.insert(name, schema);
    }
    for (name, schema) in defs {
        names.claim(&name, format!("a type used by model {}", model.name))?;
        all_defs.insert(name, schema);
    }
    let Value::Object(mut row) = row else {
        unreachable!("the row schema is an object")
    };
    let mut entries = vec![
        ("$comment", Value::String(header.to_owned())),
        (
            "$schema",
            json!("https://json-schema.org/draft/2020-12/schema"),
        ),
        ("$id", Value::String(schema_id(descriptor, model))),
    ];
    for key in [
        "title",
        "description",
        "type",
        "properties",
        "required",
        "additionalProperties",
    ] {
        entries.push((key, row.remove(key).expect("row schema key")));
    }
    entries.push(("$defs", Value::Object(all_defs)));
    Ok(pretty_ordered(&entries))
}

/// The `$id` of a model's schema file.
pub(crate) fn schema_id(descriptor: &SchemaDescriptor, model: &ModelDescriptor) -> String {
    format!("urn:ablo:{}:{}", descriptor.name, model.name)
}

/// The range of values of a schemars integer format; 64-bit integers are
/// limited to what JavaScript represents exactly.
fn integer_range(format: &str) -> Option<(i64, i64)> {
    Some(match format {
        "int8" => (i8::MIN.into(), i8::MAX.into()),
        "int16" => (i16::MIN.into(), i16::MAX.into()),
        "int32" => (i32::MIN.into(), i32::MAX.into()),
        "int64" => (-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
        "uint8" => (0, u8::MAX.into()),
        "uint16" => (0, u16::MAX.into()),
        "uint32" => (0, u32::MAX.into()),
        "uint64" => (0, MAX_SAFE_INTEGER),
        _ => return None,
    })
}

/// Adds `minimum` and `maximum` to every sized integer schema (schemars
/// gives only a `format` for some), tightening any looser bounds.
fn limit_integers(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            let range = map
                .get("format")
                .and_then(Value::as_str)
                .and_then(integer_range);
            if let Some((floor, ceiling)) = range {
                let minimum = map
                    .get("minimum")
                    .and_then(Value::as_i64)
                    .map_or(floor, |m| m.max(floor));
                let maximum = map
                    .get("maximum")
                    .and_then(Value::as_i64)
                    .map_or(ceiling, |m| m.min(ceiling));
                map.insert("minimum".into(), minimum.into());
                map.insert("maximum".into(), maximum.into());
            }
            map.values_mut().for_each(limit_integers);
        }
        Value::Array(items) => items.iter_mut().for_each(limit_integers),
        _ => {}
    }
}

/// Makes every `#/$defs/Name` reference resolvable, taking missing
/// definitions from the descriptor's enums and objects.
fn resolve_references<'a>(
    descriptor: &SchemaDescriptor,
    element: &str,
    roots: impl IntoIterator<Item = &'a Value>,
    defs: &mut BTreeMap<String, Value>,
) -> Result<(), CodegenError> {
    let mut pending = Vec::new();
    for root in roots {
        collect_refs(root, &mut pending);
    }
    for schema in defs.values() {
        collect_refs(schema, &mut pending);
    }
    while let Some(reference) = pending.pop() {
        let Some(name) = reference.strip_prefix(DEFS_PREFIX) else {
            return Err(CodegenError::invalid(
                element,
                format!(
                    "its JSON Schema uses the reference `{reference}`; only `{DEFS_PREFIX}Name` is supported"
                ),
            ));
        };
        if defs.contains_key(name) {
            continue;
        }
        let source = descriptor
            .enum_named(name)
            .map(|e| &e.json_schema)
            .or_else(|| descriptor.object_named(name).map(|o| &o.json_schema))
            .ok_or_else(|| {
                CodegenError::invalid(
                    element,
                    format!("its JSON Schema refers to `{reference}`, which is neither in its `$defs` nor an enum or object of the descriptor"),
                )
            })?;
        let mut schema = source.clone();
        if let Some(map) = schema.as_object_mut() {
            map.remove("$schema");
            if let Some(Value::Object(nested)) = map.remove("$defs") {
                for (nested_name, nested_schema) in nested {
                    collect_refs(&nested_schema, &mut pending);
                    defs.entry(nested_name).or_insert(nested_schema);
                }
            }
        }
        limit_integers(&mut schema);
        collect_refs(&schema, &mut pending);
        defs.insert(name.to_owned(), schema);
    }
    Ok(())
}

fn collect_refs(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                out.push(reference.clone());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Rewrites `#/$defs/Name` references to `prefix + Name`.
pub(crate) fn rebase_refs(schema: &mut Value, prefix: &str) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get_mut("$ref")
                && let Some(name) = reference.strip_prefix(DEFS_PREFIX)
            {
                *reference = format!("{prefix}{name}");
            }
            map.values_mut().for_each(|v| rebase_refs(v, prefix));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rebase_refs(v, prefix)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int64_is_limited_everywhere() {
        let mut schema = json!({"anyOf": [{"type": "integer", "format": "int64"}, {"items": {"type": "integer", "format": "uint64", "minimum": 0}}]});
        limit_integers(&mut schema);
        assert_eq!(schema["anyOf"][0]["minimum"], -MAX_SAFE_INTEGER);
        assert_eq!(schema["anyOf"][0]["maximum"], MAX_SAFE_INTEGER);
        assert_eq!(schema["anyOf"][1]["items"]["minimum"], 0);
        assert_eq!(schema["anyOf"][1]["items"]["maximum"], MAX_SAFE_INTEGER);
        let mut small = json!({"type": "integer", "format": "int32"});
        limit_integers(&mut small);
        assert_eq!(small["minimum"], i32::MIN);
        assert_eq!(small["maximum"], i32::MAX);
    }

    #[test]
    fn rebases_references() {
        let mut schema = json!({"properties": {"s": {"$ref": "#/$defs/S"}}});
        rebase_refs(&mut schema, "#/components/schemas/");
        assert_eq!(schema["properties"]["s"]["$ref"], "#/components/schemas/S");
    }
}
