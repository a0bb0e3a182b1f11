//! The real `ablo-server export`, `import` and `copy` binaries on a store
//! with a table large enough for a progress bar: stdout carries the dump
//! and nothing else (the bar is drawn on stderr, and not at all when
//! stderr is not a terminal), a second import is refused with a non-zero
//! exit, and `copy` moves the same store.

use std::io::Write;
use std::process::{Command, Stdio};

use ablo_runtime::wire::{Actor, Delta, DeltaAction, ParticipantKind};
use ablo_runtime::{Json, SyncId, Timestamp};
use ablo_server::storage::{Storage, StoredRow, TransferStorage};

const BIN: &str = env!("CARGO_BIN_EXE_ablo-server");
const ROWS: usize = 2500;

/// A SQLite store with `rows` rows written in commits of 500 rows.
fn filled_store(dir: &std::path::Path, rows: usize) -> ablo_server::storage::StoreContents {
    let storage = ablo_server::storage::SqliteStorage::open(dir).unwrap();
    storage.server_secret("list_cursor").unwrap();
    storage
        .put_api_key(&ablo_server::auth::record_for(
            "sk_test_transfer_cli_0123456789",
            "cli test",
        ))
        .unwrap();
    let now = Timestamp::now();
    for batch in 0..rows.div_ceil(500) {
        storage
            .write_group(1, &mut |_, tx| {
                let sync_id = tx.head().next();
                for i in 0..500.min(rows - batch * 500) {
                    let id = format!("t{:05}", batch * 500 + i);
                    let mut data = serde_json::Map::new();
                    data.insert("title".into(), Json::String(format!("task {id}")));
                    tx.put_row(&StoredRow {
                        model: "tasks".into(),
                        id: id.clone(),
                        data: data.clone(),
                        field_stamps: Default::default(),
                        stamp: sync_id,
                        created_at: now,
                        updated_at: now,
                        sync_groups: vec!["default".into()],
                    })?;
                    tx.append_delta(
                        i,
                        &Delta {
                            sync_id,
                            model: "tasks".into(),
                            id,
                            action: DeltaAction::Insert,
                            data: Json::Object(data),
                            changed_fields: vec!["title".into()],
                            client_tx_id: format!("tx_{batch}"),
                            actor: Actor {
                                kind: ParticipantKind::System,
                                id: "key_cli".into(),
                            },
                            sync_groups: vec!["default".into()],
                            left_sync_groups: vec![],
                            entered_sync_groups: vec![],
                            flagged: false,
                        },
                    )?;
                }
                tx.advance_head(sync_id);
                Ok(Ok(()))
            })
            .unwrap();
    }
    storage.contents().unwrap()
}

fn contents(dir: &std::path::Path) -> ablo_server::storage::StoreContents {
    ablo_server::storage::SqliteStorage::open(dir)
        .unwrap()
        .contents()
        .unwrap()
}

#[test]
fn export_import_and_copy_through_the_binary() {
    let source = tempfile::tempdir().unwrap();
    let expected = filled_store(source.path(), ROWS);
    assert_eq!(expected.rows, ROWS as u64);
    assert_eq!(expected.head, SyncId((ROWS / 500) as u64));

    let export = Command::new(BIN)
        .args(["export", "--data"])
        .arg(source.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&export.stderr);
    assert!(export.status.success(), "{stderr}");
    assert!(stderr.starts_with("exported "), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no bar drawn on a pipe: {stderr:?}"
    );
    let dump = String::from_utf8(export.stdout).unwrap();
    let lines: Vec<&str> = dump.lines().collect();
    // Every line of stdout is a record of the dump: nothing else is mixed in.
    for line in &lines {
        serde_json::from_str::<Json>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    let header: Json = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(header["header"]["format"], "ablo-dump");
    assert_eq!(header["header"]["backend"], "sqlite");
    assert_eq!(header["header"]["head"], 5);
    assert_eq!(lines.len(), 1 + 1 + 1 + 2 * ROWS + 1);
    assert_eq!(
        *lines.last().unwrap(),
        format!("{{\"end\":{{\"records\":{}}}}}", 2 + 2 * ROWS)
    );

    let target = tempfile::tempdir().unwrap();
    let import = |dir: &std::path::Path| {
        let mut child = Command::new(BIN)
            .args(["import", "--data"])
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A refused import exits without reading: the pipe may break.
        let _ = child.stdin.take().unwrap().write_all(dump.as_bytes());
        child.wait_with_output().unwrap()
    };
    let first = import(target.path());
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    assert!(
        stderr.contains("the next commit takes sync id 6"),
        "{stderr}"
    );
    assert_eq!(contents(target.path()), expected);

    let again = import(target.path());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success());
    assert!(
        stderr.contains("not empty") && stderr.contains("nothing was imported"),
        "{stderr}"
    );
    assert_eq!(contents(target.path()), expected, "left as it was");

    let copied = tempfile::tempdir().unwrap();
    let copy = Command::new(BIN)
        .args(["copy", "--from"])
        .arg(source.path())
        .arg("--to")
        .arg(copied.path())
        .output()
        .unwrap();
    assert!(
        copy.status.success(),
        "{}",
        String::from_utf8_lossy(&copy.stderr)
    );
    assert_eq!(contents(copied.path()), expected);

    let missing = Command::new(BIN)
        .args(["export", "--data"])
        .arg(source.path().join("nowhere"))
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("no store here"),
        "an export never creates an empty store"
    );
}

/// Not a test: fills `ABLO_TRANSFER_DIR` with `ABLO_TRANSFER_ROWS` rows (and
/// as many deltas) to time a move of a large table with the release binary:
/// `ablo-server copy --from $ABLO_TRANSFER_DIR --to postgres://...`.
#[test]
#[ignore]
fn fill_a_large_store_for_timing() {
    let dir = std::env::var("ABLO_TRANSFER_DIR").expect("ABLO_TRANSFER_DIR");
    let rows: usize = std::env::var("ABLO_TRANSFER_ROWS")
        .map(|n| n.parse().unwrap())
        .unwrap_or(200_000);
    let contents = filled_store(std::path::Path::new(&dir), rows);
    eprintln!("{}", contents.summary());
}
