#[derive(ablo::Enum)]
#[derive(Debug)]
pub enum Status {
    Todo,
    Done,
}

#[ablo::model]
pub struct Task {
    pub title: String,
    pub status: Status,
    pub previous: Option<Status>,
}

#[ablo::model]
pub struct Board {
    pub name: String,
    pub default_status: Status,
    pub statuses: Vec<Status>,
}

ablo::schema! { pub struct App { tasks: Task, boards: Board } }

fn main() {
    let _patch = TaskPatch::new().status(Status::Done);
    let _status = Status::Todo;
}
