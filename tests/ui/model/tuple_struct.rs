#[ablo::model]
pub struct Task(String, bool);

fn main() {}
