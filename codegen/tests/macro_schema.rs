//! Generation from a schema declared with the real `#[ablo::model]`,
//! `#[ablo::object]`, `#[derive(ablo::Enum)]` and `ablo::schema!` macros:
//! the output compiles under `tsc --strict`, validates with Python's
//! `jsonschema`, accepts rows serialized from the macro-built structs, and is
//! fresh after `generate`.

mod common;

use std::path::Path;
use std::process::Command;

use ablo::prelude::*;
use serde_json::json;

#[derive(ablo::Enum)]
pub enum Colour {
    Red,
    Green,
    DarkBlue,
}

/// Size of a lane, in metres.
#[ablo::object]
pub struct Dimensions {
    pub width: u16,
    pub height: f32,
    pub depth: Option<i8>,
}

#[ablo::object]
pub struct Lane {
    pub title: String,
    pub limit: Option<u32>,
    pub size: Dimensions,
}

/// A board of cards.
#[ablo::model(sync_groups = ["org:{org_id}"])]
pub struct Board {
    #[ablo(index)]
    pub org_id: String,
    pub name: String,
    pub lanes: Vec<Lane>,
    pub colour: Colour,
    pub visits: u64,
}

#[ablo::model]
pub struct Card {
    pub board: Ref<Board>,
    pub blocked_by: Option<Ref<Card>>,
    pub watchers: Vec<Ref<Board>>,
    /// Shown on the card.
    pub title: String,
    pub weight: i64,
    pub ratio: f64,
    pub labels: Vec<Option<String>>,
    pub attachments: Option<Vec<String>>,
    pub external_ref: Uuid,
    pub data: Json,
    pub due_at: Option<Timestamp>,
}

ablo::schema! {
    pub struct Kanban {
        boards: Board,
        cards: Card,
    }
}

fn card_row() -> Row<Card> {
    Row {
        id: Id::new("card_1"),
        stamp: SyncId(17),
        created_at: Timestamp::from_millis(1_764_000_000_000).unwrap(),
        updated_at: Timestamp::from_millis(1_764_000_000_001).unwrap(),
        data: Card {
            board: Ref::new("board_1"),
            blocked_by: None,
            watchers: vec![Ref::new("board_2")],
            title: "Ship it".into(),
            weight: -9_007_199_254_740_991,
            ratio: 0.25,
            labels: vec![Some("x".into()), None],
            attachments: None,
            external_ref: Uuid::nil(),
            data: json!({"k": [1, "two"]}),
            due_at: Some(Timestamp::from_millis(1_765_000_000_000).unwrap()),
        },
    }
}

fn board_row() -> Row<Board> {
    Row {
        id: Id::new("board_1"),
        stamp: SyncId(3),
        created_at: Timestamp::from_millis(1_764_000_000_000).unwrap(),
        updated_at: Timestamp::from_millis(1_764_000_000_000).unwrap(),
        data: Board {
            org_id: "org_1".into(),
            name: "Roadmap".into(),
            lanes: vec![Lane {
                title: "Doing".into(),
                limit: Some(3),
                size: Dimensions {
                    width: 2,
                    height: 1.5,
                    depth: None,
                },
            }],
            colour: Colour::DarkBlue,
            visits: 12,
        },
    }
}

#[test]
fn macro_built_schema_generates_fresh_output() {
    let dir = tempfile::tempdir().unwrap();
    let descriptor = Kanban::descriptor();
    let report = ablo_codegen::generate(&descriptor, dir.path()).unwrap();
    assert_eq!(report.written.len(), 4);
    ablo_codegen::check(&descriptor, dir.path())
        .unwrap()
        .assert_fresh();

    let ts = std::fs::read_to_string(dir.path().join("ablo.ts")).unwrap();
    for expected in [
        "export type Colour = \"red\" | \"green\" | \"dark_blue\";",
        "  boardId: string;",
        "  blockedById: string | null;",
        "  watchers: Array<string>;",
        "  weight: number;",
        "  labels: Array<string | null>;",
        "  attachments?: Array<string> | null;",
        "  data: JsonValue;",
        "/** Shown on the card. */",
    ] {
        assert!(ts.contains(expected), "ablo.ts lacks {expected:?}:\n{ts}");
    }
}

#[test]
fn macro_built_schema_compiles_under_tsc_strict() {
    let dir = tempfile::tempdir().unwrap();
    ablo_codegen::generate(&Kanban::descriptor(), dir.path()).unwrap();
    std::fs::write(
        dir.path().join("usage.ts"),
        include_str!("fixtures/macro_usage.ts"),
    )
    .unwrap();
    let out = Command::new(common::tsc())
        .current_dir(dir.path())
        .args([
            "--strict", "--noEmit", "--target", "es2022", "--module", "esnext",
        ])
        .args([
            "--moduleResolution",
            "bundler",
            "--pretty",
            "false",
            "ablo.ts",
            "usage.ts",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tsc failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn macro_built_rows_validate_against_the_generated_json_schema() {
    let dir = tempfile::tempdir().unwrap();
    ablo_codegen::generate(&Kanban::descriptor(), dir.path()).unwrap();
    let card = serde_json::to_value(card_row()).unwrap();
    let board = serde_json::to_value(board_row()).unwrap();
    let mut bad_colour = board.clone();
    bad_colour["colour"] = json!("DarkBlue");
    let mut missing = card.clone();
    missing.as_object_mut().unwrap().remove("boardId");
    let mut too_big = board.clone();
    too_big["lanes"][0]["size"]["width"] = json!(65_536);
    let cases = json!([
        {"label": "card", "file": "cards.schema.json", "def": null, "instance": card},
        {"label": "board", "file": "boards.schema.json", "def": null, "instance": board},
        {"label": "bad colour", "file": "boards.schema.json", "def": null, "instance": bad_colour},
        {"label": "missing boardId", "file": "cards.schema.json", "def": null, "instance": missing},
        {"label": "u16 overflow in a nested object", "file": "boards.schema.json", "def": null, "instance": too_big},
        {"label": "card patch", "file": "cards.schema.json", "def": "CardPatch", "instance": {"blockedById": null, "title": "t"}},
        {"label": "openapi board", "file": "openapi.json", "def": "Board", "instance": board},
    ]);
    let cases_file = dir.path().join("cases.json");
    std::fs::write(&cases_file, cases.to_string()).unwrap();
    let out = common::python_with_jsonschema()
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/validate.py"))
        .arg(dir.path())
        .arg(&cases_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let valid: Vec<(String, bool)> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["label"].as_str().unwrap().to_owned(),
                c["valid"].as_bool().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("card", true),
        ("board", true),
        ("bad colour", false),
        ("missing boardId", false),
        ("u16 overflow in a nested object", false),
        ("card patch", true),
        ("openapi board", true),
    ];
    let expected: Vec<(String, bool)> = expected.iter().map(|(l, v)| (l.to_string(), *v)).collect();
    assert_eq!(valid, expected, "{report}");
}

#[test]
fn macro_built_schema_round_trips_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let schema_path = dir.path().join("ablo.schema.json");
    ablo_codegen::write_schema_json(&Kanban::descriptor(), &schema_path).unwrap();
    let out_dir = dir.path().join("web");
    let run = |mode: &str| {
        Command::new(env!("CARGO_BIN_EXE_ablo-codegen"))
            .args([
                mode,
                "--schema",
                schema_path.to_str().unwrap(),
                "--out",
                out_dir.to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    assert!(run("generate").status.success());
    assert_eq!(run("check").status.code(), Some(0));
    // The CLI (from the file) and the library (in process) agree byte for byte.
    ablo_codegen::check(&Kanban::descriptor(), &out_dir)
        .unwrap()
        .assert_fresh();
}
