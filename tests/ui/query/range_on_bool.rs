use ablo::prelude::*;

#[ablo::model]
pub struct Task {
    pub title: String,
    pub done: bool,
    pub tags: Vec<String>,
}

fn main() {
    let f = Task::fields();
    let _fine = Query::<Task>::new().filter(f.title.gte("m")).filter(f.done.ne(true));
    let _no_order = Query::<Task>::new().filter(f.done.gt(false));
    let _no_order_either = Query::<Task>::new().filter(f.tags.lt(vec![]));
}
