//! Times `render` and `generate` for a 200-model schema and prints the
//! medians. Run with `cargo bench -p ablo-codegen --bench generate`.

use std::time::{Duration, Instant};

use ablo_runtime::{
    EnumDescriptor, FieldDescriptor, FieldType, ModelDescriptor, SchemaDescriptor, TypeRegistry,
};
use serde_json::json;

const MODELS: usize = 200;
const RUNS: usize = 21;

/// A model with twelve fields of every kind, its ts-rs-style declaration and
/// schemars-style JSON Schema, as `#[ablo::model]` embeds them.
fn model(index: usize) -> ModelDescriptor {
    let name = format!("things{index}");
    let type_name = format!("Thing{index}");
    let other = format!("things{}", (index + 1) % MODELS);
    let fields: Vec<(String, FieldType, &str, serde_json::Value)> = vec![
        (
            "title".into(),
            FieldType::String,
            "string",
            json!({"type": "string"}),
        ),
        (
            "done".into(),
            FieldType::Boolean,
            "boolean",
            json!({"type": "boolean"}),
        ),
        (
            "count".into(),
            FieldType::Integer {
                bits: 64,
                signed: true,
            },
            "number",
            json!({"type": "integer", "format": "int64"}),
        ),
        (
            "ratio".into(),
            FieldType::Float { bits: 64 },
            "number",
            json!({"type": "number", "format": "double"}),
        ),
        (
            "due".into(),
            FieldType::optional(FieldType::Timestamp),
            "string | null",
            json!({"type": ["string", "null"], "format": "date-time"}),
        ),
        ("meta".into(), FieldType::Json, "JsonValue", json!(true)),
        (
            "ext".into(),
            FieldType::Uuid,
            "string",
            json!({"type": "string", "format": "uuid"}),
        ),
        (
            "otherId".into(),
            FieldType::Ref { model: other },
            "string",
            json!({"type": "string", "minLength": 1}),
        ),
        (
            "status".into(),
            FieldType::Enum {
                name: "Status".into(),
            },
            "Status",
            json!({"$ref": "#/$defs/Status"}),
        ),
        (
            "tags".into(),
            FieldType::list(FieldType::String),
            "Array<string>",
            json!({"type": "array", "items": {"type": "string"}}),
        ),
        (
            "note".into(),
            FieldType::optional(FieldType::String),
            "string | null",
            json!({"type": ["string", "null"]}),
        ),
        (
            "small".into(),
            FieldType::Integer {
                bits: 16,
                signed: false,
            },
            "number",
            json!({"type": "integer", "format": "uint16", "minimum": 0}),
        ),
    ];
    let ts = format!(
        "type {type_name} = {{ {} }};",
        fields
            .iter()
            .map(|(n, _, ts, _)| format!("{n}: {ts}, "))
            .collect::<String>()
    );
    let properties: serde_json::Map<_, _> = fields
        .iter()
        .map(|(n, _, _, s)| (n.clone(), s.clone()))
        .collect();
    let required: Vec<String> = fields
        .iter()
        .filter(|(_, ty, _, _)| !matches!(ty, FieldType::Optional { .. }))
        .map(|(n, ..)| n.clone())
        .collect();
    ModelDescriptor {
        name,
        type_name: type_name.clone(),
        doc: Some(format!("Model number {index}.")),
        fields: fields
            .into_iter()
            .map(|(n, ty, _, _)| FieldDescriptor::new(n.clone(), n, ty))
            .collect(),
        sync_groups: vec!["default".into()],
        ts,
        json_schema: json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": type_name,
            "type": "object",
            "properties": properties,
            "required": required,
            "$defs": {"Status": {"type": "string", "enum": ["open", "closed"]}},
        }),
    }
}

fn schema() -> SchemaDescriptor {
    let mut registry = TypeRegistry::default();
    registry.add_enum(EnumDescriptor {
        name: "Status".into(),
        doc: None,
        variants: vec!["open".into(), "closed".into()],
        ts: "type Status = \"open\" | \"closed\";".into(),
        json_schema: json!({"type": "string", "enum": ["open", "closed"]}),
    });
    SchemaDescriptor::build("Bench", (0..MODELS).map(model).collect(), registry)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time<T>(mut run: impl FnMut() -> T) -> Duration {
    let mut samples = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        std::hint::black_box(run());
        samples.push(start.elapsed());
    }
    median(samples)
}

fn main() {
    let descriptor = schema();
    let files = ablo_codegen::render(&descriptor).expect("renders");
    let bytes: usize = files.values().map(String::len).sum();
    println!(
        "schema: {MODELS} models, 12 fields each; output: {} files, {bytes} bytes",
        files.len()
    );

    let render = time(|| ablo_codegen::render(&descriptor).expect("renders"));
    println!("render   median of {RUNS}: {render:?}");

    let out = tempfile::tempdir().expect("temp dir");
    let fresh = time(|| {
        let dir = tempfile::tempdir_in(out.path()).expect("temp dir");
        ablo_codegen::generate(&descriptor, dir.path()).expect("generates")
    });
    println!("generate (empty dir) median of {RUNS}: {fresh:?}");

    ablo_codegen::generate(&descriptor, out.path().join("same")).expect("generates");
    let unchanged =
        time(|| ablo_codegen::generate(&descriptor, out.path().join("same")).expect("generates"));
    println!("generate (up to date) median of {RUNS}: {unchanged:?}");

    let check = time(|| ablo_codegen::check(&descriptor, out.path().join("same")).expect("checks"));
    println!("check    median of {RUNS}: {check:?}");
}
