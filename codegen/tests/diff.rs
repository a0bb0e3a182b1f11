//! `diff`: every change listed, breaking ones marked by the documented rules.

mod common;

use ablo_codegen::{SchemaDiff, diff};
use ablo_runtime::{FieldDescriptor, FieldType, SchemaDescriptor};
use common::{field, task_fields, tracker_schema, tracker_schema_with};

fn edit_task_fields(edit: impl FnOnce(&mut Vec<FieldDescriptor>)) -> SchemaDescriptor {
    let mut fields = task_fields();
    edit(&mut fields);
    tracker_schema_with(fields)
}

fn task_field<'a>(fields: &'a mut [FieldDescriptor], name: &str) -> &'a mut FieldDescriptor {
    fields.iter_mut().find(|f| f.name == name).unwrap()
}

/// The single change of a diff, as `(subject, description, breaking)`.
fn only_change(diff: &SchemaDiff) -> (&str, &str, bool) {
    assert_eq!(diff.changes.len(), 1, "{diff}");
    let c = &diff.changes[0];
    (c.subject.as_str(), c.description.as_str(), c.breaking)
}

fn rehash(mut schema: SchemaDescriptor) -> SchemaDescriptor {
    schema.hash = schema.content_hash();
    schema
}

#[test]
fn identical_schemas_have_no_changes() {
    let d = diff(&tracker_schema(), &tracker_schema());
    assert!(d.changes.is_empty());
    assert_eq!(d.to_string(), "no changes\n");
}

#[test]
fn removed_field_is_breaking() {
    let new = edit_task_fields(|f| f.retain(|f| f.name != "summary"));
    let d = diff(&tracker_schema(), &new);
    assert_eq!(only_change(&d), ("tasks.summary", "field removed", true));
    assert!(d.is_breaking());
    assert!(
        d.to_string()
            .contains("BREAKING tasks.summary: field removed")
    );
}

#[test]
fn added_optional_field_is_not_breaking() {
    let new = edit_task_fields(|f| {
        f.push(field(
            "notes",
            "notes",
            FieldType::optional(FieldType::String),
        ))
    });
    let d = diff(&tracker_schema(), &new);
    assert_eq!(
        only_change(&d),
        (
            "tasks.notes",
            "optional field added (Option<String>)",
            false
        )
    );
    assert!(!d.is_breaking());
    assert!(d.to_string().contains("1 change(s), 0 breaking"));
}

#[test]
fn added_required_field_is_breaking() {
    let new = edit_task_fields(|f| {
        f.push(field(
            "rank",
            "rank",
            FieldType::Integer {
                bits: 32,
                signed: true,
            },
        ))
    });
    let d = diff(&tracker_schema(), &new);
    let (subject, description, breaking) = only_change(&d);
    assert_eq!(subject, "tasks.rank");
    assert!(
        description.starts_with("required field added (i32)"),
        "{description}"
    );
    assert!(breaking);
}

#[test]
fn type_changes_are_breaking() {
    let new = edit_task_fields(|f| {
        task_field(f, "points").ty = FieldType::Integer {
            bits: 64,
            signed: true,
        }
    });
    assert_eq!(
        only_change(&diff(&tracker_schema(), &new)),
        ("tasks.points", "type changed from i32 to i64", true)
    );
    let new = edit_task_fields(|f| {
        task_field(f, "status").ty = FieldType::Enum {
            name: "Priority".into(),
        }
    });
    assert_eq!(
        only_change(&diff(&tracker_schema(), &new)),
        (
            "tasks.status",
            "type changed from TaskStatus to Priority",
            true
        )
    );
}

#[test]
fn optional_made_required_is_breaking_and_the_reverse_too() {
    let new = edit_task_fields(|f| task_field(f, "summary").ty = FieldType::String);
    assert_eq!(
        only_change(&diff(&tracker_schema(), &new)),
        ("tasks.summary", "optional made required (String)", true)
    );
    let d = diff(&new, &tracker_schema());
    let (subject, description, breaking) = only_change(&d);
    assert_eq!(subject, "tasks.summary");
    assert!(
        description.starts_with("required made optional"),
        "{description}"
    );
    assert!(breaking);
}

#[test]
fn field_wire_name_change_is_breaking() {
    let new = edit_task_fields(|f| task_field(f, "projectId").name = "projectRef".into());
    assert_eq!(
        only_change(&diff(&tracker_schema(), &new)),
        (
            "tasks.projectId",
            "wire name changed from `projectId` to `projectRef`",
            true
        )
    );
}

#[test]
fn index_and_doc_changes_are_listed_but_not_breaking() {
    let new = edit_task_fields(|f| {
        task_field(f, "points").indexed = true;
        task_field(f, "title").doc = None;
    });
    let d = diff(&tracker_schema(), &new);
    let listed: Vec<(&str, &str, bool)> = d
        .changes
        .iter()
        .map(|c| (c.subject.as_str(), c.description.as_str(), c.breaking))
        .collect();
    assert_eq!(
        listed,
        [
            ("tasks.title", "doc comment changed", false),
            ("tasks.points", "index added", false)
        ]
    );
}

#[test]
fn model_removed_added_and_renamed() {
    let old = tracker_schema();
    let mut removed = old.clone();
    removed.models.retain(|m| m.name != "projects");
    let removed = rehash(removed);
    assert_eq!(
        only_change(&diff(&old, &removed)),
        ("projects", "model removed", true)
    );
    assert_eq!(
        only_change(&diff(&removed, &old)),
        ("projects", "model added", false)
    );

    let mut renamed = old.clone();
    renamed
        .models
        .iter_mut()
        .find(|m| m.name == "projects")
        .unwrap()
        .name = "workspaces".into();
    let d = diff(&old, &rehash(renamed));
    assert_eq!(
        only_change(&d),
        (
            "projects",
            "wire name changed from `projects` to `workspaces`",
            true
        )
    );

    let mut retyped = old.clone();
    retyped
        .models
        .iter_mut()
        .find(|m| m.name == "projects")
        .unwrap()
        .type_name = "Workspace".into();
    let d = diff(&old, &retyped);
    let (_, description, breaking) = only_change(&d);
    assert!(description.contains("TypeScript names change"));
    assert!(breaking);

    let mut regrouped = old.clone();
    regrouped
        .models
        .iter_mut()
        .find(|m| m.name == "projects")
        .unwrap()
        .sync_groups = vec!["default".into()];
    let d = diff(&old, &regrouped);
    let (_, description, breaking) = only_change(&d);
    assert!(description.starts_with("sync groups changed"));
    assert!(!breaking);
}

#[test]
fn enum_variants_removed_break_added_do_not() {
    let old = tracker_schema();
    let mut new = old.clone();
    let status = new
        .enums
        .iter_mut()
        .find(|e| e.name == "TaskStatus")
        .unwrap();
    status.variants.retain(|v| v != "in_progress");
    status.variants.push("blocked".into());
    let d = diff(&old, &new);
    let listed: Vec<(&str, &str, bool)> = d
        .changes
        .iter()
        .map(|c| (c.subject.as_str(), c.description.as_str(), c.breaking))
        .collect();
    assert_eq!(
        listed,
        [
            ("enum TaskStatus", "variant `in_progress` removed", true),
            ("enum TaskStatus", "variant `blocked` added", false),
        ]
    );
    let mut without_enum = old.clone();
    without_enum.enums.retain(|e| e.name != "Priority");
    assert_eq!(
        only_change(&diff(&old, &without_enum)),
        ("enum Priority", "enum removed", true)
    );
    assert_eq!(
        only_change(&diff(&without_enum, &old)),
        ("enum Priority", "enum added", false)
    );
}

#[test]
fn nested_object_fields_follow_the_same_rules() {
    let old = tracker_schema();
    let mut new = old.clone();
    let address = new
        .objects
        .iter_mut()
        .find(|o| o.name == "Address")
        .unwrap();
    address.fields.retain(|f| f.name != "city");
    address.fields.push(field(
        "country",
        "country",
        FieldType::optional(FieldType::String),
    ));
    let d = diff(&old, &new);
    let listed: Vec<(&str, &str, bool)> = d
        .changes
        .iter()
        .map(|c| (c.subject.as_str(), c.description.as_str(), c.breaking))
        .collect();
    assert_eq!(
        listed,
        [
            ("object Address.city", "field removed", true),
            (
                "object Address.country",
                "optional field added (Option<String>)",
                false
            ),
        ]
    );
    let mut without = old.clone();
    without.objects.retain(|o| o.name != "Address");
    assert_eq!(
        only_change(&diff(&old, &without)),
        ("object Address", "object removed", true)
    );
}

#[test]
fn every_change_is_listed_in_a_stable_order() {
    let old = tracker_schema();
    let mut new = edit_task_fields(|f| {
        f.retain(|f| f.name != "tags");
        f.push(field(
            "notes",
            "notes",
            FieldType::optional(FieldType::String),
        ));
    });
    new.name = "Tracker2".into();
    let d = diff(&old, &new);
    let subjects: Vec<&str> = d.changes.iter().map(|c| c.subject.as_str()).collect();
    assert_eq!(subjects, ["schema", "tasks.tags", "tasks.notes"]);
    assert_eq!(d.breaking().count(), 1);
    assert_eq!(d, diff(&old, &new));
}
