#[derive(ablo::Enum)]
#[derive(Clone, Copy)]
pub enum Status {
    Todo,
    Done,
}

fn main() {}
