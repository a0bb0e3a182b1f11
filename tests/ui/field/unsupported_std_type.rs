#[ablo::model]
pub struct Job {
    pub title: String,
    pub timeout: std::time::Duration,
}

ablo::schema! { pub struct App { jobs: Job } }

fn main() {}
