#[ablo::model(name = tasks, sync_groups = "org:{org_id}")]
pub struct Task {
    pub org_id: String,
    #[ablo(index = true)]
    pub title: String,
    #[ablo(rename)]
    pub summary: Option<String>,
    #[ablo(rename = "due-at")]
    pub due: Option<ablo::prelude::Timestamp>,
}

fn main() {}
