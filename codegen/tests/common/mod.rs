//! A realistic schema for the tests, built the way `#[ablo::model]` builds
//! descriptors: real Rust structs deriving serde, ts-rs and schemars (camelCase
//! wire names, `Ref` fields as `projectId`, snake_case enums), with their
//! ts-rs declarations and schemars schemas embedded.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use ablo_runtime::model::{json_schema_of, ts_declaration};
use ablo_runtime::{
    EnumDescriptor, FieldDescriptor, FieldType, Json, ModelDescriptor, ObjectDescriptor, Ref, Row,
    SchemaDescriptor, SyncId, Timestamp, TypeRegistry, Uuid,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Where a task is in its life.
#[derive(Serialize, Deserialize, TS, JsonSchema, Clone, Debug)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Todo,
    InProgress,
    Done,
}

#[derive(Serialize, Deserialize, TS, JsonSchema, Clone, Debug)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Medium,
    High,
}

/// A postal address.
#[derive(Serialize, Deserialize, TS, JsonSchema, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub street: String,
    pub city: String,
    pub postal_code: Option<String>,
}

#[derive(Serialize, Deserialize, TS, JsonSchema, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ChecklistItem {
    pub label: String,
    pub done: bool,
}

/// A project groups tasks of one organisation.
#[derive(Serialize, Deserialize, TS, JsonSchema, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub org_id: String,
    pub name: String,
    pub archived: bool,
    pub budget_cents: Option<i64>,
    pub office: Option<Address>,
}

/// A unit of work.
#[derive(Serialize, Deserialize, TS, JsonSchema, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// What the task is about.
    pub title: String,
    pub status: TaskStatus,
    pub priority: Option<Priority>,
    pub summary: Option<String>,
    #[serde(rename = "projectId")]
    pub project: Ref<Project>,
    pub due: Option<Timestamp>,
    pub points: i32,
    pub time_spent_ms: u64,
    pub tags: Vec<String>,
    pub checklist: Vec<ChecklistItem>,
    pub metadata: Json,
    pub external_id: Option<Uuid>,
    pub score: f64,
}

pub fn field(name: &str, rust_name: &str, ty: FieldType) -> FieldDescriptor {
    FieldDescriptor::new(name, rust_name, ty)
}

fn int(bits: u8, signed: bool) -> FieldType {
    FieldType::Integer { bits, signed }
}

fn named_enum(name: &str) -> FieldType {
    FieldType::Enum { name: name.into() }
}

fn object(name: &str) -> FieldType {
    FieldType::Object { name: name.into() }
}

pub fn model<T: TS + JsonSchema>(
    name: &str,
    doc: Option<&str>,
    fields: Vec<FieldDescriptor>,
    sync_groups: &[&str],
) -> ModelDescriptor {
    ModelDescriptor {
        name: name.into(),
        type_name: T::ident(&ablo_runtime::model::ts_config()),
        doc: doc.map(Into::into),
        fields,
        sync_groups: sync_groups.iter().map(|s| s.to_string()).collect(),
        ts: ts_declaration::<T>(),
        json_schema: json_schema_of::<T>(),
    }
}

pub fn task_fields() -> Vec<FieldDescriptor> {
    let mut title = field("title", "title", FieldType::String);
    title.doc = Some("What the task is about.".into());
    let mut project = field(
        "projectId",
        "project",
        FieldType::Ref {
            model: "projects".into(),
        },
    );
    project.indexed = true;
    let mut due = field("due", "due", FieldType::optional(FieldType::Timestamp));
    due.indexed = true;
    vec![
        title,
        field("status", "status", named_enum("TaskStatus")),
        field(
            "priority",
            "priority",
            FieldType::optional(named_enum("Priority")),
        ),
        field("summary", "summary", FieldType::optional(FieldType::String)),
        project,
        due,
        field("points", "points", int(32, true)),
        field("timeSpentMs", "time_spent_ms", int(64, false)),
        field("tags", "tags", FieldType::list(FieldType::String)),
        field(
            "checklist",
            "checklist",
            FieldType::list(object("ChecklistItem")),
        ),
        field("metadata", "metadata", FieldType::Json),
        field(
            "externalId",
            "external_id",
            FieldType::optional(FieldType::Uuid),
        ),
        field("score", "score", FieldType::Float { bits: 64 }),
    ]
}

pub fn project_fields() -> Vec<FieldDescriptor> {
    vec![
        field("orgId", "org_id", FieldType::String),
        field("name", "name", FieldType::String),
        field("archived", "archived", FieldType::Boolean),
        field(
            "budgetCents",
            "budget_cents",
            FieldType::optional(int(64, true)),
        ),
        field("office", "office", FieldType::optional(object("Address"))),
    ]
}

fn enum_descriptor<T: TS + JsonSchema>(doc: Option<&str>, variants: &[&str]) -> EnumDescriptor {
    EnumDescriptor {
        name: T::ident(&ablo_runtime::model::ts_config()),
        doc: doc.map(Into::into),
        variants: variants.iter().map(|v| v.to_string()).collect(),
        ts: ts_declaration::<T>(),
        json_schema: json_schema_of::<T>(),
    }
}

fn object_descriptor<T: TS + JsonSchema>(
    doc: Option<&str>,
    fields: Vec<FieldDescriptor>,
) -> ObjectDescriptor {
    ObjectDescriptor {
        name: T::ident(&ablo_runtime::model::ts_config()),
        doc: doc.map(Into::into),
        fields,
        ts: ts_declaration::<T>(),
        json_schema: json_schema_of::<T>(),
    }
}

pub fn registry() -> TypeRegistry {
    let mut registry = TypeRegistry::default();
    registry.add_enum(enum_descriptor::<TaskStatus>(
        Some("Where a task is in its life."),
        &["todo", "in_progress", "done"],
    ));
    registry.add_enum(enum_descriptor::<Priority>(
        None,
        &["low", "medium", "high"],
    ));
    for (name, object) in [
        (
            "Address",
            object_descriptor::<Address>(
                Some("A postal address."),
                vec![
                    field("street", "street", FieldType::String),
                    field("city", "city", FieldType::String),
                    field(
                        "postalCode",
                        "postal_code",
                        FieldType::optional(FieldType::String),
                    ),
                ],
            ),
        ),
        (
            "ChecklistItem",
            object_descriptor::<ChecklistItem>(
                None,
                vec![
                    field("label", "label", FieldType::String),
                    field("done", "done", FieldType::Boolean),
                ],
            ),
        ),
    ] {
        registry.begin_object(name);
        registry.finish_object(object);
    }
    registry
}

/// The test schema `Tracker`: `projects` and `tasks`.
pub fn tracker_schema() -> SchemaDescriptor {
    tracker_schema_with(task_fields())
}

/// The test schema with other task fields (for diffs).
pub fn tracker_schema_with(task_fields: Vec<FieldDescriptor>) -> SchemaDescriptor {
    SchemaDescriptor::build(
        "Tracker",
        vec![
            model::<Task>("tasks", Some("A unit of work."), task_fields, &[]),
            model::<Project>(
                "projects",
                Some("A project groups tasks of one organisation."),
                project_fields(),
                &["org:{orgId}"],
            ),
        ],
        registry(),
    )
}

/// A task row as the server's Rust side serializes it.
pub fn sample_task_row() -> Row<Task> {
    Row {
        id: ablo_runtime::Id::new("task_01"),
        stamp: SyncId(9_007_199_254_740_991),
        created_at: Timestamp::from_millis(1_764_000_000_000).unwrap(),
        updated_at: Timestamp::from_millis(1_764_000_360_123).unwrap(),
        data: Task {
            title: "Write the launch post".into(),
            status: TaskStatus::InProgress,
            priority: Some(Priority::High),
            summary: None,
            project: Ref::new("proj_1"),
            due: Some(Timestamp::from_millis(1_765_000_000_000).unwrap()),
            points: -3,
            time_spent_ms: 90_000,
            tags: vec!["launch".into(), "blog".into()],
            checklist: vec![ChecklistItem {
                label: "draft".into(),
                done: true,
            }],
            metadata: serde_json::json!({"source": "import", "weights": [1, 2.5, null]}),
            external_id: Some(Uuid::nil()),
            score: 0.75,
        },
    }
}

pub fn sample_project_row() -> Row<Project> {
    Row {
        id: ablo_runtime::Id::new("proj_1"),
        stamp: SyncId(4),
        created_at: Timestamp::from_millis(1_764_000_000_000).unwrap(),
        updated_at: Timestamp::from_millis(1_764_000_000_000).unwrap(),
        data: Project {
            org_id: "org_1".into(),
            name: "Launch".into(),
            archived: false,
            budget_cents: Some(-9_007_199_254_740_991),
            office: Some(Address {
                street: "1 Main St".into(),
                city: "Springfield".into(),
                postal_code: None,
            }),
        },
    }
}

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("codegen is inside the workspace")
        .to_path_buf()
}

/// The TypeScript compiler installed by `scripts/setup-tools`; panics with
/// instructions when it is missing.
pub fn tsc() -> PathBuf {
    let tsc = workspace_root().join("tools/node_modules/.bin/tsc");
    assert!(
        tsc.is_file(),
        "TypeScript compiler not found at {}: run `scripts/setup-tools` (it installs tools/package.json with npm)",
        tsc.display()
    );
    tsc
}

/// `python3` with the `jsonschema` and `openapi-spec-validator` packages;
/// panics with instructions when any is missing.
pub fn python_with_jsonschema() -> Command {
    let probe = Command::new("python3")
        .args([
            "-c",
            "import jsonschema, referencing, openapi_spec_validator",
        ])
        .output();
    match probe {
        Ok(out) if out.status.success() => Command::new("python3"),
        Ok(out) => panic!(
            "python3 lacks `jsonschema` or `openapi-spec-validator`: run `scripts/setup-tools` (it installs tools/requirements.txt with pip)\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => {
            panic!("python3 not found ({e}): install Python 3, then run `scripts/setup-tools`")
        }
    }
}
