use ablo::prelude::*;

#[ablo::model(name = "tasks", colour = "red", sync_groups = ["org:{org}"])]
#[derive(serde::Serialize)]
pub struct Task {
    pub id: String,
    #[ablo(index, index)]
    pub title: &'static str,
    #[ablo(unique)]
    pub tags: std::collections::HashMap<String, String>,
    pub summary: Option<Option<String>>,
    #[serde(rename = "due")]
    pub due_at: Option<Timestamp>,
    pub position: (i32, i32),
}

fn main() {}
