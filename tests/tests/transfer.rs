//! Moving a deployment between stores (`ablo_server::transfer`, the code
//! behind `ablo-server export`, `import` and `copy`), end to end: a real
//! server on SQLite takes rows, capabilities, an agent's audited writes in
//! a task and an idempotent commit; it stops; its store moves to a fresh
//! PostgreSQL database (skipped with a notice without
//! `ABLO_TEST_POSTGRES_URL`) or another SQLite directory; a server on the
//! new store answers exactly as the old one did. Also: a non-empty target
//! is refused, and a failed import (truncated or corrupt dump) leaves the
//! target empty so it can be run again.

mod authz_common;
mod server_common;

use std::sync::Arc;

use ablo_server::storage::{Storage, StorageLocation, StoreContents, open};
use ablo_server::transfer::{self, NoProgress, TransferError};
use authz_common::{agent_request, http_with, mint};
use reqwest::StatusCode;
use serde_json::{Value, json};
use server_common::{API_KEY, Http, TestServer, task};

/// A server on `storage`; `key` is its bootstrap key (`None`: only the
/// keys already stored are accepted).
async fn serve(storage: StorageLocation, key: Option<&str>) -> TestServer {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = ablo_server::ServerConfig::new(dir.path())
        .with_storage(storage.clone())
        .with_addr("127.0.0.1:0".parse().unwrap());
    if let Some(key) = key {
        config = config.with_api_key(key);
    }
    let server = ablo_server::start(config).await.expect("server starts");
    let url = server.url();
    TestServer {
        http: Http::new(&url, API_KEY),
        url,
        server: Some(server),
        dir,
        storage,
    }
}

/// Opens a store; call it on a blocking thread (the PostgreSQL driver
/// blocks).
fn store(location: &StorageLocation) -> Arc<dyn Storage> {
    open(location).expect("the store opens")
}

async fn blocking<T: Send + 'static>(run: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(run).await.expect("no panic")
}

async fn contents_of(location: &StorageLocation) -> StoreContents {
    let location = location.clone();
    blocking(move || store(&location).contents().unwrap()).await
}

/// What the old server answered, to compare the new one with.
struct Before {
    rows: Value,
    one_row: Value,
    deltas: Value,
    head: u64,
    cap_token: String,
    verify: Value,
    audit: Value,
    replay_body: Value,
    receipt: Value,
    cursor: String,
    second_page: Value,
    task: Value,
    contents: StoreContents,
}

/// Fills a SQLite store through a real server and stops it.
async fn fill(location: StorageLocation) -> Before {
    let server = serve(location.clone(), Some(API_KEY)).await;
    let (status, body) = server
        .http
        .put(
            "/v1/schema",
            &serde_json::to_value(server_common::schema()).unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let http = &server.http;
    for i in 0..6 {
        http.create_task(&format!("t{i}"), &format!("task {i}"))
            .await;
    }
    let (status, body) = http
        .patch(
            "/v1/models/tasks/t1",
            &json!({"data": {"status": "doing", "points": 3}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = http.delete("/v1/models/tasks/t5").await;
    assert!(status.is_success(), "{body}");

    // An agent with a capability writes inside a task: audited.
    let (_cap_id, token) = mint(
        &server,
        agent_request(&["tasks.*", "projects.*"], &["default", "org:a"]),
    )
    .await;
    let agent = http_with(&server, Some(&token));
    let (status, opened) = agent
        .post("/v1/tasks", &json!({"surface": "transfer test"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{opened}");
    let task_id = opened["id"].as_str().unwrap().to_owned();
    for (i, title) in ["agent one", "agent two"].into_iter().enumerate() {
        let (status, body) = agent
            .commit(&json!({"causedByTaskId": task_id, "operations": [
                {"type": "create", "model": "tasks", "id": format!("a{i}"), "data": task(title)},
                {"type": "update", "model": "tasks", "id": "t0", "data": {"points": i + 10}}
            ]}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = agent
        .post(
            "/v1/models/projects",
            &json!({"id": "p1", "data": {"orgId": "a", "name": "Apollo"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, closed) = agent
        .post(
            &format!("/v1/tasks/{task_id}/close"),
            &json!({"status": "done"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{closed}");

    // An idempotent commit.
    let replay_body = json!({"clientTxId": "tx_move", "operations": [
        {"type": "create", "model": "tasks", "id": "i1", "data": task("idempotent")}
    ]});
    let (status, receipt) = http.commit(&replay_body).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");

    // A sealed list cursor.
    let (_, first_page) = http.get("/v1/models/tasks?orderBy=title&limit=3").await;
    let cursor = first_page["nextCursor"].as_str().unwrap().to_owned();
    let (_, second_page) = http
        .get(&format!(
            "/v1/models/tasks?orderBy=title&limit=3&cursor={cursor}"
        ))
        .await;

    let (_, rows) = http.get("/v1/models/tasks?limit=100").await;
    let (_, one_row) = http.get("/v1/models/tasks/t1").await;
    let (_, deltas) = http.get("/v1/sync/deltas?after=0&limit=1000").await;
    let head = deltas["data"].as_array().unwrap().last().unwrap()["syncId"]
        .as_u64()
        .unwrap();
    let (_, verify) = http
        .get("/v1/audit/verify?principalKind=agent&principalId=agent_7")
        .await;
    assert_eq!(verify["ok"], true, "{verify}");
    assert_eq!(verify["rowsChecked"], 5, "{verify}");
    let (_, audit) = http.get("/v1/audit?limit=100").await;
    let (_, task) = http.get(&format!("/v1/tasks/{task_id}")).await;
    assert_eq!(task["status"], "done", "{task}");
    server.stop().await;
    Before {
        rows,
        one_row,
        deltas,
        head,
        cap_token: token,
        verify,
        audit,
        replay_body,
        receipt,
        cursor,
        second_page,
        task,
        contents: contents_of(&location).await,
    }
}

/// A server on the moved store answers as the old one did.
async fn check_moved(to: StorageLocation, before: &Before) {
    assert_eq!(contents_of(&to).await, before.contents);
    // No bootstrap key: the old key must have moved.
    let server = serve(to, None).await;
    let http = &server.http;
    let (status, rows) = http.get("/v1/models/tasks?limit=100").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the old API key authenticates: {rows}"
    );
    assert_eq!(rows, before.rows, "same rows and stamps");
    assert_eq!(http.get("/v1/models/tasks/t1").await.1, before.one_row);
    let (_, deltas) = http.get("/v1/sync/deltas?after=0&limit=1000").await;
    assert_eq!(deltas, before.deltas, "same sync log");

    let agent = http_with(&server, Some(&before.cap_token));
    let (status, body) = agent.get("/v1/models/tasks/t0").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the old capability authenticates: {body}"
    );

    let (_, verify) = http
        .get("/v1/audit/verify?principalKind=agent&principalId=agent_7")
        .await;
    assert_eq!(
        verify, before.verify,
        "the agent's chain verifies as before"
    );
    assert_eq!(http.get("/v1/audit?limit=100").await.1, before.audit);
    let task_id = before.task["id"].as_str().unwrap();
    assert_eq!(
        http.get(&format!("/v1/tasks/{task_id}")).await.1,
        before.task
    );

    let (status, replayed) = http.commit(&before.replay_body).await;
    assert_eq!(status, StatusCode::OK, "{replayed}");
    assert_eq!(replayed, before.receipt, "the idempotent commit replays");

    let (status, page) = http
        .get(&format!(
            "/v1/models/tasks?orderBy=title&limit=3&cursor={}",
            before.cursor
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "the old cursor opens: {page}");
    // The same page; its own `nextCursor` is sealed afresh (a new nonce).
    assert_eq!(page["data"], before.second_page["data"]);
    assert_eq!(page["stamp"], before.second_page["stamp"]);
    assert!(page["nextCursor"].is_string(), "{page}");

    let row = http.create_task("after-move", "after the move").await;
    assert_eq!(
        row["stamp"].as_u64().unwrap(),
        before.head + 1,
        "the next write takes the next sync id"
    );
    // The agent keeps writing on its chain.
    let (status, body) = agent
        .post(
            "/v1/models/tasks",
            &json!({"id": "a9", "data": task("agent after")}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, verify) = http
        .get("/v1/audit/verify?principalKind=agent&principalId=agent_7")
        .await;
    assert_eq!(verify["ok"], true, "{verify}");
    assert_eq!(verify["rowsChecked"], 6, "{verify}");
    server.stop().await;
}

#[tokio::test]
async fn a_sqlite_deployment_moves_to_postgres() {
    let Some(url) = ablo_tests::postgres::fresh_database("a_sqlite_deployment_moves_to_postgres")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let from = StorageLocation::Directory(dir.path().into());
    let before = fill(from.clone()).await;
    let to = StorageLocation::Postgres(url);
    // Through a dump, as `export > dump.jsonl` and `import < dump.jsonl`.
    let (source, target) = (from.clone(), to.clone());
    let dump = blocking(move || {
        let (from_store, to_store) = (store(&source), store(&target));
        let mut dump = Vec::new();
        transfer::export(&*from_store, &mut dump, &mut NoProgress).unwrap();
        let header = transfer::import(&*to_store, &mut dump.as_slice(), &mut NoProgress).unwrap();
        assert_eq!(header.backend, "sqlite");
        dump
    })
    .await;
    assert!(String::from_utf8(dump).unwrap().lines().count() > 30);
    check_moved(to, &before).await;
}

#[tokio::test]
async fn a_sqlite_deployment_moves_to_another_directory() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let from = StorageLocation::Directory(a.path().into());
    let to = StorageLocation::Directory(b.path().join("moved"));
    let before = fill(from.clone()).await;
    let (source, target) = (from.clone(), to.clone());
    blocking(move || transfer::copy(&*store(&source), &*store(&target), &mut NoProgress).unwrap())
        .await;
    check_moved(to, &before).await;
}

#[tokio::test]
async fn a_postgres_deployment_moves_back_to_sqlite() {
    let Some(url) = ablo_tests::postgres::fresh_database("a_postgres_deployment_moves_back") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let from = StorageLocation::Postgres(url);
    let before = fill(from.clone()).await;
    let to = StorageLocation::Directory(dir.path().into());
    let (source, target) = (from.clone(), to.clone());
    blocking(move || transfer::copy(&*store(&source), &*store(&target), &mut NoProgress).unwrap())
        .await;
    check_moved(to, &before).await;
}

/// Targets to refuse or to fail into: a directory, and a PostgreSQL
/// database when configured.
fn targets(test: &str) -> Vec<(StorageLocation, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let mut targets = vec![(StorageLocation::Directory(dir.path().into()), dir)];
    if let Some(url) = ablo_tests::postgres::fresh_database(test) {
        targets.push((StorageLocation::Postgres(url), tempfile::tempdir().unwrap()));
    }
    targets
}

/// A small store with a row, a key and a secret, exported.
async fn small_dump() -> (Vec<u8>, StoreContents) {
    let dir = tempfile::tempdir().unwrap();
    let location = StorageLocation::Directory(dir.path().into());
    let server = serve(location.clone(), Some(API_KEY)).await;
    let (status, body) = server
        .http
        .put(
            "/v1/schema",
            &serde_json::to_value(server_common::schema()).unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for i in 0..3 {
        server.http.create_task(&format!("s{i}"), "small").await;
    }
    server.stop().await;
    blocking(move || {
        let mut dump = Vec::new();
        let contents = transfer::export(&*store(&location), &mut dump, &mut NoProgress).unwrap();
        (dump, contents)
    })
    .await
}

#[tokio::test]
async fn a_target_that_is_not_empty_is_refused_and_left_as_it_was() {
    let (dump, _) = small_dump().await;
    for (target, _dir) in targets("a_target_that_is_not_empty_is_refused") {
        // A server that ran once on the target left its key and secret.
        serve(target.clone(), Some(API_KEY)).await.stop().await;
        let held = contents_of(&target).await;
        assert!(!held.is_empty());
        let (dump, location) = (dump.clone(), target.clone());
        let (import, copy, after) = blocking(move || {
            let storage = store(&location);
            let import = transfer::import(&*storage, &mut dump.as_slice(), &mut NoProgress);
            let empty = tempfile::tempdir().unwrap();
            let other = store(&StorageLocation::Directory(empty.path().into()));
            let copy = transfer::copy(&*other, &*storage, &mut NoProgress);
            (import, copy, storage.contents().unwrap())
        })
        .await;
        for outcome in [import.map(|_| ()), copy.map(|_| ())] {
            match outcome {
                Err(err @ TransferError::TargetNotEmpty(_)) => {
                    let message = err.to_string();
                    assert!(message.contains("not empty"), "{message}");
                    assert!(message.contains("1 API keys"), "{message}");
                }
                other => panic!("{}: expected a refusal, got {other:?}", target.backend()),
            }
        }
        assert_eq!(after, held, "{}: the target is unchanged", target.backend());
    }
}

#[tokio::test]
async fn a_failed_import_leaves_the_target_empty_and_can_be_run_again() {
    let (dump, contents) = small_dump().await;
    let text = String::from_utf8(dump.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Cut off the end line, as an interrupted export would.
    let truncated = lines[..lines.len() - 1].join("\n") + "\n";
    // A row line broken in the middle of the dump.
    let row_line = lines
        .iter()
        .position(|l| l.starts_with("{\"row\""))
        .unwrap();
    let mut broken: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    broken[row_line] = broken[row_line].replace("\"stamp\":", "\"stamp\":\"x\",\"was\":");
    let broken = broken.join("\n") + "\n";
    // A dump whose header promises a row more than it holds.
    let mut header: Value = serde_json::from_str(lines[0]).unwrap();
    header["header"]["contents"]["rows"] = json!(contents.rows + 1);
    let short = std::iter::once(header.to_string())
        .chain(lines[1..].iter().map(|l| l.to_string()))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    for (target, _dir) in targets("a_failed_import_leaves_the_target_empty") {
        let (truncated, broken, short, dump) = (
            truncated.clone(),
            broken.clone(),
            short.clone(),
            dump.clone(),
        );
        let backend = target.backend();
        let expected = contents.clone();
        blocking(move || {
            let storage = store(&target);
            let err = transfer::import(&*storage, &mut truncated.as_bytes(), &mut NoProgress)
                .unwrap_err();
            assert!(
                matches!(err, TransferError::Truncated { .. }),
                "{backend}: {err}"
            );
            assert!(
                storage.contents().unwrap().is_empty(),
                "{backend}: nothing imported"
            );

            let err =
                transfer::import(&*storage, &mut broken.as_bytes(), &mut NoProgress).unwrap_err();
            match &err {
                TransferError::Format { line, .. } => assert_eq!(*line, row_line as u64 + 1),
                other => panic!("{backend}: expected a format error, got {other}"),
            }
            assert!(
                storage.contents().unwrap().is_empty(),
                "{backend}: nothing imported"
            );

            let err =
                transfer::import(&*storage, &mut short.as_bytes(), &mut NoProgress).unwrap_err();
            assert!(
                matches!(err, TransferError::Mismatch { .. }),
                "{backend}: {err}"
            );
            assert!(
                storage.contents().unwrap().is_empty(),
                "{backend}: nothing imported"
            );

            // Run again with the whole dump: it goes through.
            transfer::import(&*storage, &mut dump.as_slice(), &mut NoProgress).unwrap();
            assert_eq!(storage.contents().unwrap(), expected, "{backend}");
        })
        .await;
    }
}

#[tokio::test]
async fn a_dump_of_another_format_or_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let storage = store(&StorageLocation::Directory(dir.path().into()));
    let err = transfer::import(&*storage, &mut &b"not json\n"[..], &mut NoProgress).unwrap_err();
    assert!(err.to_string().contains("not an Ablo dump"), "{err}");
    let newer = br#"{"header":{"format":"ablo-dump","version":2,"future":true}}"#;
    let err = transfer::import(&*storage, &mut &newer[..], &mut NoProgress).unwrap_err();
    assert!(
        matches!(err, TransferError::UnsupportedVersion { found: 2 }),
        "{err}"
    );
    assert!(storage.contents().unwrap().is_empty());
}

/// A store whose log was compacted moves with its floor: the new store
/// still refuses catch-up from before it instead of serving a log with a
/// gap.
#[tokio::test]
async fn a_compacted_log_moves_with_its_floor() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let from = StorageLocation::Directory(a.path().into());
    let to = StorageLocation::Directory(b.path().join("moved"));
    let source = from.clone();
    blocking(move || {
        let storage = store(&source);
        storage
            .write_group(5, &mut |_, tx| {
                let sync_id = tx.head().next();
                let delta: ablo_runtime::wire::Delta = serde_json::from_value(json!({
                    "syncId": sync_id, "model": "tasks", "id": "t1", "action": "insert",
                    "data": {"id": "t1"}, "changedFields": [], "clientTxId": format!("tx_{sync_id}"),
                    "actor": {"kind": "system", "id": "key_1"}, "syncGroups": ["default"], "flagged": false,
                }))
                .unwrap();
                tx.append_delta(0, &delta)?;
                tx.advance_head(sync_id);
                Ok(Ok(()))
            })
            .unwrap();
        assert_eq!(storage.compact_log(ablo_runtime::SyncId(3)).unwrap(), 3);
    })
    .await;
    let (source, target) = (from.clone(), to.clone());
    blocking(move || transfer::copy(&*store(&source), &*store(&target), &mut NoProgress).unwrap())
        .await;
    let moved = blocking(move || store(&to).log_floor().unwrap()).await;
    assert_eq!(moved, ablo_runtime::SyncId(3));
}
