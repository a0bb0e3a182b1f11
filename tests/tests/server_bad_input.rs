//! Every kind of bad input gets a typed error in the envelope, never a 500
//! (the `Http` helper asserts the envelope, the request id and status < 500
//! on every error response).

mod server_common;

use reqwest::StatusCode;
use serde_json::{Value, json};
use server_common::{API_KEY, TestServer, assert_error, task};

fn create(data: Value) -> Value {
    json!({"operations": [{"type": "create", "model": "tasks", "data": data}]})
}

fn with(field: &str, value: Value) -> Value {
    let mut data = task("x");
    data[field] = value;
    data
}

#[tokio::test]
async fn credentials_are_required_and_checked() {
    let server = TestServer::start().await;
    let mut anonymous = server.http.clone();
    anonymous.key = None;
    for path in [
        "/v1/schema",
        "/v1/models/tasks",
        "/v1/models/tasks/x",
        "/v1/sync/deltas",
    ] {
        assert_error(
            &anonymous.get(path).await,
            401,
            "authentication",
            "missing_api_key",
        );
    }
    assert_error(
        &anonymous.commit(&create(task("x"))).await,
        401,
        "authentication",
        "missing_api_key",
    );
    let mut wrong = server.http.clone();
    wrong.key = Some("sk_test_not_a_key_this_server_knows".into());
    assert_error(
        &wrong.get("/v1/models/tasks").await,
        401,
        "authentication",
        "invalid_api_key",
    );
    let basic = server
        .http
        .client
        .get(format!("{}/v1/models/tasks", server.url))
        .header("authorization", "Basic abc");
    assert_error(
        &anonymous.send(basic).await,
        401,
        "authentication",
        "missing_api_key",
    );
    // Authentication comes before the body is read.
    let garbage = server
        .http
        .client
        .post(format!("{}/v1/commits", server.url))
        .body("{not json");
    assert_error(
        &anonymous.send(garbage).await,
        401,
        "authentication",
        "missing_api_key",
    );
}

#[tokio::test]
async fn routing_errors_use_the_envelope() {
    let server = TestServer::start().await;
    let http = &server.http;
    assert_error(
        &http.get("/v1/nothing-here").await,
        404,
        "not_found",
        "route_not_found",
    );
    assert_error(&http.get("/").await, 404, "not_found", "route_not_found");
    let response = http
        .send(http.client.delete(format!("{}/v1/commits", server.url)))
        .await;
    assert_error(&response, 405, "validation", "method_not_allowed");
    assert_error(
        &http.post("/v1/health", &json!({})).await,
        405,
        "validation",
        "method_not_allowed",
    );
    assert_error(
        &http.put("/v1/models/tasks", &json!({})).await,
        405,
        "validation",
        "method_not_allowed",
    );
    // A plain GET on the WebSocket route is not an upgrade.
    let (status, body) = http.get("/v1/sync/ws").await;
    assert!(status.is_client_error(), "{status} {body}");
    assert_eq!(body["error"]["type"], "validation");
}

#[tokio::test]
async fn malformed_and_oversized_bodies() {
    let server = TestServer::start_with(|c| c.with_body_limit(16 * 1024)).await;
    let http = &server.http;
    let url = format!("{}/v1/commits", server.url);
    for raw in [
        "{",
        "",
        "[]",
        "null",
        "{\"operations\": 5}",
        "{\"operations\": [], \"extra\": 1}",
        "\u{0}",
    ] {
        let response = http
            .send(
                http.client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(raw),
            )
            .await;
        assert_error(&response, 400, "validation", "malformed_json");
    }
    let op_shapes = [
        json!({"operations": [{"type": "upsert", "model": "tasks"}]}),
        json!({"operations": [{"model": "tasks"}]}),
        json!({"operations": [{"type": "create", "model": "tasks", "data": "text"}]}),
        json!({"operations": [{"type": "update", "model": "tasks", "id": "x", "readAt": -3}]}),
        json!({"operations": [{"type": "update", "model": "tasks", "id": "x", "onStale": "maybe"}]}),
    ];
    for body in op_shapes {
        assert_error(
            &http.commit(&body).await,
            400,
            "validation",
            "malformed_json",
        );
    }
    let big = "x".repeat(20 * 1024);
    assert_error(
        &http.commit(&create(with("title", json!(big)))).await,
        413,
        "validation",
        "payload_too_large",
    );
    assert_error(
        &http
            .post(
                "/v1/models/tasks",
                &json!({"data": with("title", json!(big))}),
            )
            .await,
        413,
        "validation",
        "payload_too_large",
    );
    assert_error(
        &http
            .patch("/v1/models/tasks/x", &json!({"data": "no"}))
            .await,
        400,
        "validation",
        "malformed_json",
    );
    assert_error(
        &http.post("/v1/models/tasks", &json!({"id": "x"})).await,
        400,
        "validation",
        "malformed_json",
    );
    assert_error(
        &http.put("/v1/schema", &json!({"models": 1})).await,
        400,
        "validation",
        "malformed_json",
    );
}

#[tokio::test]
async fn commits_need_operations_and_valid_ids() {
    let server = TestServer::start().await;
    let http = &server.http;
    assert_error(
        &http.commit(&json!({"operations": []})).await,
        422,
        "validation",
        "invalid_commit",
    );
    for op in [
        json!({"type": "update", "model": "tasks", "data": {"title": "x"}}),
        json!({"type": "delete", "model": "tasks"}),
        json!({"type": "create", "model": "tasks", "id": "", "data": task("x")}),
        json!({"type": "create", "model": "tasks", "id": "a/b", "data": task("x")}),
        json!({"type": "create", "model": "tasks", "id": "x".repeat(300), "data": task("x")}),
    ] {
        assert_error(
            &http.commit(&json!({"operations": [op]})).await,
            422,
            "validation",
            "invalid_id",
        );
    }
    let response = http
        .commit(&json!({"operations": [{"type": "create", "model": "nope", "data": {}}]}))
        .await;
    assert_error(&response, 422, "validation", "unknown_model");
    let response = http.commit(&json!({"operations": [{"type": "delete", "model": "tasks", "id": "x", "data": {"title": "y"}}]})).await;
    assert_error(&response, 422, "validation", "unknown_field");
    let long_tx = json!({"clientTxId": "t".repeat(300), "operations": [{"type": "create", "model": "tasks", "data": task("x")}]});
    assert_error(
        &http.commit(&long_tx).await,
        400,
        "validation",
        "invalid_request",
    );
}

#[tokio::test]
async fn unknown_and_reserved_fields_are_refused() {
    let server = TestServer::start().await;
    let http = &server.http;
    let response = http.commit(&create(with("titel", json!("typo")))).await;
    assert_error(&response, 422, "validation", "unknown_field");
    assert_eq!(
        response.1["error"]["details"]["problems"][0]["field"],
        "titel"
    );
    for reserved in ["id", "stamp", "createdAt", "updatedAt"] {
        assert_error(
            &http.commit(&create(with(reserved, json!("v")))).await,
            422,
            "validation",
            "unknown_field",
        );
    }
    let nested = with("address", json!({"city": "Oslo", "planet": "Earth"}));
    let response = http.commit(&create(nested)).await;
    assert_error(&response, 422, "validation", "unknown_field");
    assert_eq!(
        response.1["error"]["details"]["problems"][0]["field"],
        "address.planet"
    );
}

#[tokio::test]
async fn every_field_type_is_checked() {
    let server = TestServer::start().await;
    let http = &server.http;
    let max_safe = 9_007_199_254_740_991_i64;
    let wrong_values = [
        ("title", json!(5)),
        ("title", json!(["a"])),
        ("status", json!("archived")),
        ("status", json!(1)),
        ("points", json!("1")),
        ("points", json!(1.5)),
        ("points", json!(max_safe + 1)),
        ("points", json!(-max_safe - 1)),
        ("points", json!(u64::MAX)),
        ("done", json!("yes")),
        ("small", json!(128)),
        ("small", json!(-129)),
        ("count", json!(-1)),
        ("count", json!(4_294_967_296_u64)),
        ("ratio", json!("fast")),
        ("ratio", json!(1e39)),
        ("due", json!("tomorrow")),
        ("due", json!(1_700_000_000)),
        ("uid", json!("not-a-uuid")),
        ("tags", json!("a")),
        ("tags", json!(["a", 2])),
        ("address", json!("Oslo")),
        ("address", json!({"city": 5})),
        ("projectId", json!("")),
        ("projectId", json!(7)),
    ];
    for (field, value) in wrong_values {
        let response = http.commit(&create(with(field, value.clone()))).await;
        assert_error(&response, 422, "validation", "invalid_field_value");
        let reported = response.1["error"]["details"]["problems"][0]["field"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(reported.starts_with(field), "{field}={value}: {reported}");
    }
    let good = json!({
        "title": "t", "status": "doing", "points": max_safe, "done": true, "small": -128, "count": 4_294_967_295_u64,
        "ratio": 0.5, "due": "2026-01-01T01:00:00+01:00", "uid": "A1A2A3A4-B1B2-C1C2-D1D2-D3D4D5D6D7D8",
        "meta": {"any": ["thing", 1]}, "tags": ["a", "b"], "address": {"city": "Oslo"}, "projectId": "p1"
    });
    let (status, receipt) = http.commit(&create(good)).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    let row = &receipt["rows"][0];
    assert_eq!(
        row["due"], "2026-01-01T00:00:00.000Z",
        "timestamps normalized to UTC"
    );
    assert_eq!(row["uid"], "a1a2a3a4-b1b2-c1c2-d1d2-d3d4d5d6d7d8");
    assert_eq!(row["address"], json!({"city": "Oslo", "zip": null}));
}

#[tokio::test]
async fn required_fields_must_be_present_on_create_and_non_null_on_update() {
    let server = TestServer::start().await;
    let http = &server.http;
    let response = http.commit(&create(json!({"title": "x"}))).await;
    assert_error(&response, 422, "validation", "missing_required_field");
    let problems = response.1["error"]["details"]["problems"]
        .as_array()
        .unwrap();
    let fields: Vec<_> = problems
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["status", "points"],
        "every missing field is listed"
    );
    let response = http
        .commit(&create(with("address", json!({"zip": "1"}))))
        .await;
    assert_error(&response, 422, "validation", "missing_required_field");
    http.create_task("t1", "x").await;
    let response = http
        .patch("/v1/models/tasks/t1", &json!({"data": {"title": null}}))
        .await;
    assert_error(&response, 422, "validation", "null_required_field");
    let response = http
        .patch("/v1/models/tasks/t1", &json!({"data": {"summary": null}}))
        .await;
    assert_eq!(response.0, StatusCode::OK, "optional fields accept null");
}

#[tokio::test]
async fn bad_query_parameters_on_writes_and_reads() {
    let server = TestServer::start().await;
    let http = &server.http;
    http.create_task("t1", "x").await;
    assert_error(
        &http.delete("/v1/models/tasks/t1?readAt=soon").await,
        400,
        "validation",
        "invalid_query",
    );
    assert_error(
        &http.delete("/v1/models/tasks/t1?onStale=maybe").await,
        400,
        "validation",
        "invalid_query",
    );
    assert_error(
        &http.get("/v1/models/tasks/t1?ifBusy=panic").await,
        400,
        "validation",
        "invalid_query",
    );
    assert_eq!(
        http.get("/v1/models/tasks/t1?ifBusy=return").await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn websocket_refuses_bad_credentials_and_messages() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let server = TestServer::start().await;
    let ws_url = format!("{}/v1/sync/ws", server.url.replacen("http", "ws", 1));
    let refused = tokio_tungstenite::connect_async(ws_url.clone())
        .await
        .unwrap_err();
    let tokio_tungstenite::tungstenite::Error::Http(response) = refused else {
        panic!("{refused}")
    };
    assert_eq!(response.status().as_u16(), 401);
    let body: Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "missing_api_key");
    let refused =
        tokio_tungstenite::connect_async(format!("{ws_url}?token=sk_test_wrong_wrong_wrong_wrong"))
            .await
            .unwrap_err();
    let tokio_tungstenite::tungstenite::Error::Http(response) = refused else {
        panic!("{refused}")
    };
    assert_eq!(response.status().as_u16(), 401);

    // `?token=` works for clients that cannot set headers.
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("{ws_url}?token={API_KEY}"))
        .await
        .unwrap();
    socket
        .send(Message::text(r#"{"type":"hello"}"#))
        .await
        .unwrap();
    let reply = socket.next().await.unwrap().unwrap();
    let reply: Value = serde_json::from_str(reply.to_text().unwrap()).unwrap();
    assert_eq!(reply["type"], "error");
    assert_eq!(reply["error"]["code"], "malformed_json");
    assert!(matches!(
        socket.next().await,
        Some(Ok(Message::Close(_))) | None
    ));

    // A second subscribe is a protocol error.
    let request = ws_url.into_client_request().unwrap();
    let mut request = request;
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {API_KEY}").parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    for _ in 0..2 {
        socket
            .send(Message::text(r#"{"type":"subscribe","cursor":0}"#))
            .await
            .unwrap();
    }
    let mut saw_error = false;
    while let Some(Ok(Message::Text(text))) = socket.next().await {
        let message: Value = serde_json::from_str(&text).unwrap();
        if message["type"] == "error" {
            assert_eq!(message["error"]["code"], "invalid_request");
            saw_error = true;
        }
    }
    assert!(saw_error);
}
