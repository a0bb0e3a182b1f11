//! Models CRUD, schema push and read, list queries and the public routes,
//! over real HTTP.

mod server_common;

use reqwest::StatusCode;
use serde_json::json;
use server_common::{TestServer, assert_error, schema, task};

#[tokio::test]
async fn health_and_openapi_need_no_key() {
    let server = TestServer::start().await;
    let mut anonymous = server.http.clone();
    anonymous.key = None;
    let (status, body) = anonymous.get("/v1/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    let (status, doc) = anonymous.get("/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/v1/schema",
        "/v1/models/{model}",
        "/v1/models/{model}/{id}",
        "/v1/commits",
        "/v1/sync/deltas",
        "/v1/sync/ws",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
}

#[tokio::test]
async fn schema_push_is_read_back_and_repush_is_unchanged() {
    let server = TestServer::start().await;
    let (status, body) = server.http.get("/v1/schema").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["hash"], schema().hash);
    let (status, body) = server
        .http
        .put("/v1/schema", &serde_json::to_value(schema()).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["changed"], false);
}

#[tokio::test]
async fn schema_is_required_before_writes() {
    let dir = tempfile::tempdir().unwrap();
    let server = ablo_server::start(
        ablo_server::ServerConfig::new(dir.path())
            .with_addr("127.0.0.1:0".parse().unwrap())
            .with_api_key(server_common::API_KEY),
    )
    .await
    .unwrap();
    let http = server_common::Http::new(&server.url(), server_common::API_KEY);
    assert_error(
        &http.get("/v1/schema").await,
        404,
        "not_found",
        "schema_not_found",
    );
    let commit = json!({"operations": [{"type": "create", "model": "tasks", "data": task("x")}]});
    assert_error(
        &http.commit(&commit).await,
        404,
        "not_found",
        "schema_not_found",
    );
    assert_error(
        &http.get("/v1/models/tasks").await,
        404,
        "not_found",
        "schema_not_found",
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn inconsistent_schemas_are_refused_with_every_problem() {
    let server = TestServer::start().await;
    let mut bad = schema();
    bad.models[0].sync_groups = vec!["team:{teamId}".into()];
    bad.models[0].fields[0].name = "stamp".into();
    let bad = ablo_runtime::SchemaDescriptor::build(
        bad.name.clone(),
        bad.models.clone(),
        ablo_runtime::TypeRegistry::default(),
    );
    let response = server
        .http
        .put("/v1/schema", &serde_json::to_value(&bad).unwrap())
        .await;
    assert_error(&response, 422, "validation", "invalid_schema");
    let problems = response.1["error"]["details"]["problems"]
        .as_array()
        .unwrap();
    let text = serde_json::to_string(problems).unwrap();
    assert!(text.contains("teamId"), "{text}");
    assert!(text.contains("reserved"), "{text}");
    assert!(text.contains("TaskStatus"), "{text}");
    let mut tampered = serde_json::to_value(schema()).unwrap();
    tampered["name"] = json!("Tampered");
    assert_error(
        &server.http.put("/v1/schema", &tampered).await,
        422,
        "validation",
        "invalid_schema",
    );
}

#[tokio::test]
async fn create_retrieve_update_delete() {
    let server = TestServer::start().await;
    let http = &server.http;
    let row = http.create_task("t1", "Plan").await;
    assert_eq!(row["id"], "t1");
    assert_eq!(row["title"], "Plan");
    assert_eq!(
        row["summary"],
        json!(null),
        "absent optional fields are null"
    );
    let created_stamp = row["stamp"].as_u64().unwrap();
    assert!(created_stamp >= 1);
    assert_eq!(row["createdAt"], row["updatedAt"]);

    let (status, got) = http.get("/v1/models/tasks/t1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["data"], row);
    assert_eq!(got["stamp"].as_u64().unwrap(), created_stamp);
    assert_eq!(got["intents"], json!([]));

    let (status, updated) = http
        .patch(
            "/v1/models/tasks/t1",
            &json!({"data": {"status": "done", "summary": "ok"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["status"], "done");
    assert_eq!(updated["title"], "Plan");
    assert!(updated["stamp"].as_u64().unwrap() > created_stamp);
    let (_, cleared) = http
        .patch("/v1/models/tasks/t1", &json!({"data": {"summary": null}}))
        .await;
    assert_eq!(cleared["summary"], json!(null));

    let (status, deleted) = http.delete("/v1/models/tasks/t1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deleted["deleted"], true);
    assert_eq!(deleted["id"], "t1");
    assert_error(
        &http.get("/v1/models/tasks/t1").await,
        404,
        "not_found",
        "row_not_found",
    );
    assert_error(
        &http
            .patch("/v1/models/tasks/t1", &json!({"data": {"title": "x"}}))
            .await,
        404,
        "not_found",
        "row_not_found",
    );
    assert_error(
        &http.delete("/v1/models/tasks/t1").await,
        404,
        "not_found",
        "row_not_found",
    );
}

#[tokio::test]
async fn create_generates_ids_and_refuses_duplicates() {
    let server = TestServer::start().await;
    let (status, row) = server
        .http
        .post("/v1/models/tasks", &json!({"data": task("a")}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = row["id"].as_str().unwrap();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    server.http.create_task("same", "a").await;
    let again = server
        .http
        .post(
            "/v1/models/tasks",
            &json!({"id": "same", "data": task("b")}),
        )
        .await;
    assert_error(&again, 409, "idempotency", "row_exists");
}

#[tokio::test]
async fn unknown_models_in_paths_are_404() {
    let server = TestServer::start().await;
    let http = &server.http;
    assert_error(
        &http.get("/v1/models/nope").await,
        404,
        "not_found",
        "model_not_found",
    );
    assert_error(
        &http.get("/v1/models/nope/1").await,
        404,
        "not_found",
        "model_not_found",
    );
    assert_error(
        &http.post("/v1/models/nope", &json!({"data": {}})).await,
        404,
        "not_found",
        "model_not_found",
    );
    assert_error(
        &http.patch("/v1/models/nope/1", &json!({"data": {}})).await,
        404,
        "not_found",
        "model_not_found",
    );
    assert_error(
        &http.delete("/v1/models/nope/1").await,
        404,
        "not_found",
        "model_not_found",
    );
}

#[tokio::test]
async fn list_filters_orders_and_pages_without_gaps() {
    let server = TestServer::start().await;
    let http = &server.http;
    for i in 0..7 {
        let status = if i % 2 == 0 { "todo" } else { "done" };
        let body = json!({"id": format!("t{i}"), "data": {"title": format!("title {}", 6 - i), "status": status, "points": i}});
        assert_eq!(
            http.post("/v1/models/tasks", &body).await.0,
            StatusCode::CREATED
        );
    }
    let (status, page) = http.get("/v1/models/tasks").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["data"].as_array().unwrap().len(), 7);
    assert!(page["nextCursor"].is_null());
    assert_eq!(page["stamp"], 7);

    let filter = urlencode(r#"{"status":"todo"}"#);
    let (_, todo) = http.get(&format!("/v1/models/tasks?where={filter}")).await;
    let ids: Vec<_> = todo["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["t0", "t2", "t4", "t6"]);

    let filter = urlencode(r#"{"status":"done","points":3}"#);
    let (_, one) = http.get(&format!("/v1/models/tasks?where={filter}")).await;
    assert_eq!(one["data"].as_array().unwrap().len(), 1);
    assert_eq!(one["data"][0]["id"], "t3");

    // Paged by title descending, two at a time: every row once, in order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/v1/models/tasks?orderBy=title:desc&limit=2".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = http.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["title"].as_str().unwrap().to_owned()),
        );
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..7).rev().map(|i| format!("title {i}")).collect();
    assert_eq!(seen, expected);

    let (_, by_points) = http.get("/v1/models/tasks?orderBy=points&limit=3").await;
    let points: Vec<_> = by_points["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["points"].as_i64().unwrap())
        .collect();
    assert_eq!(points, [0, 1, 2]);
    let cursor = by_points["nextCursor"].as_str().unwrap();
    assert_error(
        &http
            .get(&format!("/v1/models/tasks?orderBy=title&cursor={cursor}"))
            .await,
        400,
        "validation",
        "invalid_query",
    );
}

#[tokio::test]
async fn list_rejects_invalid_queries() {
    let server = TestServer::start().await;
    let http = &server.http;
    for query in [
        "limit=0",
        "limit=100000",
        "limit=ten",
        "orderBy=nope",
        "orderBy=meta",
        "orderBy=title:sideways",
        "cursor=%21%21notbase64",
        "cursor=e30",
        &format!("where={}", urlencode("not json")),
        &format!("where={}", urlencode(r#"{"nope":1}"#)),
        &format!("where={}", urlencode(r#"{"tags":["a"]}"#)),
    ] {
        let response = http.get(&format!("/v1/models/tasks?{query}")).await;
        assert_error(&response, 400, "validation", "invalid_query");
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn list_matches_nulls_and_booleans_and_pages_by_timestamps() {
    let server = TestServer::start().await;
    let http = &server.http;
    for i in 0..5 {
        let mut data = task(&format!("t{i}"));
        if i % 2 == 0 {
            data["done"] = json!(true);
        }
        let (status, _) = http
            .post(
                "/v1/models/tasks",
                &json!({"id": format!("t{i}"), "data": data}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let ids = |page: &serde_json::Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, done) = http
        .get(&format!(
            "/v1/models/tasks?where={}",
            urlencode(r#"{"done":true}"#)
        ))
        .await;
    assert_eq!(ids(&done), ["t0", "t2", "t4"]);
    let (_, open) = http
        .get(&format!(
            "/v1/models/tasks?where={}",
            urlencode(r#"{"done":null}"#)
        ))
        .await;
    assert_eq!(ids(&open), ["t1", "t3"]);
    for order in ["stamp:desc", "createdAt:desc", "updatedAt:desc"] {
        let mut seen = Vec::new();
        let mut path = format!("/v1/models/tasks?orderBy={order}&limit=2");
        loop {
            let (status, page) = http.get(&path).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            seen.extend(ids(&page));
            let Some(cursor) = page["nextCursor"].as_str() else {
                break;
            };
            path = format!("/v1/models/tasks?orderBy={order}&limit=2&cursor={cursor}");
        }
        assert_eq!(seen, ["t4", "t3", "t2", "t1", "t0"], "{order}");
    }
}
