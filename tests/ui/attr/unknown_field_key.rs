#[ablo::model]
pub struct Task {
    #[ablo(indexed)]
    pub title: String,
}

fn main() {}
