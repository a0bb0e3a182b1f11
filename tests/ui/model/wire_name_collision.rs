use ablo::prelude::*;

#[ablo::model]
pub struct Project {
    pub name: String,
}

#[ablo::model]
pub struct Task {
    pub project: Ref<Project>,
    pub project_id: String,
    pub title: String,
    #[ablo(rename = "title")]
    pub heading: String,
    pub summary: Option<String>,
    pub clear_summary: bool,
}

fn main() {}
