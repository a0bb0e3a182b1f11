//! Every supported field type in one model, with the three states of an
//! optional field in its patch.
use ablo::prelude::*;

#[ablo::model]
pub struct Project {
    pub name: String,
}

#[derive(ablo::Enum)]
pub enum Status {
    Todo,
    InProgress,
    #[ablo(rename = "finished")]
    Done,
}

#[ablo::object]
pub struct Node {
    pub label: String,
    pub children: Vec<Node>,
    pub owner: Option<Ref<Project>>,
}

#[ablo::model(name = "everything", sync_groups = ["project:{project}"])]
pub struct Everything {
    pub text: String,
    pub flag: bool,
    pub tiny: i8,
    pub small: i16,
    pub medium: i32,
    pub large: i64,
    pub utiny: u8,
    pub usmall: u16,
    pub umedium: u32,
    pub ularge: u64,
    pub single: f32,
    pub double: f64,
    pub at: Timestamp,
    pub data: Json,
    pub uuid: Uuid,
    pub status: Status,
    pub tree: Node,
    pub project: Ref<Project>,
    pub parent: Option<Ref<Everything>>,
    pub note: Option<String>,
    pub tags: Vec<String>,
    pub matrix: Vec<Vec<i32>>,
    pub maybe_list: Option<Vec<Status>>,
    #[ablo(index, rename = "renamed")]
    pub r#type: String,
}

ablo::schema! { pub struct App { everything: Everything, projects: Project } }

fn main() {
    let schema = App::descriptor();
    let model = schema.model("everything").unwrap();
    assert_eq!(model.fields.len(), 24);
    assert_eq!(model.sync_groups, ["project:{projectId}"]);
    assert!(model.field("projectId").is_some());
    assert!(model.field("parentId").is_some());
    assert!(model.field("renamed").unwrap().indexed);
    assert_eq!(schema.enum_named("Status").unwrap().variants, ["todo", "in_progress", "finished"]);
    assert!(schema.object_named("Node").is_some());

    let patch = EverythingPatch::new().note("hi").clear_parent().large(5).ularge(7);
    let json = serde_json::to_value(&patch).unwrap();
    assert_eq!(json, serde_json::json!({"note": "hi", "parentId": null, "large": 5, "ularge": 7}));
    let project: Id<Project> = Id::new("p1");
    let patch = EverythingPatch::new().project(project).parent(Id::<Everything>::new("e1"));
    assert_eq!(serde_json::to_value(&patch).unwrap(), serde_json::json!({"projectId": "p1", "parentId": "e1"}));
}
