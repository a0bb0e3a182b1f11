use ablo::prelude::*;

#[derive(ablo::Enum)]
#[derive(Debug)]
pub enum Status {
    Todo,
    Done,
}

#[derive(ablo::Enum)]
pub enum Priority {
    Low,
    High(u8),
}

#[ablo::model(colour = "red")]
pub struct Project {
    pub name: String,
}

#[ablo::model]
pub struct Task {
    pub id: String,
    pub status: Status,
    pub priority: Priority,
    pub project: Ref<Project>,
    pub timeout: std::time::Duration,
}

#[ablo::model]
pub struct Comment {
    pub task: Ref<Task>,
    pub body: String,
}

ablo::schema! { pub struct App { projects: Project, tasks: Task, comments: Comment } }

fn main() {
    let _ = Status::Todo;
    let _ = Priority::Low;
}
