//! The `ablo-codegen` binary: modes, exit codes and error messages.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use ablo_runtime::FieldType;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ablo-codegen"))
        .args(args)
        .output()
        .expect("binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write_schema(dir: &Path, name: &str, schema: &ablo_runtime::SchemaDescriptor) -> String {
    let path = dir.join(name);
    ablo_codegen::write_schema_json(schema, &path).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn help_explains_each_mode() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for mode in ["generate", "check", "diff"] {
        assert!(help.contains(mode), "{help}");
    }
    assert!(help.contains("Exit codes"), "{help}");
    let check = text(&run(&["check", "--help"]).stdout);
    assert!(
        check.contains("unified") && check.contains("exits 1"),
        "{check}"
    );
    let diff = text(&run(&["diff", "--help"]).stdout);
    assert!(
        diff.contains("Breaking") && diff.contains("OLD") && diff.contains("NEW"),
        "{diff}"
    );
}

#[test]
fn generate_then_check_is_fresh_and_an_edit_makes_it_stale() {
    let dir = tempfile::tempdir().unwrap();
    let schema = write_schema(dir.path(), "ablo.schema.json", &common::tracker_schema());
    let out_dir = dir.path().join("web");
    let out_str = out_dir.to_str().unwrap();

    let out = run(&["generate", "--schema", &schema, "--out", out_str]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("4 written, 0 unchanged, 0 removed"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        fs::read_to_string(out_dir.join("ablo.ts")).unwrap(),
        ablo_codegen::render(&common::tracker_schema()).unwrap()[Path::new("ablo.ts")]
    );

    let out = run(&["check", "--schema", &schema, "--out", out_str]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("up to date"));

    let ts = out_dir.join("ablo.ts");
    let edited = fs::read_to_string(&ts)
        .unwrap()
        .replace("\"in_progress\"", "\"in-progress\"");
    fs::write(&ts, edited).unwrap();
    let out = run(&["check", "--schema", &schema, "--out", out_str]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("changed: ablo.ts"), "{stdout}");
    assert!(
        stdout.contains("-export type TaskStatus = \"todo\" | \"in-progress\" | \"done\";"),
        "{stdout}"
    );
    assert!(
        stdout.contains("+export type TaskStatus = \"todo\" | \"in_progress\" | \"done\";"),
        "{stdout}"
    );
}

#[test]
fn check_of_an_empty_directory_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let schema = write_schema(dir.path(), "ablo.schema.json", &common::tracker_schema());
    let out = run(&[
        "check",
        "--schema",
        &schema,
        "--out",
        dir.path().join("web").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("missing: ablo.ts"));
}

#[test]
fn diff_exits_1_on_a_removed_field_and_0_on_an_added_optional_field() {
    let dir = tempfile::tempdir().unwrap();
    let old = write_schema(dir.path(), "old.json", &common::tracker_schema());

    let mut fields = common::task_fields();
    fields.retain(|f| f.name != "summary");
    let removed = write_schema(
        dir.path(),
        "removed.json",
        &common::tracker_schema_with(fields),
    );
    let out = run(&["diff", &old, &removed]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("BREAKING tasks.summary: field removed"),
        "{}",
        text(&out.stdout)
    );

    let mut fields = common::task_fields();
    fields.push(common::field(
        "notes",
        "notes",
        FieldType::optional(FieldType::String),
    ));
    let added = write_schema(
        dir.path(),
        "added.json",
        &common::tracker_schema_with(fields),
    );
    let out = run(&["diff", &old, &added]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("ok tasks.notes: optional field added"),
        "{}",
        text(&out.stdout)
    );

    let out = run(&["diff", &old, &old]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "no changes\n");
}

/// Runs every mode on `schema_path` and expects exit 2 with `message`.
fn expect_exit_2_everywhere(dir: &Path, schema_path: &str, message: &str) {
    let good = write_schema(dir, "good.json", &common::tracker_schema());
    let out_dir = dir.join("out");
    let out_str = out_dir.to_str().unwrap();
    for args in [
        vec!["generate", "--schema", schema_path, "--out", out_str],
        vec!["check", "--schema", schema_path, "--out", out_str],
        vec!["diff", schema_path, &good],
        vec!["diff", &good, schema_path],
    ] {
        let out = run(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let stderr = text(&out.stderr);
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

#[test]
fn unreadable_schema_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    expect_exit_2_everywhere(
        dir.path(),
        missing.to_str().unwrap(),
        "cannot read schema file",
    );
}

#[test]
fn invalid_json_exits_2_with_the_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    fs::write(&path, "{\n  \"formatVersion\": 1,\n  oops\n}").unwrap();
    expect_exit_2_everywhere(dir.path(), path.to_str().unwrap(), "line 3");
}

#[test]
fn json_of_the_wrong_shape_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shape.json");
    fs::write(&path, r#"{"formatVersion": 1, "name": "App"}"#).unwrap();
    expect_exit_2_everywhere(dir.path(), path.to_str().unwrap(), "missing field `hash`");
}

#[test]
fn another_format_version_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v9.json");
    let mut json: serde_json::Value = serde_json::to_value(common::tracker_schema()).unwrap();
    json["formatVersion"] = 9.into();
    fs::write(&path, json.to_string()).unwrap();
    expect_exit_2_everywhere(dir.path(), path.to_str().unwrap(), "format version 9");
}

#[test]
fn a_hand_edited_schema_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edited.json");
    let text = common::tracker_schema()
        .to_json_pretty()
        .replace("\"Tracker\"", "\"Edited\"");
    fs::write(&path, text).unwrap();
    expect_exit_2_everywhere(
        dir.path(),
        path.to_str().unwrap(),
        "was changed after it was generated",
    );
}

#[test]
fn an_inconsistent_descriptor_exits_2_on_generate_and_check() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = common::tracker_schema();
    schema.enums.retain(|e| e.name != "TaskStatus");
    schema.hash = schema.content_hash();
    let path = write_schema(dir.path(), "bad.json", &schema);
    let out_str = dir.path().join("out");
    for mode in ["generate", "check"] {
        let out = run(&[mode, "--schema", &path, "--out", out_str.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            text(&out.stderr).contains("field tasks.status: uses enum `TaskStatus`"),
            "{}",
            text(&out.stderr)
        );
    }
    assert!(
        !out_str.exists(),
        "nothing is written for an invalid descriptor"
    );
}

#[test]
fn an_output_path_that_is_a_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let schema = write_schema(dir.path(), "ablo.schema.json", &common::tracker_schema());
    let file = dir.path().join("ablo.schema.json");
    let out = run(&[
        "generate",
        "--schema",
        &schema,
        "--out",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is not a directory"));
}

#[test]
fn usage_errors_exit_2() {
    let out = run(&["generate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--out"));
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
}
