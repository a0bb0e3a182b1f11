//! Commits over real HTTP: every stale policy, idempotent replay and
//! conflict, and all-or-nothing batches.

mod server_common;

use reqwest::StatusCode;
use serde_json::{Value, json};
use server_common::{TestServer, assert_error, task};

fn update(id: &str, data: Value, read_at: Option<u64>, on_stale: Option<&str>) -> Value {
    let mut op = json!({"type": "update", "model": "tasks", "id": id, "data": data});
    if let Some(stamp) = read_at {
        op["readAt"] = json!(stamp);
    }
    if let Some(policy) = on_stale {
        op["onStale"] = json!(policy);
    }
    json!({"operations": [op]})
}

/// Creates `t1`, then changes its title: returns the stamp before the change.
async fn row_changed_after_read(server: &TestServer) -> u64 {
    let row = server.http.create_task("t1", "first").await;
    let read_at = row["stamp"].as_u64().unwrap();
    let (status, _) = server
        .http
        .commit(&update("t1", json!({"title": "second"}), None, None))
        .await;
    assert_eq!(status, StatusCode::OK);
    read_at
}

#[tokio::test]
async fn without_read_at_the_last_writer_wins() {
    let server = TestServer::start().await;
    row_changed_after_read(&server).await;
    let (status, receipt) = server
        .http
        .commit(&update("t1", json!({"title": "third"}), None, None))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(receipt["rows"][0]["title"], "third");
    assert_eq!(receipt["flagged"], false);
}

#[tokio::test]
async fn reject_refuses_a_stale_write_with_the_current_row() {
    let server = TestServer::start().await;
    let read_at = row_changed_after_read(&server).await;
    for policy in [Some("reject"), None] {
        let response = server
            .http
            .commit(&update("t1", json!({"points": 5}), Some(read_at), policy))
            .await;
        assert_error(&response, 409, "stale_context", "stale_context");
        let details = &response.1["error"]["details"];
        assert_eq!(details["current"]["title"], "second");
        assert_eq!(details["stamp"], details["current"]["stamp"]);
        assert_eq!(details["readAt"], read_at);
        assert_eq!(details["operationIndex"], 0);
    }
    let (_, row) = server.http.get("/v1/models/tasks/t1").await;
    assert_eq!(row["data"]["points"], 0, "nothing applied");
    // A fresh read is accepted.
    let stamp = row["stamp"].as_u64().unwrap();
    let (status, _) = server
        .http
        .commit(&update(
            "t1",
            json!({"points": 5}),
            Some(stamp),
            Some("reject"),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn merge_accepts_other_fields_and_names_conflicting_ones() {
    let server = TestServer::start().await;
    let read_at = row_changed_after_read(&server).await;
    let (status, receipt) = server
        .http
        .commit(&update(
            "t1",
            json!({"points": 7}),
            Some(read_at),
            Some("merge"),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert_eq!(receipt["rows"][0]["title"], "second");
    assert_eq!(receipt["rows"][0]["points"], 7);
    let response = server
        .http
        .commit(&update(
            "t1",
            json!({"title": "mine", "summary": "s"}),
            Some(read_at),
            Some("merge"),
        ))
        .await;
    assert_error(&response, 409, "stale_context", "stale_context");
    assert_eq!(
        response.1["error"]["details"]["conflictingFields"],
        json!(["title"])
    );
}

#[tokio::test]
async fn flag_accepts_and_marks_receipt_and_delta() {
    let server = TestServer::start().await;
    let read_at = row_changed_after_read(&server).await;
    let (status, receipt) = server
        .http
        .commit(&update(
            "t1",
            json!({"points": 1}),
            Some(read_at),
            Some("flag"),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(receipt["flagged"], true);
    let sync_id = receipt["syncId"].as_u64().unwrap();
    let (_, page) = server
        .http
        .get(&format!("/v1/sync/deltas?after={}", sync_id - 1))
        .await;
    assert_eq!(page["data"][0]["syncId"], sync_id);
    assert_eq!(page["data"][0]["flagged"], true);
    // Not stale: not flagged.
    let (_, receipt) = server
        .http
        .commit(&update(
            "t1",
            json!({"points": 2}),
            Some(sync_id),
            Some("flag"),
        ))
        .await;
    assert_eq!(receipt["flagged"], false);
}

#[tokio::test]
async fn force_accepts_without_flag() {
    let server = TestServer::start().await;
    let read_at = row_changed_after_read(&server).await;
    let (status, receipt) = server
        .http
        .commit(&update(
            "t1",
            json!({"points": 9}),
            Some(read_at),
            Some("force"),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(receipt["flagged"], false);
    assert_eq!(receipt["rows"][0]["points"], 9);
}

#[tokio::test]
async fn stale_deletes_are_refused_through_rest_and_commits() {
    let server = TestServer::start().await;
    let read_at = row_changed_after_read(&server).await;
    let response = server
        .http
        .delete(&format!("/v1/models/tasks/t1?readAt={read_at}"))
        .await;
    assert_error(&response, 409, "stale_context", "stale_context");
    let merge = json!({"operations": [{"type": "delete", "model": "tasks", "id": "t1", "readAt": read_at, "onStale": "merge"}]});
    assert_error(
        &server.http.commit(&merge).await,
        409,
        "stale_context",
        "stale_context",
    );
    let (status, _) = server
        .http
        .delete(&format!(
            "/v1/models/tasks/t1?readAt={read_at}&onStale=force"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn rest_update_carries_read_at_and_policy() {
    let server = TestServer::start().await;
    let read_at = row_changed_after_read(&server).await;
    let stale = server
        .http
        .patch(
            "/v1/models/tasks/t1",
            &json!({"data": {"title": "x"}, "readAt": read_at}),
        )
        .await;
    assert_error(&stale, 409, "stale_context", "stale_context");
    let merged = server
        .http
        .patch(
            "/v1/models/tasks/t1",
            &json!({"data": {"points": 3}, "readAt": read_at, "onStale": "merge"}),
        )
        .await;
    assert_eq!(merged.0, StatusCode::OK, "{}", merged.1);
}

#[tokio::test]
async fn same_client_tx_id_and_body_replays_the_receipt() {
    let server = TestServer::start().await;
    let body = json!({"clientTxId": "tx_replay", "operations": [{"type": "create", "model": "tasks", "id": "r1", "data": task("a")}]});
    let (status, first) = server.http.commit(&body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["object"], "commit_receipt");
    assert_eq!(first["clientTxId"], "tx_replay");
    assert_eq!(first["status"], "confirmed");
    let (status, second) = server.http.commit(&body).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a replay is not a row_exists conflict: {second}"
    );
    assert_eq!(second, first);
    let (_, page) = server.http.get("/v1/sync/deltas?after=0").await;
    assert_eq!(
        page["data"].as_array().unwrap().len(),
        1,
        "the replay wrote nothing"
    );
}

#[tokio::test]
async fn same_client_tx_id_with_another_body_conflicts() {
    let server = TestServer::start().await;
    let body = json!({"clientTxId": "tx_c", "operations": [{"type": "create", "model": "tasks", "id": "c1", "data": task("a")}]});
    assert_eq!(server.http.commit(&body).await.0, StatusCode::OK);
    let other = json!({"clientTxId": "tx_c", "operations": [{"type": "create", "model": "tasks", "id": "c2", "data": task("b")}]});
    let response = server.http.commit(&other).await;
    assert_error(&response, 409, "idempotency", "idempotency_conflict");
    assert_error(
        &server.http.get("/v1/models/tasks/c2").await,
        404,
        "not_found",
        "row_not_found",
    );
}

#[tokio::test]
async fn idempotency_key_header_works_for_rest_writes() {
    let server = TestServer::start().await;
    let http = &server.http;
    let url = format!("{}/v1/models/tasks", http.base);
    let create = || {
        http.client
            .post(&url)
            .header("Idempotency-Key", "key-1")
            .json(&json!({"data": task("a")}))
    };
    let (status, first) = http.send(create()).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, second) = http.send(create()).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(first, second, "the replay returns the same generated id");
    let (_, list) = http.get("/v1/models/tasks").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let other = http
        .client
        .post(&url)
        .header("Idempotency-Key", "key-1")
        .json(&json!({"data": task("b")}));
    assert_error(
        &http.send(other).await,
        409,
        "idempotency",
        "idempotency_conflict",
    );
    let mismatch = http
        .client
        .post(format!("{}/v1/commits", http.base))
        .header("Idempotency-Key", "key-2")
        .json(&json!({"clientTxId": "key-3", "operations": [{"type": "delete", "model": "tasks", "id": "x"}]}));
    assert_error(
        &http.send(mismatch).await,
        400,
        "validation",
        "invalid_request",
    );
    let empty = http
        .client
        .post(&url)
        .header("Idempotency-Key", "")
        .json(&json!({"data": task("b")}));
    assert_error(
        &http.send(empty).await,
        400,
        "validation",
        "invalid_request",
    );
}

#[tokio::test]
async fn a_batch_applies_entirely_or_not_at_all() {
    let server = TestServer::start().await;
    server.http.create_task("keep", "k").await;
    let head_before = server.http.get("/v1/sync/deltas?after=0").await.1["stamp"].clone();
    let failing_batches = [
        // Invalid value in the last operation: refused before the write.
        (
            json!([{"type": "create", "model": "tasks", "id": "b1", "data": task("a")},
                   {"type": "update", "model": "tasks", "id": "keep", "data": {"title": "changed"}},
                   {"type": "create", "model": "tasks", "id": "b2", "data": {"title": 5, "status": "todo", "points": 0}}]),
            (422, "validation", "invalid_field_value"),
        ),
        // A missing row in the last operation: refused inside the write.
        (
            json!([{"type": "create", "model": "tasks", "id": "b1", "data": task("a")},
                   {"type": "update", "model": "tasks", "id": "keep", "data": {"title": "changed"}},
                   {"type": "delete", "model": "tasks", "id": "missing"}]),
            (404, "not_found", "row_not_found"),
        ),
        // A stale operation after two good ones.
        (
            json!([{"type": "create", "model": "tasks", "id": "b1", "data": task("a")},
                   {"type": "update", "model": "tasks", "id": "keep", "data": {"title": "changed"}},
                   {"type": "update", "model": "tasks", "id": "keep", "data": {"points": 1}, "readAt": 0}]),
            (409, "stale_context", "stale_context"),
        ),
    ];
    for (operations, (status, kind, code)) in failing_batches {
        let response = server.http.commit(&json!({"operations": operations})).await;
        assert_error(&response, status, kind, code);
        assert_error(
            &server.http.get("/v1/models/tasks/b1").await,
            404,
            "not_found",
            "row_not_found",
        );
        let (_, keep) = server.http.get("/v1/models/tasks/keep").await;
        assert_eq!(keep["data"]["title"], "k");
        let (_, page) = server.http.get("/v1/sync/deltas?after=0").await;
        assert_eq!(page["stamp"], head_before, "no sync id taken");
    }
    // The same batch without the bad operation applies under one sync id.
    let good = json!({"operations": [
        {"type": "create", "model": "tasks", "id": "b1", "data": task("a")},
        {"type": "update", "model": "tasks", "id": "keep", "data": {"title": "changed"}},
        {"type": "update", "model": "tasks", "id": "b1", "data": {"points": 4}, "readAt": head_before}]});
    let (status, receipt) = server.http.commit(&good).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert_eq!(receipt["rows"].as_array().unwrap().len(), 3);
    assert_eq!(receipt["rows"][2]["points"], 4);
    let sync_id = receipt["syncId"].as_u64().unwrap();
    let (_, page) = server
        .http
        .get(&format!("/v1/sync/deltas?after={}", sync_id - 1))
        .await;
    let deltas = page["data"].as_array().unwrap();
    assert_eq!(deltas.len(), 3);
    assert!(deltas.iter().all(|d| d["syncId"] == sync_id));
    let actions: Vec<_> = deltas
        .iter()
        .map(|d| d["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["insert", "update", "update"]);
    assert_eq!(deltas[1]["changedFields"], json!(["title"]));
}

#[tokio::test]
async fn sync_groups_follow_templates_and_moves_are_reported() {
    let server = TestServer::start().await;
    let create = json!({"id": "p1", "data": {"orgId": "org_1", "name": "P"}});
    let (status, _) = server.http.post("/v1/models/projects", &create).await;
    assert_eq!(status, StatusCode::CREATED);
    server
        .http
        .patch(
            "/v1/models/projects/p1",
            &json!({"data": {"orgId": "org_2"}}),
        )
        .await;
    server.http.create_task("t1", "a").await;
    let (_, page) = server.http.get("/v1/sync/deltas?after=0").await;
    let deltas = page["data"].as_array().unwrap();
    assert_eq!(deltas[0]["syncGroups"], json!(["org:org_1"]));
    assert_eq!(deltas[1]["syncGroups"], json!(["org:org_2"]));
    assert_eq!(deltas[1]["leftSyncGroups"], json!(["org:org_1"]));
    assert_eq!(deltas[2]["syncGroups"], json!(["default"]));
    assert_eq!(deltas[2]["actor"]["kind"], "system");
}

#[tokio::test]
async fn deltas_are_paged_in_order_without_splitting_commits() {
    let server = TestServer::start().await;
    for i in 0..5 {
        let ops: Vec<Value> = (0..3)
            .map(|j| json!({"type": "create", "model": "tasks", "id": format!("d{i}_{j}"), "data": task("x")}))
            .collect();
        assert_eq!(
            server.http.commit(&json!({"operations": ops})).await.0,
            StatusCode::OK
        );
    }
    let mut after = 0;
    let mut seen = Vec::new();
    loop {
        let (status, page) = server
            .http
            .get(&format!("/v1/sync/deltas?after={after}&limit=4"))
            .await;
        assert_eq!(status, StatusCode::OK);
        let deltas = page["data"].as_array().unwrap();
        assert_eq!(deltas.len() % 3, 0, "whole commits only");
        seen.extend(deltas.iter().map(|d| d["syncId"].as_u64().unwrap()));
        after = page["nextAfter"].as_u64().unwrap();
        if page["hasMore"] == false {
            break;
        }
    }
    let expected: Vec<u64> = (1..=5).flat_map(|s| [s, s, s]).collect();
    assert_eq!(seen, expected);
    assert_error(
        &server.http.get("/v1/sync/deltas?after=-1").await,
        400,
        "validation",
        "invalid_query",
    );
    assert_error(
        &server.http.get("/v1/sync/deltas?limit=0").await,
        400,
        "validation",
        "invalid_query",
    );
}

#[tokio::test]
async fn a_retried_delete_replays_instead_of_failing() {
    let server = TestServer::start().await;
    server.http.create_task("gone", "x").await;
    let http = &server.http;
    let url = format!("{}/v1/models/tasks/gone", http.base);
    let delete = || http.client.delete(&url).header("Idempotency-Key", "del-1");
    let (status, first) = http.send(delete()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, second) = http.send(delete()).await;
    assert_eq!(status, StatusCode::OK, "not row_not_found: {second}");
    assert_eq!(first, second);
}

#[tokio::test]
async fn commits_are_limited_to_1000_operations() {
    let server = TestServer::start().await;
    let ops: Vec<Value> = (0..1001)
        .map(|i| json!({"type": "create", "model": "tasks", "id": format!("t{i}"), "data": task("x")}))
        .collect();
    let response = server.http.commit(&json!({"operations": ops})).await;
    assert_error(&response, 422, "validation", "invalid_commit");
    let (status, _) = server
        .http
        .commit(&json!({"operations": ops[..1000]}))
        .await;
    assert_eq!(status, StatusCode::OK);
}
