//! `generate` and `check`: fresh output passes, any edit, missing or extra
//! file fails with a readable report.

mod common;

use std::fs;
use std::path::Path;

fn generated() -> (tempfile::TempDir, ablo_runtime::SchemaDescriptor) {
    let dir = tempfile::tempdir().unwrap();
    let schema = common::tracker_schema();
    let report = ablo_codegen::generate(&schema, dir.path()).unwrap();
    assert_eq!(report.written.len(), 4);
    (dir, schema)
}

#[test]
fn fresh_output_passes() {
    let (dir, schema) = generated();
    let report = ablo_codegen::check(&schema, dir.path()).unwrap();
    assert!(report.is_fresh(), "{report}");
    report.assert_fresh();
    assert!(report.to_string().contains("up to date"));
}

#[test]
fn an_edited_file_is_stale_with_a_unified_diff() {
    let (dir, schema) = generated();
    let path = dir.path().join("ablo.ts");
    let text = fs::read_to_string(&path).unwrap();
    fs::write(
        &path,
        text.replace("  points: number;\n", "  points: string;\n"),
    )
    .unwrap();
    let report = ablo_codegen::check(&schema, dir.path()).unwrap();
    assert!(!report.is_fresh());
    assert_eq!(report.stale.len(), 1);
    assert_eq!(report.stale[0].path, Path::new("ablo.ts"));
    let diff = &report.stale[0].diff;
    assert!(diff.contains("--- a/ablo.ts (on disk)"), "{diff}");
    assert!(diff.contains("+++ b/ablo.ts (generated)"), "{diff}");
    assert!(diff.contains("@@"), "{diff}");
    assert!(
        diff.contains("-  points: string;\n+  points: number;"),
        "{diff}"
    );
    let text = report.to_string();
    assert!(text.contains("1 changed, 0 missing, 0 extra"), "{text}");
    assert!(text.contains("run `ablo-codegen generate`"), "{text}");
}

#[test]
fn a_whitespace_edit_in_a_json_schema_is_stale() {
    let (dir, schema) = generated();
    let path = dir.path().join("schemas/tasks.schema.json");
    let text = fs::read_to_string(&path).unwrap();
    fs::write(&path, format!("{text}\n")).unwrap();
    let report = ablo_codegen::check(&schema, dir.path()).unwrap();
    assert_eq!(report.stale.len(), 1);
    assert_eq!(report.stale[0].path, Path::new("schemas/tasks.schema.json"));
}

#[test]
fn missing_and_extra_files_fail() {
    let (dir, schema) = generated();
    fs::remove_file(dir.path().join("openapi.json")).unwrap();
    fs::write(dir.path().join("schemas/notes.txt"), "mine").unwrap();
    let report = ablo_codegen::check(&schema, dir.path()).unwrap();
    assert_eq!(report.missing, [Path::new("openapi.json")]);
    assert_eq!(report.extra, [Path::new("schemas/notes.txt")]);
    let text = report.to_string();
    assert!(text.contains("missing: openapi.json"), "{text}");
    assert!(
        text.contains("extra (not generated): schemas/notes.txt"),
        "{text}"
    );
    let panic = std::panic::catch_unwind(|| report.assert_fresh()).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("missing: openapi.json"), "{message}");
}

#[test]
fn a_missing_directory_reports_every_file_missing() {
    let dir = tempfile::tempdir().unwrap();
    let schema = common::tracker_schema();
    let report = ablo_codegen::check(&schema, dir.path().join("nope")).unwrap();
    assert_eq!(report.missing.len(), 4);
}

#[test]
fn a_schema_change_makes_output_stale_and_generate_fixes_it() {
    let (dir, _) = generated();
    let mut fields = common::task_fields();
    fields.retain(|f| f.name != "score");
    // Drop the field from the embedded declarations too, as the macro would.
    let mut changed = common::tracker_schema_with(fields);
    let tasks = changed
        .models
        .iter_mut()
        .find(|m| m.name == "tasks")
        .unwrap();
    tasks.ts = tasks.ts.replace(" score: number,", "");
    tasks.json_schema["properties"]
        .as_object_mut()
        .unwrap()
        .remove("score");
    let report = ablo_codegen::check(&changed, dir.path()).unwrap();
    let stale: Vec<_> = report
        .stale
        .iter()
        .map(|s| s.path.to_str().unwrap())
        .collect();
    assert!(
        stale.contains(&"ablo.ts") && stale.contains(&"schemas/tasks.schema.json"),
        "{stale:?}"
    );
    assert!(
        report.stale[0].diff.contains("-  score: number;"),
        "{}",
        report.stale[0].diff
    );

    let regenerated = ablo_codegen::generate(&changed, dir.path()).unwrap();
    assert!(regenerated.written.len() >= 3);
    ablo_codegen::check(&changed, dir.path())
        .unwrap()
        .assert_fresh();
}

#[test]
fn generate_removes_files_of_a_removed_model_but_keeps_user_files() {
    let (dir, mut schema) = generated();
    fs::write(dir.path().join("README.md"), "hand-written").unwrap();
    schema.models.retain(|m| m.name == "projects");
    schema.hash = schema.content_hash();
    let report = ablo_codegen::generate(&schema, dir.path()).unwrap();
    assert_eq!(report.removed, [Path::new("schemas/tasks.schema.json")]);
    assert!(!dir.path().join("schemas/tasks.schema.json").exists());
    assert!(dir.path().join("README.md").exists());
    let check = ablo_codegen::check(&schema, dir.path()).unwrap();
    assert_eq!(check.extra, [Path::new("README.md")]);
    assert!(check.stale.is_empty() && check.missing.is_empty());
}

#[test]
fn generate_leaves_up_to_date_files_untouched() {
    let (dir, schema) = generated();
    let path = dir.path().join("ablo.ts");
    let before = fs::metadata(&path).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let report = ablo_codegen::generate(&schema, dir.path()).unwrap();
    assert!(report.written.is_empty());
    assert_eq!(report.unchanged.len(), 4);
    assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), before);
}

#[test]
fn an_output_path_that_is_a_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out");
    fs::write(&file, "x").unwrap();
    let schema = common::tracker_schema();
    for err in [
        ablo_codegen::generate(&schema, &file).unwrap_err(),
        ablo_codegen::check(&schema, &file).unwrap_err(),
    ] {
        assert!(
            matches!(err, ablo_codegen::CodegenError::OutputNotADirectory(_)),
            "{err}"
        );
        assert!(err.to_string().contains("is not a directory"));
    }
}

#[test]
fn a_directory_where_a_file_belongs_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("ablo.ts")).unwrap();
    let err = ablo_codegen::generate(&common::tracker_schema(), dir.path()).unwrap_err();
    assert!(
        matches!(err, ablo_codegen::CodegenError::Io { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("ablo.ts"), "{err}");
}

#[test]
fn write_schema_json_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/ablo.schema.json");
    let schema = common::tracker_schema();
    ablo_codegen::write_schema_json(&schema, &path).unwrap();
    assert_eq!(ablo_codegen::read_schema_json(&path).unwrap(), schema);
    assert_eq!(fs::read_to_string(&path).unwrap(), schema.to_json_pretty());
}

#[test]
fn write_schema_json_reports_an_unwritable_path() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    fs::write(&blocker, "x").unwrap();
    let err = ablo_codegen::write_schema_json(
        &common::tracker_schema(),
        blocker.join("ablo.schema.json"),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            ablo_codegen::CodegenError::Io {
                action: "create directory",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("file"), "{err}");
}

#[cfg(unix)]
#[test]
fn a_symlink_loop_in_the_output_directory_does_not_hang_check() {
    let (dir, schema) = generated();
    std::os::unix::fs::symlink(dir.path(), dir.path().join("loop")).unwrap();
    let report = ablo_codegen::check(&schema, dir.path()).unwrap();
    assert_eq!(report.extra, [Path::new("loop")]);
}

#[test]
fn check_schema_json_reports_a_stale_descriptor_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ablo.schema.json");
    let old = common::tracker_schema();
    ablo_codegen::write_schema_json(&old, &path).unwrap();
    fs::write(dir.path().join("unrelated.txt"), "x").unwrap();
    ablo_codegen::check_schema_json(&old, &path)
        .unwrap()
        .assert_fresh();

    let mut fields = common::task_fields();
    fields.retain(|f| f.name != "score");
    let new = common::tracker_schema_with(fields);
    let report = ablo_codegen::check_schema_json(&new, &path).unwrap();
    assert_eq!(report.stale.len(), 1);
    assert_eq!(report.stale[0].path, Path::new("ablo.schema.json"));
    assert!(
        report.stale[0]
            .diff
            .contains("-          \"name\": \"score\","),
        "{}",
        report.stale[0].diff
    );
    let text = report.to_string();
    assert!(text.contains("ablo_codegen::write_schema_json"), "{text}");
    assert!(report.extra.is_empty(), "files beside it are not looked at");
}
