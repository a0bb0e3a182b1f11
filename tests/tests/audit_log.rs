//! The audit log over real HTTP: one entry per accepted commit (none for a
//! refused one), attribution from the credential, filters and pages, the
//! CSV export, and verification that finds an entry edited directly in
//! the SQLite file.

mod authz_common;
mod server_common;

use std::collections::BTreeSet;

use authz_common::{agent_request, http_with, mint, project};
use reqwest::StatusCode;
use serde_json::{Value, json};
use server_common::{TestServer, assert_error, task};

async fn audit_all(server: &TestServer, query: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/audit?limit=3&cursor={c}{query}"),
            None => format!("/v1/audit?limit=3{query}"),
        };
        let (status, page) = server.http.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        rows.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return rows,
        }
    }
}

#[tokio::test]
async fn every_accepted_commit_has_an_entry_and_no_refused_one_does() {
    let server = TestServer::start().await;
    let (cap_id, token) = mint(
        &server,
        agent_request(&["projects.*", "tasks.*"], &["org:a", "default"]),
    )
    .await;
    let agent = http_with(&server, Some(&token));
    let mut accepted = BTreeSet::new();
    let mut refused = 0;
    let mut note = |response: (StatusCode, Value)| {
        if response.0.is_success() {
            let stamp = response.1["stamp"]
                .as_u64()
                .or_else(|| response.1["syncId"].as_u64())
                .expect("a stamp");
            accepted.insert(stamp);
        } else {
            refused += 1;
        }
    };
    note(
        server
            .http
            .post(
                "/v1/models/tasks",
                &json!({"id": "t1", "data": task("one")}),
            )
            .await,
    );
    note(
        agent
            .post(
                "/v1/models/projects",
                &json!({"id": "p1", "data": project("a", "x")}),
            )
            .await,
    );
    note(
        agent
            .patch("/v1/models/projects/p1", &json!({"data": {"name": "y"}}))
            .await,
    );
    // Refused: another org, a stale write, an unknown field, a duplicate id.
    note(
        agent
            .post(
                "/v1/models/projects",
                &json!({"id": "p2", "data": project("b", "x")}),
            )
            .await,
    );
    note(
        server
            .http
            .patch(
                "/v1/models/tasks/t1",
                &json!({"data": {"title": "late"}, "readAt": 0, "onStale": "reject"}),
            )
            .await,
    );
    note(
        server
            .http
            .post("/v1/models/tasks", &json!({"data": {"nope": 1}}))
            .await,
    );
    note(
        server
            .http
            .post(
                "/v1/models/tasks",
                &json!({"id": "t1", "data": task("again")}),
            )
            .await,
    );
    note(
        agent
            .commit(&json!({"operations": [
                {"type": "create", "model": "tasks", "id": "t2", "data": task("two")},
                {"type": "update", "model": "tasks", "id": "t1", "data": {"status": "done"}},
                {"type": "create", "model": "projects", "id": "p3", "data": project("a", "z")}
            ]}))
            .await,
    );
    note(server.http.delete("/v1/models/tasks/t2").await);
    assert_eq!(refused, 4);
    assert_eq!(accepted.len(), 5);

    let rows = audit_all(&server, "").await;
    let audited: BTreeSet<u64> = rows.iter().map(|r| r["syncId"].as_u64().unwrap()).collect();
    assert_eq!(
        audited, accepted,
        "one entry per accepted commit, none for refused ones"
    );

    // Attribution comes from the credential.
    let batch: Vec<&Value> = rows
        .iter()
        .filter(|r| r["actor"]["kind"] == "agent" && r["model"] == "tasks")
        .collect();
    assert_eq!(batch.len(), 2, "{batch:?}");
    for row in &batch {
        assert_eq!(row["actor"]["id"], "agent_7");
        assert_eq!(row["onBehalfOf"], json!({"id": "u_1", "kind": "user"}));
        assert_eq!(row["capabilityId"], cap_id);
        assert_eq!(row["capabilityLabel"], "test agent");
    }
    let update = batch.iter().find(|r| r["action"] == "update").unwrap();
    assert_eq!(update["rowIds"], json!(["t1"]));
    assert_eq!(update["changedFields"], json!(["status"]));
    let by_key = rows.iter().find(|r| r["action"] == "delete").unwrap();
    assert_eq!(by_key["actor"]["kind"], "system");
    assert!(by_key["capabilityId"].is_null());

    // Filters.
    let agent_rows = audit_all(&server, "&actorKind=agent&actorId=agent_7").await;
    assert_eq!(agent_rows.len(), 5);
    let projects = audit_all(&server, "&model=projects").await;
    assert!(projects.iter().all(|r| r["model"] == "projects") && projects.len() == 3);
    let future = audit_all(&server, "&since=2999-01-01T00:00:00Z").await;
    assert!(future.is_empty());
    let past = audit_all(&server, "&until=0").await;
    assert!(past.is_empty());
    assert_error(
        &server.http.get("/v1/audit?since=yesterday").await,
        400,
        "validation",
        "invalid_query",
    );
    assert_error(
        &server.http.get("/v1/audit?actorKind=robot").await,
        400,
        "validation",
        "invalid_query",
    );
    // Only API keys read the audit log.
    assert_error(
        &agent.get("/v1/audit").await,
        403,
        "permission",
        "api_key_required",
    );
    assert_error(
        &agent
            .get("/v1/audit/verify?principalKind=agent&principalId=agent_7")
            .await,
        403,
        "permission",
        "api_key_required",
    );

    // Each chain verifies.
    let (_, report) = server
        .http
        .get("/v1/audit/verify?principalKind=agent&principalId=agent_7")
        .await;
    let last_hash = report["lastHash"].as_str().unwrap().to_owned();
    assert_eq!(last_hash.len(), 64, "{report}");
    assert_eq!(
        report,
        json!({"ok": true, "rowsChecked": 5, "fromSeq": 1, "lastSeq": 5, "lastHash": last_hash})
    );
    assert_error(
        &server
            .http
            .get("/v1/audit/verify?principalKind=agent")
            .await,
        400,
        "validation",
        "invalid_query",
    );

    // CSV export: a header and one line per entry.
    let response = reqwest::Client::new()
        .get(format!("{}/v1/audit/export?actorKind=agent", server.url))
        .bearer_auth(server_common::API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.trim_end().split("\r\n").collect();
    assert!(
        lines[0].starts_with("position,at,actorKind,actorId"),
        "{}",
        lines[0]
    );
    assert_eq!(lines.len(), 6, "{csv}");
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.contains(",agent,agent_7,user,u_1,")),
        "{csv}"
    );
    server.stop().await;
}

/// Every stored column of one entry, edited in the database file, makes
/// verify name that entry's sequence.
#[tokio::test]
async fn editing_a_stored_entry_breaks_verification_at_its_sequence() {
    let server = TestServer::start().await;
    if !server.is_on_sqlite("editing_a_stored_entry_breaks_verification_at_its_sequence") {
        return;
    }
    let (_, token) = mint(&server, agent_request(&["tasks.*"], &["*"])).await;
    let agent = http_with(&server, Some(&token));
    for i in 0..4 {
        let (status, body) = agent
            .post(
                "/v1/models/tasks",
                &json!({"id": format!("t{i}"), "data": task("x")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let verify = "/v1/audit/verify?principalKind=agent&principalId=agent_7";
    assert_eq!(server.http.get(verify).await.1["ok"], true);
    let db = ablo_server::storage::open_connection(&server.dir.path().join("ablo.db")).unwrap();
    let edits = [
        ("at_ms", "at_ms + 1"),
        ("on_behalf_of_kind", "'agent'"),
        ("on_behalf_of_id", "'u_2'"),
        ("capability_id", "'cap_other'"),
        ("capability_label", "'other'"),
        ("task_id", "'task_x'"),
        ("model", "'projects'"),
        ("action", "'delete'"),
        ("row_ids", "'[\"t9\"]'"),
        ("sync_id", "sync_id + 100"),
        ("flagged", "1 - flagged"),
        ("changed_fields", "'[]'"),
        ("prev_hash", "'00'"),
        ("row_hash", "'00'"),
        ("chain_seq", "chain_seq + 10"),
        ("principal_id", "'someone_else'"),
    ];
    let position: i64 = db
        .query_row(
            "SELECT position FROM audit_log WHERE principal_id = 'agent_7' AND chain_seq = 2",
            (),
            |row| row.get(0),
        )
        .unwrap();
    for (column, value) in edits {
        let original: String = db
            .query_row(
                &format!("SELECT quote({column}) FROM audit_log WHERE position = {position}"),
                (),
                |row| row.get(0),
            )
            .unwrap();
        let changed = db
            .execute(
                &format!("UPDATE audit_log SET {column} = {value} WHERE position = {position}"),
                (),
            )
            .unwrap();
        assert_eq!(changed, 1, "{column}");
        let (status, report) = server.http.get(verify).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            report["ok"], false,
            "editing {column} went unnoticed: {report}"
        );
        assert_eq!(report["brokenAtSeq"], 2, "{column}: {report}");
        db.execute(
            &format!("UPDATE audit_log SET {column} = {original} WHERE position = {position}"),
            (),
        )
        .unwrap();
        assert_eq!(
            server.http.get(verify).await.1["ok"],
            true,
            "{column} restored"
        );
    }
    server.stop().await;
}

/// Removing the newest entries leaves a chain that is intact on its own;
/// checked against an anchor saved from an earlier verify, it is not.
#[tokio::test]
async fn entries_removed_from_the_end_are_caught_by_a_saved_anchor() {
    let server = TestServer::start().await;
    if !server.is_on_sqlite("entries_removed_from_the_end_are_caught_by_a_saved_anchor") {
        return;
    }
    let (_, token) = mint(&server, agent_request(&["tasks.*"], &["*"])).await;
    let agent = http_with(&server, Some(&token));
    for i in 0..3 {
        let (status, body) = agent
            .post(
                "/v1/models/tasks",
                &json!({"id": format!("t{i}"), "data": task("x")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let verify = "/v1/audit/verify?principalKind=agent&principalId=agent_7";
    let (_, report) = server.http.get(verify).await;
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["lastSeq"], 3);
    let anchored = format!(
        "{verify}&anchorSeq=3&anchorHash={}",
        report["lastHash"].as_str().unwrap()
    );
    assert_eq!(server.http.get(&anchored).await.1["ok"], true);

    let db = ablo_server::storage::open_connection(&server.dir.path().join("ablo.db")).unwrap();
    db.execute(
        "DELETE FROM audit_log WHERE principal_id = 'agent_7' AND chain_seq = 3",
        (),
    )
    .unwrap();
    assert_eq!(
        server.http.get(verify).await.1["ok"],
        true,
        "intact on its own"
    );
    let (status, report) = server.http.get(&anchored).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["reason"], "truncated");
    assert_eq!(report["brokenAtSeq"], 3);

    // An anchor whose hash no longer matches: the entry was rewritten.
    let wrong = format!("{verify}&anchorSeq=2&anchorHash=00");
    let (_, report) = server.http.get(&wrong).await;
    assert_eq!(report["reason"], "anchor_mismatch", "{report}");

    // Half an anchor is a bad request.
    let (status, body) = server.http.get(&format!("{verify}&anchorSeq=2")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    server.stop().await;
}
