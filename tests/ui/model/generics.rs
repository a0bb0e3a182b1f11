#[ablo::model]
pub struct Task<T> {
    pub title: T,
}

fn main() {}
