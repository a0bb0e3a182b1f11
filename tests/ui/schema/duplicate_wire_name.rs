mod work {
    #[ablo::model]
    pub struct Task {
        pub title: String,
    }
}

mod chores {
    #[ablo::model(name = "tasks")]
    pub struct Chore {
        pub title: String,
    }
}

ablo::schema! {
    pub struct App {
        tasks: work::Task,
        chores: chores::Chore,
    }
}

fn main() {
    let _ = App::descriptor();
}
