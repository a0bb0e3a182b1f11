//! A user crate keeps its generated frontend files fresh from `cargo test`
//! through `ablo::codegen`, with no `ablo.schema.json` in between.

#[derive(ablo::Enum)]
pub enum Priority {
    Low,
    High,
}

#[ablo::model]
pub struct Ticket {
    pub title: String,
    pub priority: Priority,
    pub notes: Option<String>,
}

ablo::schema! { pub struct HelpDesk { tickets: Ticket } }

#[test]
fn generated_files_are_fresh_until_someone_edits_them() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web/src/ablo");
    let report = ablo::codegen::generate(&HelpDesk::descriptor(), &web).unwrap();
    assert!(!report.written.is_empty());
    let ts = std::fs::read_to_string(web.join("ablo.ts")).unwrap();
    assert!(ts.contains("export interface Ticket"), "{ts}");
    assert!(ts.contains("\"low\" | \"high\""), "{ts}");

    ablo::codegen::check(&HelpDesk::descriptor(), &web)
        .unwrap()
        .assert_fresh();

    std::fs::write(web.join("ablo.ts"), ts.replace("title", "heading")).unwrap();
    let report = ablo::codegen::check(&HelpDesk::descriptor(), &web).unwrap();
    assert!(!report.is_fresh());
    assert_eq!(report.stale.len(), 1);
}

#[test]
fn the_schema_file_round_trips_through_the_facade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ablo.schema.json");
    ablo::codegen::write_schema_json(&HelpDesk::descriptor(), &path).unwrap();
    let back = ablo::codegen::read_schema_json(&path).unwrap();
    assert_eq!(back, HelpDesk::descriptor());
}
