//! A model may derive Clone, Debug and PartialEq itself (below
//! `#[ablo::model]`, which must come first to see them), carry other
//! attributes and be private; raw identifiers and doc comments work.

/// Notes taken during a call.
#[ablo::model]
#[derive(Clone, Debug, PartialEq)]
#[allow(dead_code)]
struct Note {
    /// The text.
    text: String,
    r#match: Option<bool>,
}

#[derive(ablo::Enum)]
enum Mood {
    Calm,
}

#[ablo::model]
pub struct TaskList {
    pub title: String,
}

#[ablo::model]
pub struct Category {
    pub label: String,
}

#[ablo::model]
pub struct Box {
    pub mood_name: String,
}

ablo::schema! {
    struct App {
        notes: Note,
        task_lists: TaskList,
        categories: Category,
        boxes: Box,
    }
}

fn main() {
    use ablo::prelude::Model;
    assert_eq!(Note::NAME, "notes");
    assert_eq!(TaskList::NAME, "taskLists");
    assert_eq!(Category::NAME, "categories");
    assert_eq!(Box::NAME, "boxes");
    assert_eq!(App::descriptor().models.len(), 4);
    assert_eq!(Note::descriptor().doc.as_deref(), Some("Notes taken during a call."));
    assert_eq!(Note::descriptor().fields[1].name, "match");
    assert_eq!(format!("{:?}", Mood::Calm), "Calm");
}
