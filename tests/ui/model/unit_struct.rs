#[ablo::model]
pub struct Marker;

fn main() {}
