#[ablo::model]
pub enum Status {
    Todo,
    Done,
}

fn main() {}
