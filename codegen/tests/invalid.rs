//! Descriptors that contradict themselves fail `render` with a typed error
//! naming the element at fault, instead of producing broken output.

mod common;

use ablo_codegen::CodegenError;
use ablo_runtime::{FieldType, ModelDescriptor, SchemaDescriptor};

fn tasks(schema: &mut SchemaDescriptor) -> &mut ModelDescriptor {
    schema
        .models
        .iter_mut()
        .find(|m| m.name == "tasks")
        .unwrap()
}

/// Applies `edit` to the test schema and returns the render error's message.
fn render_error(edit: impl FnOnce(&mut SchemaDescriptor)) -> (CodegenError, String) {
    let mut schema = common::tracker_schema();
    edit(&mut schema);
    let err = ablo_codegen::render(&schema).expect_err("render must fail");
    let message = err.to_string();
    (err, message)
}

fn assert_invalid(edit: impl FnOnce(&mut SchemaDescriptor), element: &str, problem: &str) {
    let (err, message) = render_error(edit);
    match &err {
        CodegenError::InvalidDescriptor {
            element: e,
            problem: p,
        } => {
            assert_eq!(e, element, "{message}");
            assert!(p.contains(problem), "{message}");
        }
        other => panic!("expected InvalidDescriptor, got {other:?}"),
    }
}

#[test]
fn unknown_enum_object_and_model_references() {
    assert_invalid(
        |s| s.enums.retain(|e| e.name != "Priority"),
        "field tasks.priority",
        "uses enum `Priority`",
    );
    assert_invalid(
        |s| s.objects.retain(|o| o.name != "Address"),
        "field projects.office",
        "uses object `Address`",
    );
    assert_invalid(
        |s| s.models.retain(|m| m.name != "projects"),
        "field tasks.projectId",
        "refers to model `projects`",
    );
}

#[test]
fn reserved_and_duplicate_field_names() {
    assert_invalid(
        |s| tasks(s).fields[0].name = "stamp".into(),
        "field tasks.stamp",
        "reserved for the row envelope",
    );
    assert_invalid(
        |s| {
            let copy = tasks(s).fields[0].clone();
            tasks(s).fields.push(copy);
        },
        "field tasks.title",
        "declared twice",
    );
}

#[test]
fn bad_names_and_sizes() {
    assert_invalid(
        |s| tasks(s).type_name = "Task Item".into(),
        "model tasks",
        "is not an identifier",
    );
    assert_invalid(
        |s| tasks(s).name = "tasks/v2".into(),
        "model tasks/v2",
        "wire name",
    );
    assert_invalid(
        |s| {
            tasks(s).fields[6].ty = FieldType::Integer {
                bits: 128,
                signed: true,
            }
        },
        "field tasks.points",
        "128 bits",
    );
    assert_invalid(
        |s| s.enums[0].variants.push("low".into()),
        "enum Priority",
        "listed twice",
    );
    assert_invalid(
        |s| {
            let mut copy = tasks(s).clone();
            copy.name = "todos".into();
            s.models.push(copy);
        },
        "model todos",
        "type name `Task` is used by two models",
    );
}

#[test]
fn bad_enum_object_and_field_names() {
    assert_invalid(
        |s| s.name = "My App".into(),
        "schema My App",
        "not an identifier",
    );
    assert_invalid(
        |s| s.enums[0].name = "task-status".into(),
        "enum task-status",
        "not an identifier",
    );
    assert_invalid(
        |s| s.objects[0].name = "1Address".into(),
        "object 1Address",
        "not an identifier",
    );
    assert_invalid(
        |s| tasks(s).fields[1].name.clear(),
        "field tasks.",
        "wire name is empty",
    );
    assert_invalid(
        |s| tasks(s).fields[12].ty = FieldType::Float { bits: 16 },
        "field tasks.score",
        "floats of 16 bits",
    );
    assert_invalid(
        |s| {
            tasks(s).fields[8].ty = FieldType::list(FieldType::Enum {
                name: "Missing".into(),
            })
        },
        "field tasks.tags",
        "uses enum `Missing`",
    );
}

#[test]
fn missing_or_mismatched_typescript_declarations() {
    assert_invalid(
        |s| tasks(s).ts.clear(),
        "model tasks",
        "no TypeScript declaration",
    );
    assert_invalid(
        |s| tasks(s).ts = tasks(s).ts.replace("score: number,", ""),
        "model tasks",
        "has no property `score`",
    );
    assert_invalid(
        |s| {
            tasks(s).ts = tasks(s)
                .ts
                .replace("score: number,", "score: number, extra: string,")
        },
        "model tasks",
        "property `extra`, which is not a field",
    );
    assert_invalid(
        |s| tasks(s).ts = "type Task = string;".into(),
        "model tasks",
        "not a plain object type",
    );
    assert_invalid(
        |s| s.objects[0].ts = s.objects[0].ts.replace("city: string,", ""),
        "object Address",
        "has no property `city`",
    );
}

#[test]
fn missing_or_mismatched_json_schemas() {
    assert_invalid(
        |s| tasks(s).json_schema = serde_json::json!({}),
        "model tasks",
        "no `properties`",
    );
    assert_invalid(
        |s| {
            tasks(s).json_schema["properties"]
                .as_object_mut()
                .unwrap()
                .remove("score");
        },
        "model tasks",
        "JSON Schema has no property `score`",
    );
    assert_invalid(
        |s| tasks(s).json_schema["properties"]["extra"] = serde_json::json!({"type": "string"}),
        "model tasks",
        "property `extra`, which is not a field",
    );
    assert_invalid(
        |s| {
            tasks(s).json_schema["properties"]["status"] =
                serde_json::json!({"$ref": "#/$defs/Nowhere"})
        },
        "model tasks",
        "refers to `#/$defs/Nowhere`",
    );
    assert_invalid(
        |s| {
            tasks(s).json_schema["properties"]["status"] =
                serde_json::json!({"$ref": "https://example.com/x.json"})
        },
        "model tasks",
        "only `#/$defs/Name` is supported",
    );
}

#[test]
fn definitions_missing_from_a_model_are_taken_from_the_descriptor() {
    let mut schema = common::tracker_schema();
    tasks(&mut schema)
        .json_schema
        .as_object_mut()
        .unwrap()
        .remove("$defs");
    let files = ablo_codegen::render(&schema).unwrap();
    let tasks_schema: serde_json::Value =
        serde_json::from_str(&files[&ablo_codegen::json_schema_file("tasks")]).unwrap();
    let defs = tasks_schema["$defs"].as_object().unwrap();
    for name in [
        "TaskStatus",
        "Priority",
        "ChecklistItem",
        "TaskInput",
        "TaskPatch",
    ] {
        assert!(defs.contains_key(name), "{name} missing: {:?}", defs.keys());
    }
    assert!(
        !defs["TaskStatus"]
            .as_object()
            .unwrap()
            .contains_key("$schema")
    );
}

#[test]
fn generated_name_collisions_are_reported() {
    // Renaming an object also renames the reference from `projects.office`.
    let (err, message) = render_error(|s| {
        s.objects[0].name = "TaskInput".into();
        let office = s.models.iter_mut().find(|m| m.name == "projects").unwrap();
        office.fields[4].ty = FieldType::optional(FieldType::Object {
            name: "TaskInput".into(),
        });
    });
    assert!(
        matches!(
            err,
            CodegenError::NameCollision {
                output: "TypeScript",
                ..
            }
        ),
        "{message}"
    );
    assert!(
        message.contains("`TaskInput` is produced by both object TaskInput and model tasks"),
        "{message}"
    );

    let (err, message) = render_error(|s| {
        s.enums[0].name = "JsonValue".into();
        tasks(s).fields[2].ty = FieldType::optional(FieldType::Enum {
            name: "JsonValue".into(),
        });
    });
    assert!(
        matches!(err, CodegenError::NameCollision { .. }),
        "{message}"
    );
    assert!(message.contains("ablo.ts itself"), "{message}");
}

#[test]
fn openapi_name_collisions_are_reported() {
    // `Error` is free in TypeScript but taken by the error envelope in OpenAPI.
    let (err, message) = render_error(|s| {
        let address = s.objects.iter_mut().find(|o| o.name == "Address").unwrap();
        address.name = "Error".into();
        let projects = s.models.iter_mut().find(|m| m.name == "projects").unwrap();
        projects.fields[4].ty = FieldType::optional(FieldType::Object {
            name: "Error".into(),
        });
        let schema = &mut projects.json_schema;
        let def = schema["$defs"]
            .as_object_mut()
            .unwrap()
            .remove("Address")
            .unwrap();
        schema["$defs"]["Error"] = def;
        schema["properties"]["office"]["anyOf"][0]["$ref"] = "#/$defs/Error".into();
    });
    assert!(
        matches!(
            err,
            CodegenError::NameCollision {
                output: "OpenAPI",
                ..
            }
        ),
        "{message}"
    );
    assert!(message.contains("`Error`"), "{message}");
}
