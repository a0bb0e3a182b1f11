#[ablo::object(name = "addresses")]
pub struct Address {
    pub street: String,
}

#[ablo::object]
pub struct Point {
    #[ablo(index)]
    pub x: f64,
    pub y: f64,
    #[ablo(rename = "x")]
    pub z: f64,
}

#[ablo::object]
pub struct Pair(f64, f64);

fn main() {}
