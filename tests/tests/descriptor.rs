//! The schema descriptor of a realistic schema, compared byte for byte with
//! the checked-in `snapshots/app.schema.json` (`UPDATE_SNAPSHOTS=1` rewrites
//! it after a deliberate change), and the stability of its content hash.

use ablo::prelude::*;

/// A customer organisation.
#[ablo::model(sync_groups = ["org:{slug}"])]
pub struct Organisation {
    pub name: String,
    #[ablo(index)]
    pub slug: String,
    pub plan: Plan,
    pub seats: u32,
    pub storage_bytes: u64,
    pub address: Option<Address>,
}

/// A project of an organisation.
#[ablo::model(sync_groups = ["org:{org_slug}"])]
pub struct Project {
    pub org: Ref<Organisation>,
    pub org_slug: String,
    pub name: String,
    pub external_id: Uuid,
    pub tags: Vec<String>,
}

/// A unit of work.
#[ablo::model(sync_groups = ["org:{orgSlug}", "project:{project}"])]
pub struct Task {
    pub title: String,
    pub status: TaskStatus,
    /// Written by an agent.
    pub summary: Option<String>,
    pub project: Ref<Project>,
    pub parent: Option<Ref<Task>>,
    pub org_slug: String,
    #[ablo(index)]
    pub due: Option<Timestamp>,
    pub estimate: Option<f64>,
    pub checklist: Vec<ChecklistItem>,
    pub metadata: Json,
    #[ablo(rename = "position")]
    pub sort_key: i64,
}

/// Where a task stands.
#[derive(ablo::Enum)]
pub enum TaskStatus {
    Todo,
    InProgress,
    #[ablo(rename = "done")]
    Finished,
}

#[derive(ablo::Enum)]
pub enum Plan {
    Free,
    Team,
}

#[ablo::object]
pub struct Address {
    pub street: String,
    pub city: String,
}

#[ablo::object]
pub struct ChecklistItem {
    pub text: String,
    pub done_at: Option<Timestamp>,
    pub sub_items: Vec<ChecklistItem>,
}

ablo::schema! { pub struct App { tasks: Task, projects: Project, organisations: Organisation } }

#[test]
fn descriptor_matches_snapshot() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/app.schema.json");
    let actual = App::descriptor().to_json_pretty();
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_SNAPSHOTS=1 to create it)",
            path.display()
        )
    });
    if actual != expected {
        let diff = similar::TextDiff::from_lines(&expected, &actual);
        panic!(
            "descriptor differs from {} (UPDATE_SNAPSHOTS=1 rewrites it):\n{}",
            path.display(),
            diff.unified_diff().header("snapshot", "actual")
        );
    }
}

#[test]
fn descriptor_names_every_model_field_enum_relation_and_group() {
    let schema = App::descriptor();
    assert!(schema.hash_is_valid());
    let names: Vec<&str> = schema.models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["organisations", "projects", "tasks"]);
    let task = schema.model("tasks").unwrap();
    assert_eq!(task.sync_groups, ["org:{orgSlug}", "project:{projectId}"]);
    assert_eq!(
        task.field("projectId").unwrap().ty,
        FieldType::Ref {
            model: "projects".into()
        }
    );
    assert_eq!(
        task.field("parentId").unwrap().ty,
        FieldType::optional(FieldType::Ref {
            model: "tasks".into()
        })
    );
    assert_eq!(task.field("position").unwrap().rust_name, "sort_key");
    assert!(task.field("due").unwrap().indexed);
    assert_eq!(
        task.field("summary").unwrap().doc.as_deref(),
        Some("Written by an agent.")
    );
    assert_eq!(
        schema.enum_named("TaskStatus").unwrap().variants,
        ["todo", "in_progress", "done"]
    );
    assert_eq!(
        schema.enum_named("TaskStatus").unwrap().ts,
        r#"type TaskStatus = "todo" | "in_progress" | "done";"#
    );
    let item = schema.object_named("ChecklistItem").unwrap();
    assert_eq!(
        item.fields[2].ty,
        FieldType::list(FieldType::Object {
            name: "ChecklistItem".into()
        })
    );
    assert!(schema.object_named("Address").is_some());
    assert!(task.ts.starts_with("type Task = {"), "{}", task.ts);
    assert!(task.ts.contains("projectId: string"), "{}", task.ts);
    assert!(task.ts.contains("position: number"), "{}", task.ts);
    assert_eq!(
        task.json_schema["properties"]["due"],
        serde_json::json!({"format": "date-time", "type": ["string", "null"]})
    );
}

/// Same models as `App`, listed in another order.
mod reordered {
    use super::{Organisation, Project, Task};
    ablo::schema! { pub struct App { organisations: Organisation, projects: Project, tasks: Task } }
}

#[test]
fn hash_ignores_the_order_of_models_in_schema() {
    assert_eq!(App::descriptor().hash, reordered::App::descriptor().hash);
    assert_eq!(App::descriptor(), reordered::App::descriptor());
}

/// The same schema twice, differing in one detail each time.
mod v1 {
    #[ablo::model]
    pub struct Note {
        pub text: String,
    }
    ablo::schema! { pub struct App { notes: Note } }
}

mod v2_optional {
    #[ablo::model]
    pub struct Note {
        pub text: Option<String>,
    }
    ablo::schema! { pub struct App { notes: Note } }
}

mod v2_renamed {
    #[ablo::model]
    pub struct Note {
        #[ablo(rename = "body")]
        pub text: String,
    }
    ablo::schema! { pub struct App { notes: Note } }
}

mod v2_indexed {
    #[ablo::model]
    pub struct Note {
        #[ablo(index)]
        pub text: String,
    }
    ablo::schema! { pub struct App { notes: Note } }
}

mod v1_again {
    #[ablo::model]
    pub struct Note {
        pub text: String,
    }
    ablo::schema! { pub struct App { notes: Note } }
}

#[test]
fn hash_changes_when_a_field_changes_and_only_then() {
    let base = v1::App::descriptor().hash;
    assert_eq!(base, v1_again::App::descriptor().hash);
    for changed in [
        v2_optional::App::descriptor().hash,
        v2_renamed::App::descriptor().hash,
        v2_indexed::App::descriptor().hash,
    ] {
        assert_ne!(base, changed);
    }
}

#[test]
fn descriptor_survives_a_json_round_trip() {
    let schema = App::descriptor();
    let back: SchemaDescriptor = serde_json::from_str(&schema.to_json_pretty()).unwrap();
    assert_eq!(back, schema);
    assert!(back.hash_is_valid());
}
