//! Consistency checks on a descriptor before anything is rendered, so a
//! descriptor that contradicts itself fails with one clear error instead of
//! producing output that does not compile.

use std::collections::BTreeSet;

use ablo_runtime::{FieldDescriptor, FieldType, SchemaDescriptor};

use crate::CodegenError;

/// Wire names every row carries; a model field may not reuse them.
pub(crate) const ROW_ENVELOPE_FIELDS: [&str; 4] = ["id", "stamp", "createdAt", "updatedAt"];

/// Checks names, references between models, enums and objects, and that every
/// model and object carries its ts-rs declaration and JSON Schema.
pub(crate) fn validate(descriptor: &SchemaDescriptor) -> Result<(), CodegenError> {
    // The name goes into `$id` URIs and the TypeScript header.
    if !is_identifier(&descriptor.name) {
        return Err(CodegenError::invalid(
            format!("schema {}", descriptor.name),
            "the name is not an identifier",
        ));
    }
    // Definitions first, so a bad name is reported as such rather than as
    // a dangling reference from a field.
    for en in &descriptor.enums {
        if !is_identifier(&en.name) {
            return Err(CodegenError::invalid(
                format!("enum {}", en.name),
                "the name is not an identifier",
            ));
        }
        let unique: BTreeSet<_> = en.variants.iter().collect();
        if unique.len() != en.variants.len() {
            return Err(CodegenError::invalid(
                format!("enum {}", en.name),
                "a variant is listed twice",
            ));
        }
    }
    for object in &descriptor.objects {
        let element = format!("object {}", object.name);
        if !is_identifier(&object.name) {
            return Err(CodegenError::invalid(
                element,
                "the name is not an identifier",
            ));
        }
        require_declarations(&element, &object.ts, &object.json_schema)?;
        check_fields(descriptor, &object.name, &object.fields, false)?;
    }
    let mut wire_names = BTreeSet::new();
    let mut type_names = BTreeSet::new();
    for model in &descriptor.models {
        let element = format!("model {}", model.name);
        if model.name.is_empty()
            || !model
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(CodegenError::invalid(
                element,
                "a wire name may use only ASCII letters, digits, `_` and `-`",
            ));
        }
        if !is_identifier(&model.type_name) {
            return Err(CodegenError::invalid(
                element,
                format!("type name `{}` is not an identifier", model.type_name),
            ));
        }
        if !wire_names.insert(model.name.as_str()) {
            return Err(CodegenError::invalid(element, "declared twice"));
        }
        if !type_names.insert(model.type_name.as_str()) {
            return Err(CodegenError::invalid(
                element,
                format!("type name `{}` is used by two models", model.type_name),
            ));
        }
        require_declarations(&element, &model.ts, &model.json_schema)?;
        check_fields(descriptor, &model.name, &model.fields, true)?;
    }
    Ok(())
}

fn require_declarations(
    element: &str,
    ts: &str,
    json_schema: &serde_json::Value,
) -> Result<(), CodegenError> {
    if ts.trim().is_empty() {
        return Err(CodegenError::invalid(
            element,
            "has no TypeScript declaration (`ts` is empty); build the descriptor with `#[ablo::model]`/`#[ablo::object]`",
        ));
    }
    if !json_schema
        .get("properties")
        .is_some_and(serde_json::Value::is_object)
    {
        return Err(CodegenError::invalid(
            element,
            "its JSON Schema (`jsonSchema`) has no `properties` object",
        ));
    }
    Ok(())
}

fn check_fields(
    descriptor: &SchemaDescriptor,
    owner: &str,
    fields: &[FieldDescriptor],
    is_model: bool,
) -> Result<(), CodegenError> {
    let mut seen = BTreeSet::new();
    for field in fields {
        let element = format!("field {owner}.{}", field.name);
        if field.name.is_empty() {
            return Err(CodegenError::invalid(element, "the wire name is empty"));
        }
        if !seen.insert(field.name.as_str()) {
            return Err(CodegenError::invalid(element, "declared twice"));
        }
        if is_model && ROW_ENVELOPE_FIELDS.contains(&field.name.as_str()) {
            return Err(CodegenError::invalid(
                element,
                "this name is reserved for the row envelope (id, stamp, createdAt, updatedAt)",
            ));
        }
        check_type(descriptor, &element, &field.ty)?;
    }
    Ok(())
}

fn check_type(
    descriptor: &SchemaDescriptor,
    element: &str,
    ty: &FieldType,
) -> Result<(), CodegenError> {
    match ty {
        FieldType::Enum { name } if descriptor.enum_named(name).is_none() => {
            Err(CodegenError::invalid(
                element,
                format!("uses enum `{name}`, which the descriptor does not list"),
            ))
        }
        FieldType::Object { name } if descriptor.object_named(name).is_none() => {
            Err(CodegenError::invalid(
                element,
                format!("uses object `{name}`, which the descriptor does not list"),
            ))
        }
        FieldType::Ref { model } if descriptor.model(model).is_none() => {
            Err(CodegenError::invalid(
                element,
                format!("refers to model `{model}`, which the descriptor does not list"),
            ))
        }
        FieldType::Integer { bits, .. } if ![8, 16, 32, 64].contains(bits) => {
            Err(CodegenError::invalid(
                element,
                format!("integers of {bits} bits are not supported"),
            ))
        }
        FieldType::Float { bits } if ![32, 64].contains(bits) => Err(CodegenError::invalid(
            element,
            format!("floats of {bits} bits are not supported"),
        )),
        FieldType::List { of } | FieldType::Optional { of } => check_type(descriptor, element, of),
        _ => Ok(()),
    }
}

/// Whether `name` is a TypeScript (and Rust) identifier in ASCII.
pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// The names one output file declares, to report collisions clearly.
pub(crate) struct NameTable {
    output: &'static str,
    owners: std::collections::BTreeMap<String, String>,
}

impl NameTable {
    pub(crate) fn new(output: &'static str) -> Self {
        NameTable {
            output,
            owners: Default::default(),
        }
    }

    /// Records that `owner` declares `name`; fails if another owner did.
    pub(crate) fn claim(
        &mut self,
        name: &str,
        owner: impl Into<String>,
    ) -> Result<(), CodegenError> {
        let owner = owner.into();
        if let Some(first) = self.owners.get(name) {
            return Err(CodegenError::NameCollision {
                output: self.output,
                name: name.to_owned(),
                first: first.clone(),
                second: owner,
            });
        }
        self.owners.insert(name.to_owned(), owner);
        Ok(())
    }
}
