//! The generated JSON Schema and OpenAPI files, checked by validators this
//! project did not write: Python's `jsonschema` (draft 2020-12) and
//! `openapi-spec-validator`, on rows serialized by the Rust side.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

struct Case {
    label: &'static str,
    file: &'static str,
    def: Option<&'static str>,
    instance: Value,
    valid: bool,
}

fn case(
    label: &'static str,
    file: &'static str,
    def: Option<&'static str>,
    instance: Value,
    valid: bool,
) -> Case {
    Case {
        label,
        file,
        def,
        instance,
        valid,
    }
}

fn with(mut value: Value, key: &str, new: Value) -> Value {
    value[key] = new;
    value
}

fn without(mut value: Value, key: &str) -> Value {
    value.as_object_mut().unwrap().remove(key);
    value
}

/// Runs the Python validators over generated output for `cases` and returns
/// (label, valid, errors) per case, in order.
/// Per case: its label, whether it validated, and the validator's messages.
type CaseResult = (String, bool, Vec<String>);

fn run_python(out_dir: &Path, cases: &[Case]) -> (Vec<String>, Vec<CaseResult>) {
    let cases_file = out_dir.join("cases.json");
    let payload: Vec<Value> = cases
        .iter()
        .map(|c| json!({"label": c.label, "file": c.file, "def": c.def, "instance": c.instance}))
        .collect();
    std::fs::write(&cases_file, serde_json::to_string(&payload).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/validate.py");
    let out = common::python_with_jsonschema()
        .arg(script)
        .arg(out_dir)
        .arg(&cases_file)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "validate.py failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("validate.py prints JSON");
    let checked = report["checked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let results = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let errors = r["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e.as_str().unwrap().to_owned())
                .collect();
            (
                r["label"].as_str().unwrap().to_owned(),
                r["valid"].as_bool().unwrap(),
                errors,
            )
        })
        .collect();
    (checked, results)
}

#[test]
fn standard_validators_accept_the_schemas_and_judge_rows_inputs_and_patches() {
    let dir = tempfile::tempdir().unwrap();
    ablo_codegen::generate(&common::tracker_schema(), dir.path()).unwrap();

    let task = serde_json::to_value(common::sample_task_row()).unwrap();
    let project = serde_json::to_value(common::sample_project_row()).unwrap();
    // The serde output is the flat wire row.
    assert_eq!(task["projectId"], "proj_1");
    assert_eq!(task["status"], "in_progress");
    assert_eq!(task["stamp"], 9_007_199_254_740_991_u64);

    let input = json!({"title": "t", "status": "todo", "projectId": "proj_1", "points": 1,
        "timeSpentMs": 0, "tags": [], "checklist": [], "metadata": {"any": ["json"]}, "score": 1.5});
    let t = "tasks.schema.json";
    let p = "projects.schema.json";
    let o = "openapi.json";
    let cases = vec![
        case("task row from serde", t, None, task.clone(), true),
        case("project row from serde", p, None, project.clone(), true),
        case(
            "bad enum value",
            t,
            None,
            with(task.clone(), "status", json!("finished")),
            false,
        ),
        case(
            "missing required field",
            t,
            None,
            without(task.clone(), "title"),
            false,
        ),
        case(
            "missing optional field in a row",
            t,
            None,
            without(task.clone(), "summary"),
            false,
        ),
        case(
            "missing stamp",
            t,
            None,
            without(task.clone(), "stamp"),
            false,
        ),
        case(
            "unknown property",
            t,
            None,
            with(task.clone(), "colour", json!("red")),
            false,
        ),
        case(
            "wrong field type",
            t,
            None,
            with(task.clone(), "points", json!("three")),
            false,
        ),
        case(
            "i32 out of range",
            t,
            None,
            with(task.clone(), "points", json!(2_147_483_648_i64)),
            false,
        ),
        case(
            "stamp past 2^53-1",
            t,
            None,
            with(task.clone(), "stamp", json!(9_007_199_254_740_992_u64)),
            false,
        ),
        case(
            "i64 below -(2^53-1)",
            p,
            None,
            with(
                project.clone(),
                "budgetCents",
                json!(-9_007_199_254_740_992_i64),
            ),
            false,
        ),
        case(
            "u64 negative",
            t,
            None,
            with(task.clone(), "timeSpentMs", json!(-1)),
            false,
        ),
        case(
            "bad nested object",
            t,
            None,
            with(task.clone(), "checklist", json!([{"label": "x"}])),
            false,
        ),
        case(
            "unknown key in a nested object",
            t,
            None,
            with(
                task.clone(),
                "checklist",
                json!([{"label": "x", "done": true, "colour": "red"}]),
            ),
            false,
        ),
        case(
            "nested optional field left out of an input",
            p,
            Some("ProjectInput"),
            json!({"orgId": "o", "name": "n", "archived": false, "office": {"street": "s", "city": "c"}}),
            true,
        ),
        case(
            "null nested optional object",
            p,
            None,
            with(project.clone(), "office", Value::Null),
            true,
        ),
        case(
            "empty id",
            t,
            None,
            with(task.clone(), "id", json!("")),
            false,
        ),
        case(
            "minimal create input",
            t,
            Some("TaskInput"),
            input.clone(),
            true,
        ),
        case(
            "create input with optional fields",
            t,
            Some("TaskInput"),
            with(input.clone(), "summary", json!("s")),
            true,
        ),
        case(
            "create input missing required",
            t,
            Some("TaskInput"),
            without(input.clone(), "projectId"),
            false,
        ),
        case(
            "create input with bad enum",
            t,
            Some("TaskInput"),
            with(input.clone(), "priority", json!("urgent")),
            false,
        ),
        case("empty patch", t, Some("TaskPatch"), json!({}), true),
        case(
            "patch clearing an optional field",
            t,
            Some("TaskPatch"),
            json!({"summary": null, "status": "done"}),
            true,
        ),
        case(
            "patch nulling a required field",
            t,
            Some("TaskPatch"),
            json!({"title": null}),
            false,
        ),
        case(
            "patch with unknown field",
            t,
            Some("TaskPatch"),
            json!({"colour": "red"}),
            false,
        ),
        case("openapi row", o, Some("Task"), task.clone(), true),
        case(
            "openapi row with bad enum",
            o,
            Some("Task"),
            with(task.clone(), "status", json!("finished")),
            false,
        ),
        case(
            "openapi create request",
            o,
            Some("TaskCreateRequest"),
            json!({"data": input, "id": "task_9"}),
            true,
        ),
        case(
            "openapi create request without data",
            o,
            Some("TaskCreateRequest"),
            json!({"id": "task_9"}),
            false,
        ),
        case(
            "openapi update request",
            o,
            Some("TaskUpdateRequest"),
            json!({"data": {"summary": null}, "readAt": 7, "onStale": "merge"}),
            true,
        ),
        case(
            "openapi update request with bad onStale",
            o,
            Some("TaskUpdateRequest"),
            json!({"data": {}, "onStale": "later"}),
            false,
        ),
        case(
            "openapi commit",
            o,
            Some("CommitRequest"),
            json!({"clientTxId": "tx1", "operations": [
            {"type": "create", "model": "tasks", "data": input},
            {"type": "update", "model": "projects", "id": "proj_1", "data": {"archived": true}, "readAt": 3, "onStale": "reject"},
            {"type": "delete", "model": "tasks", "id": "task_01"}]}),
            true,
        ),
        case(
            "openapi commit with a task patch sent to projects",
            o,
            Some("CommitRequest"),
            json!({"operations": [
            {"type": "update", "model": "projects", "id": "proj_1", "data": {"title": "x"}}]}),
            false,
        ),
        case(
            "openapi delete response",
            o,
            Some("TaskDeleted"),
            json!({"id": "task_01", "model": "tasks", "deleted": true, "stamp": 12}),
            true,
        ),
        case(
            "openapi delete response of another model",
            o,
            Some("TaskDeleted"),
            json!({"id": "proj_1", "model": "projects", "deleted": true, "stamp": 12}),
            false,
        ),
        case(
            "openapi deltas page",
            o,
            Some("DeltasPage"),
            json!({"data": [{"syncId": 3, "model": "tasks", "id": "task_01", "action": "update", "data": task,
                "changedFields": ["title"], "clientTxId": "tx1", "actor": {"kind": "agent", "id": "agent_1"},
                "syncGroups": ["default"], "flagged": false}], "stamp": 3, "nextAfter": 3, "hasMore": false}),
            true,
        ),
        case(
            "openapi commit receipt",
            o,
            Some("CommitReceipt"),
            json!({"object": "commit_receipt", "clientTxId": "tx1", "syncId": 5, "status": "confirmed",
                "rows": [task, project], "flagged": false}),
            true,
        ),
        case(
            "openapi list response",
            o,
            Some("TaskList"),
            json!({"data": [task], "stamp": 9, "nextCursor": null}),
            true,
        ),
        case(
            "openapi error envelope",
            o,
            Some("Error"),
            json!({"error": {"type": "stale_context", "code": "stale_context",
            "message": "row changed", "requestId": "req_1", "details": {"stamp": 4}}}),
            true,
        ),
        case(
            "openapi error envelope without code",
            o,
            Some("Error"),
            json!({"error": {"type": "validation", "message": "m", "requestId": "r"}}),
            false,
        ),
    ];
    let (checked, results) = run_python(dir.path(), &cases);
    assert_eq!(
        checked,
        ["projects.schema.json", "tasks.schema.json", "openapi.json"]
    );
    assert_eq!(results.len(), cases.len());
    let failures: Vec<String> = cases
        .iter()
        .zip(&results)
        .filter(|(case, (_, valid, _))| case.valid != *valid)
        .map(|(case, (label, valid, errors))| {
            format!(
                "{label}: expected valid={}, got valid={valid} {errors:?}",
                case.valid
            )
        })
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    // The rejections are for the stated reason.
    let errors: BTreeMap<&str, &Vec<String>> =
        results.iter().map(|(l, _, e)| (l.as_str(), e)).collect();
    assert!(
        errors["bad enum value"]
            .iter()
            .any(|e| e.contains("'finished' is not one of")),
        "{errors:?}"
    );
    assert!(
        errors["missing required field"]
            .iter()
            .any(|e| e.contains("'title' is a required property")),
        "{errors:?}"
    );
}

#[test]
fn openapi_validator_rejects_a_broken_document() {
    // Guards the check above: the validator does look at the document.
    let dir = tempfile::tempdir().unwrap();
    ablo_codegen::generate(&common::tracker_schema(), dir.path()).unwrap();
    let path = dir.path().join("openapi.json");
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    doc["info"].as_object_mut().unwrap().remove("title");
    std::fs::write(&path, serde_json::to_string(&doc).unwrap()).unwrap();
    let cases_file = dir.path().join("cases.json");
    std::fs::write(&cases_file, "[]").unwrap();
    let out = common::python_with_jsonschema()
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/validate.py"))
        .arg(dir.path())
        .arg(&cases_file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("'title' is a required property"));
}
