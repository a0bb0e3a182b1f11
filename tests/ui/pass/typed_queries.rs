use ablo::prelude::*;

#[derive(ablo::Enum)]
pub enum TaskStatus {
    Todo,
    Done,
}

#[ablo::model]
pub struct Project {
    pub name: String,
}

#[ablo::model]
pub struct Task {
    pub title: String,
    pub status: TaskStatus,
    pub summary: Option<String>,
    pub project: Ref<Project>,
    #[ablo(rename = "score")]
    pub points: i64,
}

fn main() {
    let f = Task::fields();
    let q: Query<Task> = Query::new()
        .filter(f.status.eq(TaskStatus::Done))
        .filter(f.title.eq("Plan"))
        .filter(f.summary.is_null())
        .filter(f.points.eq(3))
        .order_by_desc(f.points)
        .limit(10);
    let params = q.to_params().unwrap();
    assert_eq!(params[0].1, r#"{"score":3,"status":"done","summary":null,"title":"Plan"}"#);
    assert_eq!(params[1].1, "score:desc");
    assert!(q.validate(&Task::descriptor()).is_ok());
    // Every operator, on the types it takes; `FilterOp` is in the prelude.
    let ops: Query<Task> = Query::new()
        .filter(f.points.gte(1))
        .filter(f.points.lt(10))
        .filter(f.status.is_in([TaskStatus::Todo, TaskStatus::Done]))
        .filter(f.status.gt(TaskStatus::Done))
        .filter(f.title.ne("Archive"))
        .filter(f.summary.is_not_null())
        .filter(f.summary.lte(Some("m".to_owned())))
        .filter(f.project.ne(Id::<Project>::new("p1")))
        .where_op("score", FilterOp::Ne, 5);
    assert!(ops.validate(&Task::descriptor()).is_ok());
    assert!(ops.to_params().unwrap()[0].1.contains(r#""score":{"gte":1,"lt":10,"ne":5}"#));
    let misspelled: Query<Task> = Query::new().where_eq("titel", "Plan");
    assert_eq!(misspelled.validate(&Task::descriptor()).unwrap_err().code(), "invalid_query");
}
