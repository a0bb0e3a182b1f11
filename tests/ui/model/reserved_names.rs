#[ablo::model]
pub struct Task {
    pub id: String,
    pub created_at: ablo::prelude::Timestamp,
    #[ablo(rename = "stamp")]
    pub version: i64,
    pub new: bool,
}

fn main() {}
