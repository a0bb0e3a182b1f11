#[ablo::model(sync_groups = ["org:{orgg}", "everyone", "team:{team_id", "org:{org_id}", "org:{orgId}", "tags:{tags}"])]
pub struct Project {
    pub org_id: String,
    pub team_id: String,
    pub tags: Vec<String>,
}

fn main() {}
