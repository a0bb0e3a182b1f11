#[derive(ablo::Enum)]
#[ablo(rename = "status")]
pub enum Status {
    #[ablo(rename = "done")]
    Todo,
    Done,
    #[ablo(label = "x")]
    Archived,
    #[ablo(rename = "")]
    Deleted,
    Purged = 7,
}

fn main() {}
