#[ablo::model]
pub struct Task {
    pub title: String,
    pub boxed: Box<String>,
}

fn main() {}
