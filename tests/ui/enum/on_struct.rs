#[derive(ablo::Enum)]
pub struct Status {
    pub value: String,
}

fn main() {}
