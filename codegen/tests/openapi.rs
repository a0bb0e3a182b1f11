//! The OpenAPI document's model-specific parts: paths, operations and query
//! parameters follow the schema.

mod common;

use std::path::Path;

use serde_json::Value;

fn openapi() -> Value {
    let files = ablo_codegen::render(&common::tracker_schema()).unwrap();
    serde_json::from_str(&files[Path::new("openapi.json")]).unwrap()
}

#[test]
fn every_model_gets_its_five_operations() {
    let doc = openapi();
    assert_eq!(doc["openapi"], "3.1.0");
    for (wire, ty) in [("tasks", "Task"), ("projects", "Project")] {
        let collection = &doc["paths"][format!("/v1/models/{wire}")];
        let item = &doc["paths"][format!("/v1/models/{wire}/{{id}}")];
        assert_eq!(collection["get"]["operationId"], format!("list{ty}"));
        assert_eq!(collection["post"]["operationId"], format!("create{ty}"));
        assert_eq!(item["get"]["operationId"], format!("retrieve{ty}"));
        assert_eq!(item["patch"]["operationId"], format!("update{ty}"));
        assert_eq!(item["delete"]["operationId"], format!("delete{ty}"));
        assert!(collection["post"]["responses"]["201"].is_object());
        assert_eq!(
            collection["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            format!("#/components/schemas/{ty}CreateRequest")
        );
        for status in ["400", "401", "403", "404", "409", "422", "429", "5XX"] {
            assert!(
                item["patch"]["responses"][status]["$ref"].is_string(),
                "{wire} {status}"
            );
        }
    }
    for path in ["/v1/commits", "/v1/health", "/v1/schema", "/v1/sync/deltas"] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
    assert_eq!(
        doc["paths"]["/v1/health"]["get"]["security"],
        serde_json::json!([])
    );
}

#[test]
fn list_parameters_name_only_comparable_fields() {
    let doc = openapi();
    let params = doc["paths"]["/v1/models/tasks"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let where_param = params.iter().find(|p| p["name"] == "where").unwrap();
    let names: Vec<&str> =
        where_param["content"]["application/json"]["schema"]["propertyNames"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
    assert_eq!(
        names,
        [
            "title",
            "status",
            "priority",
            "summary",
            "projectId",
            "due",
            "points",
            "timeSpentMs",
            "externalId",
            "score"
        ]
    );
    let order_by = params.iter().find(|p| p["name"] == "orderBy").unwrap();
    let pattern = order_by["schema"]["pattern"].as_str().unwrap();
    assert!(
        pattern.starts_with("^(id|stamp|createdAt|updatedAt|title|"),
        "{pattern}"
    );
    assert!(pattern.ends_with(")(:(asc|desc))?$"), "{pattern}");
    assert!(
        !pattern.contains("tags") && !pattern.contains("metadata"),
        "{pattern}"
    );
}

#[test]
fn commit_operations_are_specialised_per_model() {
    let doc = openapi();
    let operations = doc["components"]["schemas"]["CommitOperation"]["oneOf"]
        .as_array()
        .unwrap();
    let titles: Vec<&str> = operations
        .iter()
        .map(|o| o["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "create projects",
            "update projects",
            "delete projects",
            "create tasks",
            "update tasks",
            "delete tasks"
        ]
    );
    assert_eq!(
        operations[4]["properties"]["data"]["$ref"],
        "#/components/schemas/TaskPatch"
    );
}

#[test]
fn a_schema_without_models_still_renders_a_valid_shape() {
    let empty = ablo_runtime::SchemaDescriptor::build(
        "Empty",
        vec![],
        ablo_runtime::TypeRegistry::default(),
    );
    let files = ablo_codegen::render(&empty).unwrap();
    let doc: Value = serde_json::from_str(&files[Path::new("openapi.json")]).unwrap();
    assert_eq!(
        doc["components"]["schemas"]["CommitOperation"],
        Value::Bool(false)
    );
    assert_eq!(files.len(), 2);
}
