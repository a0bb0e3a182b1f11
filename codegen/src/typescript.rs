//! Renders `ablo.ts`: row interfaces, create inputs, patches, enum unions,
//! nested objects and the schema as a `const`.
//!
//! Field types are taken verbatim from the ts-rs declarations embedded in the
//! descriptor (so `i64` is `number`, `Option<T>` is `T | null`, `Ref<M>` is
//! `string`, `Json` is `JsonValue`); names and optionality come from the
//! descriptor's fields, which the declarations must match.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use ablo_runtime::{EnumDescriptor, FieldDescriptor, ModelDescriptor, SchemaDescriptor};
use serde_json::json;

use crate::CodegenError;
use crate::ts_decl::parse_object_declaration;
use crate::validate::{NameTable, is_identifier};

/// The TypeScript of `Json` fields, the same union ts-rs declares.
const JSON_VALUE: &str = "export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]?: JsonValue } | null;";

pub(crate) fn render(descriptor: &SchemaDescriptor, header: &str) -> Result<String, CodegenError> {
    claim_names(descriptor)?;
    let mut out = String::new();
    writeln!(out, "// {header}").unwrap();
    out.push('\n');
    out.push_str("/** Any JSON value: the type of `Json` fields. */\n");
    out.push_str(JSON_VALUE);
    out.push('\n');
    for en in &descriptor.enums {
        write_enum(&mut out, en);
    }
    let objects: BTreeSet<&str> = descriptor.objects.iter().map(|o| o.name.as_str()).collect();
    for object in &descriptor.objects {
        let types = field_types(
            &format!("object {}", object.name),
            &object.ts,
            &object.fields,
        )?;
        out.push('\n');
        write_doc(&mut out, "", object.doc.as_deref());
        write_interface(
            &mut out,
            &object.name,
            None,
            &object.fields,
            &types,
            Optionality::AsDeclared,
        );
        out.push('\n');
        write_doc(
            &mut out,
            "",
            Some(&format!(
                "`{}` as written in a create or update: optional fields may be left out.",
                object.name
            )),
        );
        write_interface(
            &mut out,
            &format!("{}Input", object.name),
            None,
            &object.fields,
            &input_types(&types, &objects),
            Optionality::OptionalFieldsMayBeOmitted,
        );
    }
    for model in &descriptor.models {
        write_model(&mut out, model, &objects)?;
    }
    write_model_maps(&mut out, descriptor);
    write_schema_const(&mut out, descriptor);
    Ok(out)
}

fn write_enum(out: &mut String, en: &EnumDescriptor) {
    out.push('\n');
    write_doc(out, "", en.doc.as_deref());
    let union = if en.variants.is_empty() {
        "never".to_owned()
    } else {
        en.variants
            .iter()
            .map(|v| quote(v))
            .collect::<Vec<_>>()
            .join(" | ")
    };
    writeln!(out, "export type {} = {union};", en.name).unwrap();
}

/// How the properties of an interface are marked optional (`?`).
#[derive(Clone, Copy)]
enum Optionality {
    /// Every property present (rows, nested objects).
    AsDeclared,
    /// Optional fields may be left out (create inputs).
    OptionalFieldsMayBeOmitted,
    /// Every property may be left out (patches).
    AllMayBeOmitted,
}

fn write_interface(
    out: &mut String,
    name: &str,
    leading: Option<&str>,
    fields: &[FieldDescriptor],
    types: &BTreeMap<String, String>,
    optionality: Optionality,
) {
    writeln!(out, "export interface {name} {{").unwrap();
    if let Some(leading) = leading {
        out.push_str(leading);
    }
    for field in fields {
        write_doc(out, "  ", field.doc.as_deref());
        let omittable = match optionality {
            Optionality::AsDeclared => false,
            Optionality::OptionalFieldsMayBeOmitted => !field.is_required(),
            Optionality::AllMayBeOmitted => true,
        };
        let mark = if omittable { "?" } else { "" };
        writeln!(
            out,
            "  {}{mark}: {};",
            property(&field.name),
            types[&field.name]
        )
        .unwrap();
    }
    out.push_str("}\n");
}

/// The row envelope every model's row interface starts with.
const ROW_ENVELOPE: &str = "  /** The row's id. */\n  id: string;\n  \
/** Sync id of the row's last change. */\n  stamp: number;\n  \
/** When the row was created (RFC 3339, UTC). */\n  createdAt: string;\n  \
/** When the row last changed (RFC 3339, UTC). */\n  updatedAt: string;\n";

/// The field types of a written row: every nested object `X` becomes
/// `XInput`, whose optional fields may be left out.
fn input_types(
    types: &BTreeMap<String, String>,
    objects: &BTreeSet<&str>,
) -> BTreeMap<String, String> {
    types
        .iter()
        .map(|(field, ty)| (field.clone(), with_object_inputs(ty, objects)))
        .collect()
}

/// `ty` with each identifier naming an object suffixed with `Input`
/// (string literals left alone).
fn with_object_inputs(ty: &str, objects: &BTreeSet<&str>) -> String {
    let mut out = String::with_capacity(ty.len());
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let flush = |word: &mut String, out: &mut String| {
        out.push_str(word);
        if objects.contains(word.as_str()) {
            out.push_str("Input");
        }
        word.clear();
    };
    for c in ty.chars() {
        if let Some(open) = quote {
            out.push(c);
            if c == open {
                quote = None;
            }
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            if c == '"' || c == '\'' {
                quote = Some(c);
            }
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn write_model(
    out: &mut String,
    model: &ModelDescriptor,
    objects: &BTreeSet<&str>,
) -> Result<(), CodegenError> {
    let types = field_types(&format!("model {}", model.name), &model.ts, &model.fields)?;
    let written = input_types(&types, objects);
    let name = &model.type_name;
    let wire = &model.name;
    let row_doc = match &model.doc {
        Some(doc) => format!("{doc}\n\nA row of `{wire}`, as the server sends it."),
        None => format!("A row of `{wire}`, as the server sends it."),
    };
    out.push('\n');
    write_doc(out, "", Some(&row_doc));
    write_interface(
        out,
        name,
        Some(ROW_ENVELOPE),
        &model.fields,
        &types,
        Optionality::AsDeclared,
    );

    out.push('\n');
    write_doc(
        out,
        "",
        Some(&format!(
            "The data of a new row of `{wire}`: optional fields may be left out. Without `id` the server chooses one."
        )),
    );
    write_interface(
        out,
        &format!("{name}Input"),
        Some("  id?: string;\n"),
        &model.fields,
        &written,
        Optionality::OptionalFieldsMayBeOmitted,
    );

    out.push('\n');
    write_doc(
        out,
        "",
        Some(&format!(
            "A change to a row of `{wire}`: fields left out keep their value; optional fields accept `null` to clear them."
        )),
    );
    write_interface(
        out,
        &format!("{name}Patch"),
        None,
        &model.fields,
        &written,
        Optionality::AllMayBeOmitted,
    );
    Ok(())
}

/// `Models`, `ModelInputs`, `ModelPatches` and `ModelName`.
fn write_model_maps(out: &mut String, descriptor: &SchemaDescriptor) {
    for (type_name, suffix, doc) in [
        ("Models", "", "Row type of each model, by wire name."),
        (
            "ModelInputs",
            "Input",
            "Create input of each model, by wire name.",
        ),
        (
            "ModelPatches",
            "Patch",
            "Patch type of each model, by wire name.",
        ),
    ] {
        out.push('\n');
        writeln!(out, "/** {doc} */").unwrap();
        writeln!(out, "export interface {type_name} {{").unwrap();
        for model in &descriptor.models {
            writeln!(
                out,
                "  {}: {}{suffix};",
                property(&model.name),
                model.type_name
            )
            .unwrap();
        }
        out.push_str("}\n");
    }
    out.push_str("\n/** The wire name of a model. */\nexport type ModelName = keyof Models;\n");
}

/// The schema as a `const`, typed with [`SCHEMA_TYPES`] so the TypeScript
/// client (`Ablo({ schema })` of `@ablo/client`) types each model handle:
/// `ablo.tasks.update(id, patch)` takes a `TaskPatch` and gives a `Task`.
fn write_schema_const(out: &mut String, descriptor: &SchemaDescriptor) {
    out.push_str(SCHEMA_TYPES);
    let schema = serde_json::to_string_pretty(&schema_const(descriptor)).expect("JSON value");
    writeln!(out, "\nconst schemaData = {schema} as const;").unwrap();
    out.push_str(
        "\n/**\n * The schema: models with their fields in declaration order, enums and nested objects.\n \
         * Pass it to `Ablo({ schema })` of `@ablo/client`; `~types` exists only for the compiler.\n */\n",
    );
    out.push_str(
        "export const schema: typeof schemaData & { readonly \"~types\"?: SchemaTypes } = schemaData;\n",
    );
}

/// The type-only map from each model to its row, input and patch types.
const SCHEMA_TYPES: &str = "\n/** The row, create input and patch type of each model: what the TypeScript client types its model handles with. */\n\
export interface SchemaTypes {\n  models: Models;\n  inputs: ModelInputs;\n  patches: ModelPatches;\n}\n";

fn claim_names(descriptor: &SchemaDescriptor) -> Result<(), CodegenError> {
    let mut names = NameTable::new("TypeScript");
    for builtin in [
        "JsonValue",
        "Models",
        "ModelInputs",
        "ModelPatches",
        "ModelName",
        "SchemaTypes",
        "schema",
    ] {
        names.claim(builtin, "ablo.ts itself")?;
    }
    for en in &descriptor.enums {
        names.claim(&en.name, format!("enum {}", en.name))?;
    }
    for object in &descriptor.objects {
        let owner = format!("object {}", object.name);
        names.claim(&object.name, &owner)?;
        names.claim(&format!("{}Input", object.name), &owner)?;
    }
    for model in &descriptor.models {
        let owner = format!("model {}", model.name);
        names.claim(&model.type_name, &owner)?;
        names.claim(&format!("{}Input", model.type_name), &owner)?;
        names.claim(&format!("{}Patch", model.type_name), &owner)?;
    }
    Ok(())
}

/// The TypeScript type of each field, from the embedded declaration.
fn field_types(
    element: &str,
    ts: &str,
    fields: &[FieldDescriptor],
) -> Result<BTreeMap<String, String>, CodegenError> {
    let (_, properties) = parse_object_declaration(ts).map_err(|problem| {
        CodegenError::invalid(element, format!("its TypeScript declaration: {problem}"))
    })?;
    let types: BTreeMap<String, String> = properties.into_iter().map(|p| (p.name, p.ty)).collect();
    for field in fields {
        if !types.contains_key(&field.name) {
            return Err(CodegenError::invalid(
                element,
                format!(
                    "its TypeScript declaration has no property `{}`",
                    field.name
                ),
            ));
        }
    }
    if let Some(extra) = types
        .keys()
        .find(|name| !fields.iter().any(|f| &f.name == *name))
    {
        return Err(CodegenError::invalid(
            element,
            format!("its TypeScript declaration has property `{extra}`, which is not a field"),
        ));
    }
    Ok(types)
}

fn schema_const(descriptor: &SchemaDescriptor) -> serde_json::Value {
    let fields = |fields: &[FieldDescriptor]| -> Vec<serde_json::Value> {
        fields
            .iter()
            .map(|f| {
                json!({
                    "name": f.name,
                    "type": f.ty,
                    "required": f.is_required(),
                    "indexed": f.indexed,
                })
            })
            .collect()
    };
    let models: serde_json::Map<String, serde_json::Value> = descriptor
        .models
        .iter()
        .map(|m| {
            (
                m.name.clone(),
                json!({
                    "typeName": m.type_name,
                    "syncGroups": m.sync_groups,
                    "fields": fields(&m.fields),
                }),
            )
        })
        .collect();
    let enums: serde_json::Map<String, serde_json::Value> = descriptor
        .enums
        .iter()
        .map(|e| (e.name.clone(), json!(e.variants)))
        .collect();
    let objects: serde_json::Map<String, serde_json::Value> = descriptor
        .objects
        .iter()
        .map(|o| (o.name.clone(), json!({ "fields": fields(&o.fields) })))
        .collect();
    json!({
        "name": descriptor.name,
        "hash": descriptor.hash,
        "modelNames": descriptor.models.iter().map(|m| &m.name).collect::<Vec<_>>(),
        "models": models,
        "enums": enums,
        "objects": objects,
    })
}

fn property(name: &str) -> String {
    if is_identifier(name) {
        name.to_owned()
    } else {
        quote(name)
    }
}

fn quote(text: &str) -> String {
    serde_json::to_string(text).expect("strings serialize")
}

fn write_doc(out: &mut String, indent: &str, doc: Option<&str>) {
    let Some(doc) = doc.map(str::trim).filter(|d| !d.is_empty()) else {
        return;
    };
    let doc = doc.replace("*/", "*\\/");
    let lines: Vec<&str> = doc.lines().collect();
    if lines.len() == 1 {
        writeln!(out, "{indent}/** {} */", lines[0]).unwrap();
        return;
    }
    writeln!(out, "{indent}/**").unwrap();
    for line in lines {
        let line = line.trim_end();
        if line.is_empty() {
            writeln!(out, "{indent} *").unwrap();
        } else {
            writeln!(out, "{indent} * {line}").unwrap();
        }
    }
    writeln!(out, "{indent} */").unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_become_inputs_in_written_types() {
        let objects: BTreeSet<&str> = ["Address", "Item"].into_iter().collect();
        assert_eq!(
            with_object_inputs("Address | null", &objects),
            "AddressInput | null"
        );
        assert_eq!(
            with_object_inputs("Array<Item>", &objects),
            "Array<ItemInput>"
        );
        assert_eq!(with_object_inputs("AddressBook", &objects), "AddressBook");
        assert_eq!(
            with_object_inputs("\"Address\" | Plan", &objects),
            "\"Address\" | Plan"
        );
    }
}
