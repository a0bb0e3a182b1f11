//! `#[ablo::model]` and `#[ablo::object]` write their `ts_rs::TS` and
//! `schemars::JsonSchema` impls themselves. These tests hold them to what
//! the ts-rs and schemars derives produce for the same structs with serde
//! renames: declarations, exported files, dependencies and JSON Schemas
//! under both contracts.

use ablo::prelude::*;
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use ts_rs::TS;

#[ablo::model]
pub struct Project {
    pub name: String,
}

#[derive(ablo::Enum)]
pub enum Status {
    Todo,
    InProgress,
}

/// # Node
///
/// A tree node, with a heading in its doc comment.
#[ablo::object]
pub struct Node {
    /// The label.
    pub label: String,
    pub children: Vec<Node>,
    pub owner: Option<Ref<Project>>,
}

/// Every field type.
/// Two lines of docs.
#[ablo::model(name = "everything")]
pub struct Everything {
    /// Plain text.
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
    #[doc = " A block\n doc comment with two lines. "]
    pub status: Status,
    pub tree: Node,
    pub project: Ref<Project>,
    pub parent: Option<Ref<Everything>>,
    /// # Note
    /// Optional text.
    pub note: Option<String>,
    pub tags: Vec<String>,
    pub matrix: Vec<Vec<i32>>,
    pub maybe_list: Option<Vec<Status>>,
    pub maybe_node: Option<Node>,
    #[ablo(rename = "kind")]
    pub r#type: String,
}

/// The same structs as above, with the ts-rs and schemars derives.
mod derived {
    use super::{Json, Project, Ref, Status, Timestamp, Uuid};

    /// # Node
    ///
    /// A tree node, with a heading in its doc comment.
    #[derive(ts_rs::TS, schemars::JsonSchema, serde::Serialize, serde::Deserialize)]
    pub struct Node {
        /// The label.
        #[serde(rename = "label")]
        #[ts(rename = "label")]
        pub label: String,
        #[serde(rename = "children")]
        #[ts(rename = "children")]
        pub children: Vec<Node>,
        #[serde(rename = "ownerId")]
        #[ts(rename = "ownerId")]
        pub owner: Option<Ref<Project>>,
    }

    /// Every field type.
    /// Two lines of docs.
    #[derive(ts_rs::TS, schemars::JsonSchema, serde::Serialize, serde::Deserialize)]
    pub struct Everything {
        /// Plain text.
        #[serde(rename = "text")]
        #[ts(rename = "text")]
        pub text: String,
        #[serde(rename = "flag")]
        #[ts(rename = "flag")]
        pub flag: bool,
        #[serde(rename = "tiny")]
        #[ts(rename = "tiny")]
        pub tiny: i8,
        #[serde(rename = "small")]
        #[ts(rename = "small")]
        pub small: i16,
        #[serde(rename = "medium")]
        #[ts(rename = "medium")]
        pub medium: i32,
        #[serde(rename = "large")]
        #[ts(rename = "large")]
        pub large: i64,
        #[serde(rename = "utiny")]
        #[ts(rename = "utiny")]
        pub utiny: u8,
        #[serde(rename = "usmall")]
        #[ts(rename = "usmall")]
        pub usmall: u16,
        #[serde(rename = "umedium")]
        #[ts(rename = "umedium")]
        pub umedium: u32,
        #[serde(rename = "ularge")]
        #[ts(rename = "ularge")]
        pub ularge: u64,
        #[serde(rename = "single")]
        #[ts(rename = "single")]
        pub single: f32,
        #[serde(rename = "double")]
        #[ts(rename = "double")]
        pub double: f64,
        #[serde(rename = "at")]
        #[ts(rename = "at")]
        pub at: Timestamp,
        #[serde(rename = "data")]
        #[ts(rename = "data")]
        pub data: Json,
        #[serde(rename = "uuid")]
        #[ts(rename = "uuid")]
        pub uuid: Uuid,
        #[doc = " A block\n doc comment with two lines. "]
        #[serde(rename = "status")]
        #[ts(rename = "status")]
        pub status: Status,
        #[serde(rename = "tree")]
        #[ts(rename = "tree")]
        pub tree: Node,
        #[serde(rename = "projectId")]
        #[ts(rename = "projectId")]
        pub project: Ref<Project>,
        #[serde(rename = "parentId")]
        #[ts(rename = "parentId")]
        pub parent: Option<Ref<super::Everything>>,
        /// # Note
        /// Optional text.
        #[serde(rename = "note")]
        #[ts(rename = "note")]
        pub note: Option<String>,
        #[serde(rename = "tags")]
        #[ts(rename = "tags")]
        pub tags: Vec<String>,
        #[serde(rename = "matrix")]
        #[ts(rename = "matrix")]
        pub matrix: Vec<Vec<i32>>,
        #[serde(rename = "maybeList")]
        #[ts(rename = "maybeList")]
        pub maybe_list: Option<Vec<Status>>,
        #[serde(rename = "maybeNode")]
        #[ts(rename = "maybeNode")]
        pub maybe_node: Option<Node>,
        #[serde(rename = "kind")]
        #[ts(rename = "kind")]
        pub r#type: String,
    }
}

/// Everything ts-rs reports about a type.
fn ts_view<T: TS + 'static>() -> Vec<String> {
    let cfg = ablo_runtime::model::ts_config();
    let mut dependencies: Vec<String> = T::dependencies(&cfg)
        .into_iter()
        .map(|d| format!("{} {}", d.ts_name, d.output_path.display()))
        .collect();
    dependencies.sort();
    vec![
        T::name(&cfg),
        T::inline(&cfg),
        T::inline_flattened(&cfg),
        T::decl(&cfg),
        T::decl_concrete(&cfg),
        format!("{:?}", T::docs()),
        format!("{:?}", T::output_path()),
        T::export_to_string(&cfg).expect("exports"),
        dependencies.join("; "),
    ]
}

/// The root schemas of a type under both schemars contracts.
fn schemas<T: JsonSchema>() -> Vec<serde_json::Value> {
    let deserialize = SchemaSettings::draft2020_12().into_generator();
    let serialize = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    vec![
        deserialize.into_root_schema_for::<T>().to_value(),
        serialize.into_root_schema_for::<T>().to_value(),
    ]
}

#[test]
fn model_typescript_matches_the_ts_rs_derive() {
    let ours = ts_view::<Everything>();
    let derived = ts_view::<derived::Everything>();
    for (ours, derived) in ours.iter().zip(&derived) {
        assert_eq!(ours, derived);
    }
    assert!(ours[3].ends_with("kind: string, };"), "{}", ours[3]);
    assert!(ours[3].contains("/**\n * # Note"), "{}", ours[3]);
}

#[test]
fn object_typescript_matches_the_ts_rs_derive() {
    assert_eq!(ts_view::<Node>(), ts_view::<derived::Node>());
}

#[test]
fn model_json_schema_matches_the_schemars_derive() {
    let ours = schemas::<Everything>();
    assert_eq!(ours, schemas::<derived::Everything>());
    let properties = &ours[0]["properties"];
    assert_eq!(properties["note"]["title"], "Note");
    assert_eq!(properties["note"]["description"], "Optional text.");
    assert_eq!(
        ours[0]["description"],
        "Every field type.\nTwo lines of docs."
    );
    let required = ours[0]["required"].as_array().unwrap();
    assert!(!required.contains(&"note".into()));
    let required_on_serialize = ours[1]["required"].as_array().unwrap();
    assert!(required_on_serialize.contains(&"note".into()));
}

#[test]
fn object_json_schema_matches_the_schemars_derive() {
    let ours = schemas::<Node>();
    assert_eq!(ours, schemas::<derived::Node>());
    assert_eq!(ours[0]["title"], "Node");
    assert_eq!(
        ours[0]["description"],
        "A tree node, with a heading in its doc comment."
    );
}

#[test]
fn descriptor_embeds_the_same_declaration() {
    let model = Everything::descriptor();
    assert_eq!(
        model.ts,
        derived::Everything::decl(&ablo_runtime::model::ts_config())
    );
    assert_eq!(
        model.json_schema,
        ablo_runtime::model::json_schema_of::<derived::Everything>()
    );
}
