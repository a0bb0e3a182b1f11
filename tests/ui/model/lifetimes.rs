#[ablo::model]
pub struct Task<'a> {
    pub title: &'a str,
}

fn main() {}
