use ablo::prelude::*;

#[derive(ablo::Enum)]
pub enum TaskStatus {
    Todo,
    Done,
}

#[ablo::model]
pub struct Task {
    pub title: String,
    pub status: TaskStatus,
    pub points: i64,
}

fn main() {
    let _misspelled = Query::<Task>::new().filter(Task::fields().statu.eq(TaskStatus::Done));
    let _wrong_type = Query::<Task>::new().filter(Task::fields().points.eq("three"));
}
