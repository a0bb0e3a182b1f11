#[ablo::model(name = "my tasks")]
pub struct Task {
    pub title: String,
}

fn main() {}
