//! A user's crate: it depends on `ablo` and nothing else, declares models
//! with every supported field type, and prints the schema descriptor.

use ablo::prelude::*;

/// A team that owns boards.
#[ablo::model(sync_groups = ["team:{handle}"])]
pub struct Team {
    pub name: String,
    #[ablo(index)]
    pub handle: String,
}

/// A board of cards.
#[ablo::model(name = "boards", sync_groups = ["team:{team}"])]
pub struct Board {
    pub team: Ref<Team>,
    pub title: String,
    pub archived: bool,
}

/// A card with one field of every supported type.
#[ablo::model(sync_groups = ["board:{board}"])]
pub struct Card {
    pub title: String,
    pub done: bool,
    pub tiny: i8,
    pub small: i16,
    pub votes: i32,
    pub position: i64,
    pub flags: u8,
    pub port: u16,
    pub views: u32,
    pub bytes: u64,
    pub ratio: f32,
    pub estimate: f64,
    pub due: Option<Timestamp>,
    pub created_by_import: Timestamp,
    pub payload: Json,
    pub external_id: Uuid,
    pub board: Ref<Board>,
    pub blocked_by: Option<Ref<Card>>,
    pub state: CardState,
    pub labels: Vec<String>,
    pub history: Vec<CardState>,
    pub location: Option<Location>,
    #[ablo(rename = "notes")]
    pub remarks: Option<Vec<String>>,
}

/// Where a card is in its life.
#[derive(ablo::Enum)]
pub enum CardState {
    Open,
    InReview,
    #[ablo(rename = "closed")]
    Done,
}

/// A place on a map.
#[ablo::object]
pub struct Location {
    pub label: String,
    pub latitude: f64,
    pub longitude: f64,
}

ablo::schema! { pub struct App { teams: Team, boards: Board, cards: Card } }

fn main() {
    let descriptor = App::descriptor();
    assert!(descriptor.hash_is_valid());
    print!("{}", descriptor.to_json_pretty());
}
