#[ablo::model]
pub struct Task {
    pub title: String,
}

#[ablo::model]
pub struct Project {
    pub name: String,
}

ablo::schema! {
    pub struct App {
        tasks: Task,
        projects: Project,
        tasks: Project,
    }
}

fn main() {}
