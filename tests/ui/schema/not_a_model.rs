pub struct Note {
    pub text: String,
}

ablo::schema! {
    pub struct App {
        notes: Note,
    }
}

fn main() {}
