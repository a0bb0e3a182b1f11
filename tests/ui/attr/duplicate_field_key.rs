#[ablo::model]
pub struct Task {
    #[ablo(rename = "name", index, rename = "label")]
    pub title: String,
    #[ablo(index)]
    #[ablo(index)]
    pub position: i64,
}

fn main() {}
