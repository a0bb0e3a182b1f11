#[ablo::model(nam = "jobs", sync_group = ["org:{org_id}"])]
pub struct Task {
    pub org_id: String,
}

fn main() {}
