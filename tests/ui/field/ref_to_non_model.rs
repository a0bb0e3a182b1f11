use ablo::prelude::*;

pub struct Note {
    pub text: String,
}

#[ablo::model]
pub struct Task {
    pub title: String,
    pub note: Ref<Note>,
}

fn main() {}
