//! What the generated code does at run time: wire format of models, patches
//! and enums, the errors bad input gets, and the declarations embedded in
//! descriptors.

use ablo::prelude::*;

#[ablo::model]
pub struct Project {
    pub name: String,
}

#[ablo::model]
pub struct Task {
    pub title: String,
    pub status: Status,
    pub summary: Option<String>,
    pub project: Ref<Project>,
    pub due: Option<Timestamp>,
    pub points: u32,
    pub tags: Vec<String>,
    pub place: Option<Place>,
}

/// Where a task stands.
#[derive(ablo::Enum)]
pub enum Status {
    Todo,
    InProgress,
    #[ablo(rename = "finished")]
    Done,
}

#[ablo::object]
pub struct Place {
    pub label: String,
    pub venue: Option<Ref<Project>>,
}

fn task() -> Task {
    Task {
        title: "Write docs".into(),
        status: Status::InProgress,
        summary: None,
        project: Ref::new("p1"),
        due: None,
        points: 3,
        tags: vec!["docs".into()],
        place: Some(Place {
            label: "desk".into(),
            venue: None,
        }),
    }
}

#[test]
fn models_use_camel_case_wire_names_and_ref_ids() {
    let json = serde_json::to_value(task()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "title": "Write docs", "status": "in_progress", "summary": null,
            "projectId": "p1", "due": null, "points": 3, "tags": ["docs"],
            "place": {"label": "desk", "venueId": null}
        })
    );
    let back: Task = serde_json::from_value(json).unwrap();
    assert_eq!(back, task());
}

#[test]
fn create_input_may_omit_optional_fields() {
    let json = r#"{"title":"t","status":"todo","projectId":"p1","points":1,"tags":[]}"#;
    let created: Task = serde_json::from_str(json).unwrap();
    assert_eq!(created.summary, None);
    assert_eq!(created.place, None);
}

#[test]
fn create_input_rejects_missing_required_fields() {
    let err = serde_json::from_str::<Task>(r#"{"status":"todo"}"#).unwrap_err();
    assert!(err.to_string().contains("missing field `title`"), "{err}");
}

#[test]
fn rows_flatten_the_model_next_to_the_envelope() {
    let json = r#"{"id":"t1","stamp":9,"createdAt":"2026-01-01T00:00:00.000Z",
        "updatedAt":"2026-01-02T00:00:00.000Z","title":"t","status":"finished",
        "projectId":"p1","points":0,"tags":[]}"#;
    let row: Row<Task> = serde_json::from_str(json).unwrap();
    assert_eq!(row.id.as_str(), "t1");
    assert_eq!(row.status, Status::Done);
    assert_eq!(row.project.id().as_str(), "p1");
}

#[test]
fn patches_tell_unchanged_null_and_value_apart() {
    let patch = TaskPatch::new()
        .title("New title")
        .clear_summary()
        .due(Timestamp::from_millis(0).unwrap())
        .points(5)
        .project(Id::<Project>::new("p2"));
    assert_eq!(
        serde_json::to_value(&patch).unwrap(),
        serde_json::json!({
            "title": "New title", "summary": null, "projectId": "p2",
            "due": "1970-01-01T00:00:00.000Z", "points": 5
        })
    );
    assert_eq!(serde_json::to_string(&TaskPatch::new()).unwrap(), "{}");

    let parsed: TaskPatch = serde_json::from_str(r#"{"summary":null,"status":"todo"}"#).unwrap();
    assert_eq!(parsed.summary, FieldPatch::Set(None));
    assert_eq!(parsed.status, FieldPatch::Set(Status::Todo));
    assert!(parsed.title.is_unchanged());
    let parsed: TaskPatch = serde_json::from_str(r#"{"summary":"s"}"#).unwrap();
    assert_eq!(parsed.summary, FieldPatch::Set(Some("s".into())));
}

#[test]
fn patches_reject_a_field_given_twice_and_ignore_unknown_keys() {
    let err = serde_json::from_str::<TaskPatch>(r#"{"title":"a","title":"b"}"#).unwrap_err();
    assert!(err.to_string().contains("duplicate field `title`"), "{err}");
    let patch: TaskPatch = serde_json::from_str(r#"{"colour":"red","points":2}"#).unwrap();
    assert_eq!(patch, TaskPatch::new().points(2));
}

#[test]
fn patches_reject_wrong_types_and_non_objects() {
    let err = serde_json::from_str::<TaskPatch>(r#"{"points":"many"}"#).unwrap_err();
    assert!(
        err.to_string()
            .contains("invalid type: string \"many\", expected u32"),
        "{err}"
    );
    let err = serde_json::from_str::<TaskPatch>("[1]").unwrap_err();
    assert!(
        err.to_string().contains("expected a TaskPatch object"),
        "{err}"
    );
    let err = serde_json::from_str::<TaskPatch>(r#"{"status":"Done"}"#).unwrap_err();
    assert!(err.to_string().contains("unknown variant `Done`"), "{err}");
}

#[test]
fn patches_round_trip_through_json() {
    let patch = TaskPatch::new()
        .title("t")
        .clear_place()
        .tags(vec!["a".into()]);
    let json = serde_json::to_string(&patch).unwrap();
    assert_eq!(json, r#"{"title":"t","tags":["a"],"place":null}"#);
    let back: TaskPatch = serde_json::from_str(&json).unwrap();
    assert_eq!(back, patch);
}

#[test]
fn patches_refuse_null_for_required_fields() {
    let err = serde_json::from_str::<TaskPatch>(r#"{"title":null}"#).unwrap_err();
    assert!(err.to_string().contains("invalid type: null"), "{err}");
}

#[test]
fn enums_travel_as_snake_case_strings() {
    assert_eq!(
        serde_json::to_string(&Status::InProgress).unwrap(),
        r#""in_progress""#
    );
    assert_eq!(
        serde_json::to_string(&Status::Done).unwrap(),
        r#""finished""#
    );
    let back: Status = serde_json::from_str(r#""finished""#).unwrap();
    assert_eq!(back, Status::Done);
}

#[test]
fn unknown_enum_values_list_the_allowed_ones() {
    let err = serde_json::from_str::<Status>(r#""InProgress""#).unwrap_err();
    assert!(
        err.to_string().contains(
            "unknown variant `InProgress`, expected one of `todo`, `in_progress`, `finished`"
        ),
        "{err}"
    );
    let err = serde_json::from_str::<Status>("3").unwrap_err();
    assert!(err.to_string().contains("a `Status` value"), "{err}");
}

#[test]
fn enums_declare_a_string_union_and_a_string_schema() {
    let mut registry = TypeRegistry::default();
    <Status as FieldValue>::register_types(&mut registry);
    let (enums, objects) = registry.into_parts();
    assert!(objects.is_empty());
    let status = &enums[0];
    assert_eq!(status.name, "Status");
    assert_eq!(status.doc.as_deref(), Some("Where a task stands."));
    assert_eq!(
        status.ts,
        r#"type Status = "todo" | "in_progress" | "finished";"#
    );
    assert_eq!(status.json_schema["type"], "string");
    assert_eq!(
        status.json_schema["enum"],
        serde_json::json!(["todo", "in_progress", "finished"])
    );
    assert_eq!(status.json_schema["description"], "Where a task stands.");
}

#[test]
fn models_register_their_enums_and_objects() {
    let mut registry = TypeRegistry::default();
    <Task as Model>::register_types(&mut registry);
    let (enums, objects) = registry.into_parts();
    assert_eq!(enums.len(), 1);
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0].fields[1].name, "venueId");
    assert!(
        objects[0].ts.starts_with("type Place = {"),
        "{}",
        objects[0].ts
    );
}

#[test]
fn model_descriptor_embeds_typescript_and_json_schema() {
    let descriptor = Task::descriptor();
    assert_eq!(Task::NAME, "tasks");
    assert_eq!(descriptor.sync_groups, Vec::<String>::new());
    assert!(
        descriptor.ts.contains("status: Status"),
        "{}",
        descriptor.ts
    );
    assert!(
        descriptor.ts.contains("summary: string | null"),
        "{}",
        descriptor.ts
    );
    let required = descriptor.json_schema["required"].as_array().unwrap();
    assert!(required.contains(&"projectId".into()));
    assert!(!required.contains(&"summary".into()));
}

/// Two schemas whose models use two different Rust types of one name.
mod clashing {
    pub mod billing {
        #[derive(ablo::Enum)]
        pub enum Status {
            Paid,
        }

        #[ablo::object]
        pub struct Address {
            pub line: String,
        }
    }

    pub mod shipping {
        #[derive(ablo::Enum)]
        pub enum Status {
            Sent,
        }
    }

    pub mod returns {
        /// An object with the name of the enums above.
        #[ablo::object]
        pub struct Status {
            pub reason: String,
        }
    }

    #[ablo::model]
    pub struct Invoice {
        pub status: billing::Status,
        pub address: billing::Address,
    }

    #[ablo::model]
    pub struct Parcel {
        pub status: shipping::Status,
        pub address: billing::Address,
    }

    #[ablo::model]
    pub struct Return {
        pub status: billing::Status,
        pub detail: returns::Status,
    }

    ablo::schema! { pub struct Clashing { invoices: Invoice, parcels: Parcel } }
    ablo::schema! { pub struct EnumAndObject { returns: Return } }
    ablo::schema! { pub struct NoClash { invoices: Invoice } }
}

#[test]
#[should_panic(
    expected = "`Status` names both `descriptor_behaviour::clashing::billing::Status` \
                           and `descriptor_behaviour::clashing::shipping::Status`; rename one"
)]
fn two_types_of_one_name_are_refused() {
    clashing::Clashing::descriptor();
}

#[test]
#[should_panic(
    expected = "`Status` names both `descriptor_behaviour::clashing::billing::Status` \
                           and `descriptor_behaviour::clashing::returns::Status`"
)]
fn an_enum_and_an_object_of_one_name_are_refused() {
    clashing::EnumAndObject::descriptor();
}

#[test]
fn one_type_used_by_two_models_is_not_a_clash() {
    let schema = clashing::NoClash::descriptor();
    assert_eq!(schema.enums.len(), 1);
    assert_eq!(schema.objects.len(), 1);
}
