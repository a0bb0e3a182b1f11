//! Every credential kind against every operation kind, over real HTTP and
//! WebSocket: an API key may do everything; a capability for `org:a` only
//! what its operations and groups allow (never touching `org:b`); expired,
//! revoked, garbage and missing credentials get their 401.

mod authz_common;
mod server_common;

use std::time::Duration;

use ablo_runtime::wire::ServerMessage;
use authz_common::{agent_request, http_with, mint, project, ws_connect, ws_next, ws_subscribe};
use reqwest::StatusCode;
use serde_json::{Value, json};
use server_common::{Http, TestServer, assert_error, schema, task};

/// One attempt of every operation kind against rows of org `org`, each
/// answered `(status, body)`. `tag` keeps created ids apart.
async fn every_operation(
    server: &TestServer,
    http: &Http,
    org: &str,
    tag: &str,
) -> Vec<(&'static str, (StatusCode, Value))> {
    let target = format!("p_{org}");
    let mut results = Vec::new();
    results.push((
        "create",
        http.post(
            "/v1/models/projects",
            &json!({"id": format!("new_{tag}_{org}"), "data": project(org, "new")}),
        )
        .await,
    ));
    results.push((
        "update",
        http.patch(
            &format!("/v1/models/projects/{target}"),
            &json!({"data": {"name": tag}}),
        )
        .await,
    ));
    results.push((
        "retrieve",
        http.get(&format!("/v1/models/projects/{target}")).await,
    ));
    results.push((
        "commits batch",
        http.commit(&json!({"operations": [
            {"type": "update", "model": "projects", "id": target, "data": {"name": format!("{tag} batch")}}
        ]}))
        .await,
    ));
    results.push((
        "delete",
        http.delete(&format!("/v1/models/projects/del_{org}")).await,
    ));
    results.push(("list", http.get("/v1/models/projects?limit=100").await));
    results.push(("deltas", http.get("/v1/sync/deltas?after=0").await));
    results.push((
        "schema push",
        http.put("/v1/schema", &serde_json::to_value(schema()).unwrap())
            .await,
    ));
    results.push((
        "capability mint",
        http.post("/v1/capabilities", &agent_request(&["*"], &["*"]))
            .await,
    ));
    let _ = server;
    results
}

async fn seeded() -> TestServer {
    let server = TestServer::start().await;
    for org in ["a", "b"] {
        for id in [format!("p_{org}"), format!("del_{org}")] {
            let (status, body) = server
                .http
                .post(
                    "/v1/models/projects",
                    &json!({"id": id, "data": project(org, "seed")}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
    }
    server
}

fn ids(rows: &Value) -> Vec<String> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_api_key_may_do_every_operation() {
    let server = seeded().await;
    let results = every_operation(&server, &server.http, "b", "key").await;
    for (operation, (status, body)) in results {
        assert!(status.is_success(), "{operation}: {status} {body}");
    }
    let mut socket = ws_connect(&server, Some(server_common::API_KEY))
        .await
        .unwrap();
    ws_subscribe(&mut socket, 0, Some(vec!["org:b"])).await;
    let mut seen = Vec::new();
    loop {
        match ws_next(&mut socket, Duration::from_secs(10)).await.unwrap() {
            ServerMessage::Deltas { deltas } => seen.extend(deltas),
            ServerMessage::CaughtUp { .. } => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(
        seen.iter()
            .any(|d| d.sync_groups.contains(&"org:b".to_owned()))
    );
    server.stop().await;
}

#[tokio::test]
async fn a_capability_for_org_a_never_touches_org_b() {
    let server = seeded().await;
    let (_, token) = mint(&server, agent_request(&["projects.*"], &["org:a"])).await;
    let agent = http_with(&server, Some(&token));

    // Inside its scope everything works.
    for (operation, (status, body)) in every_operation(&server, &agent, "a", "in").await {
        match operation {
            "schema push" | "capability mint" => {
                assert_error(&(status, body), 403, "permission", "api_key_required")
            }
            _ => assert!(status.is_success(), "{operation}: {status} {body}"),
        }
    }

    // Outside it nothing does.
    let before = server.http.get("/v1/models/projects?limit=100").await.1;
    for (operation, response) in every_operation(&server, &agent, "b", "out").await {
        let (status, body) = &response;
        match operation {
            // A create names its own groups, so the refusal may name them.
            "create" => {
                assert_error(&response, 403, "permission", "capability_scope_denied");
                assert_eq!(
                    body["error"]["details"]["syncGroup"], "org:b",
                    "{operation}: {body}"
                );
            }
            // A row outside the scope looks exactly like a missing one.
            "update" | "retrieve" | "commits batch" | "delete" => {
                assert_error(&response, 404, "not_found", "row_not_found");
                assert!(!body.to_string().contains("org:b"), "{operation}: {body}");
            }
            "list" => {
                assert_eq!(*status, StatusCode::OK, "{body}");
                let listed = ids(&body["data"]);
                assert!(listed.iter().all(|id| !id.ends_with("_b")), "{listed:?}");
                assert!(listed.contains(&"p_a".to_owned()), "{listed:?}");
            }
            "deltas" => {
                assert_eq!(*status, StatusCode::OK, "{body}");
                for delta in body["data"].as_array().unwrap() {
                    assert_eq!(delta["syncGroups"], json!(["org:a"]), "{delta}");
                }
                assert!(!body["data"].as_array().unwrap().is_empty());
            }
            "schema push" | "capability mint" => {
                assert_error(&response, 403, "permission", "api_key_required")
            }
            other => panic!("unexpected operation {other}"),
        }
    }
    let after = server.http.get("/v1/models/projects?limit=100").await.1;
    let rows_b = |page: &Value| {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["orgId"] == "b")
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(rows_b(&before), rows_b(&after), "org:b rows unchanged");

    // A batch mixing both orgs applies nothing.
    let mixed = agent
        .commit(&json!({"operations": [
            {"type": "update", "model": "projects", "id": "p_a", "data": {"name": "mixed"}},
            {"type": "update", "model": "projects", "id": "p_b", "data": {"name": "mixed"}}
        ]}))
        .await;
    assert_error(&mixed, 404, "not_found", "row_not_found");
    let p_a = server.http.get("/v1/models/projects/p_a").await.1;
    assert_ne!(p_a["data"]["name"], "mixed");

    // Moving a row out of its groups is refused (checked after the write).
    let moved = agent
        .patch("/v1/models/projects/p_a", &json!({"data": {"orgId": "b"}}))
        .await;
    assert_error(&moved, 403, "permission", "capability_scope_denied");
    assert_eq!(
        server.http.get("/v1/models/projects/p_a").await.1["data"]["orgId"],
        "a"
    );

    // Subscribing to org:b is refused; subscribing to everything delivers
    // org:a only.
    let mut socket = ws_connect(&server, Some(&token)).await.unwrap();
    ws_subscribe(&mut socket, 0, Some(vec!["org:b"])).await;
    match ws_next(&mut socket, Duration::from_secs(5)).await {
        Some(ServerMessage::Error { error }) => {
            assert_eq!(error.code, "capability_scope_denied");
            assert!(error.message.contains("org:b"), "{}", error.message);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(ws_next(&mut socket, Duration::from_secs(5)).await.is_none());

    let mut socket = ws_connect(&server, Some(&token)).await.unwrap();
    ws_subscribe(&mut socket, 0, None).await;
    let cursor;
    loop {
        match ws_next(&mut socket, Duration::from_secs(10)).await.unwrap() {
            ServerMessage::Deltas { deltas } => {
                assert!(
                    deltas
                        .iter()
                        .all(|d| d.sync_groups == vec!["org:a".to_owned()]),
                    "{deltas:?}"
                );
            }
            ServerMessage::CaughtUp { cursor: c } => {
                cursor = c.0;
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    // Live: a write to org:b (by the API key) never arrives; one to org:a does.
    server
        .http
        .patch(
            "/v1/models/projects/p_b",
            &json!({"data": {"name": "live b"}}),
        )
        .await;
    let (_, written) = server
        .http
        .patch(
            "/v1/models/projects/p_a",
            &json!({"data": {"name": "live a"}}),
        )
        .await;
    match ws_next(&mut socket, Duration::from_secs(10)).await.unwrap() {
        ServerMessage::Deltas { deltas } => {
            assert_eq!(deltas.len(), 1, "{deltas:?}");
            assert_eq!(deltas[0].id, "p_a");
            assert_eq!(deltas[0].sync_id.0, written["stamp"].as_u64().unwrap());
            assert!(deltas[0].sync_id.0 > cursor);
        }
        other => panic!("{other:?}"),
    }
    server.stop().await;
}

#[tokio::test]
async fn operations_outside_the_list_are_denied_by_name() {
    let server = seeded().await;
    let (_, token) = mint(&server, agent_request(&["projects.read"], &["*"])).await;
    let reader = http_with(&server, Some(&token));
    let (status, _) = reader.get("/v1/models/projects/p_b").await;
    assert_eq!(status, StatusCode::OK);
    let denied = reader
        .patch("/v1/models/projects/p_b", &json!({"data": {"name": "x"}}))
        .await;
    assert_error(&denied, 403, "permission", "capability_scope_denied");
    assert_eq!(denied.1["error"]["details"]["operation"], "projects.update");
    let create = reader
        .post("/v1/models/tasks", &json!({"data": task("x")}))
        .await;
    assert_error(&create, 403, "permission", "capability_scope_denied");
    assert_eq!(create.1["error"]["details"]["operation"], "tasks.create");
    let list = reader.get("/v1/models/tasks").await;
    assert_error(&list, 403, "permission", "capability_scope_denied");
    assert_eq!(list.1["error"]["details"]["operation"], "tasks.read");
    server.stop().await;
}

/// Expired, revoked, garbage and missing credentials: every operation gets
/// the same 401, and the WebSocket upgrade is refused with 401.
#[tokio::test]
async fn unusable_credentials_get_401_on_every_operation() {
    let server = seeded().await;
    let (_, expired) = mint(
        &server,
        json!({"participantKind": "agent", "participantId": "a", "operations": ["*"],
               "syncGroups": ["*"], "ttlSeconds": 1}),
    )
    .await;
    let (revoked_id, revoked) = mint(&server, agent_request(&["*"], &["*"])).await;
    let (status, body) = server
        .http
        .delete(&format!("/v1/capabilities/{revoked_id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "revoked");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let cases: [(Option<&str>, &str); 5] = [
        (Some(&expired), "capability_expired"),
        (Some(&revoked), "capability_revoked"),
        (
            Some("cap_0000000000000000000000000000000000000000000000000000000000000000"),
            "invalid_api_key",
        ),
        (
            Some("sk_test_not_a_key_anyone_made_0000"),
            "invalid_api_key",
        ),
        (None, "missing_api_key"),
    ];
    for (token, code) in cases {
        let http = http_with(&server, token);
        for (operation, response) in every_operation(&server, &http, "a", "bad").await {
            assert_eq!(
                response.0.as_u16(),
                401,
                "{operation} with {code}: {}",
                response.1
            );
            assert_eq!(response.1["error"]["code"], code, "{operation}");
            assert_eq!(response.1["error"]["type"], "authentication");
        }
        assert_eq!(ws_connect(&server, token).await.err(), Some(401), "{code}");
    }
    let rows = server.http.get("/v1/models/projects?limit=100").await.1;
    assert!(
        ids(&rows["data"])
            .iter()
            .all(|id| !id.starts_with("new_bad"))
    );
    server.stop().await;
}

#[tokio::test]
async fn capability_requests_are_validated() {
    let server = TestServer::start().await;
    let bad = [
        json!({"participantKind": "agent", "participantId": "", "operations": ["*"], "syncGroups": ["*"]}),
        json!({"participantKind": "agent", "participantId": "a", "operations": ["tasks"], "syncGroups": ["*"]}),
        json!({"participantKind": "agent", "participantId": "a", "operations": ["*"], "syncGroups": ["*org"]}),
        json!({"participantKind": "agent", "participantId": "a", "operations": [], "syncGroups": ["*"]}),
        json!({"participantKind": "agent", "participantId": "a", "operations": ["*"], "syncGroups": ["*"], "ttlSeconds": 0}),
    ];
    for request in bad {
        let response = server.http.post("/v1/capabilities", &request).await;
        assert_error(&response, 422, "validation", "invalid_capability");
    }
    let unknown_kind = server
        .http
        .post(
            "/v1/capabilities",
            &json!({"participantKind": "robot", "participantId": "a",
            "operations": ["*"], "syncGroups": ["*"]}),
        )
        .await;
    assert_error(&unknown_kind, 400, "validation", "malformed_json");
    assert_error(
        &server.http.get("/v1/capabilities/cap_nope").await,
        404,
        "not_found",
        "capability_not_found",
    );
    // A user participant (a browser session) acts as itself.
    let (id, token) = mint(
        &server,
        json!({"participantKind": "user", "participantId": "u_9", "operations": ["tasks.*"],
               "syncGroups": ["default"], "label": "browser"}),
    )
    .await;
    let user = http_with(&server, Some(&token));
    let (status, row) = user
        .post("/v1/models/tasks", &json!({"data": task("by user")}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    let (_, deltas) = server.http.get("/v1/sync/deltas?after=0").await;
    let actor = &deltas["data"].as_array().unwrap().last().unwrap()["actor"];
    assert_eq!(actor, &json!({"kind": "user", "id": "u_9"}));
    let (status, own) = user.get(&format!("/v1/capabilities/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert_eq!(own["status"], "active");
    assert!(own.get("token").is_none());
    server.stop().await;
}

#[tokio::test]
async fn the_authority_routes_are_documented() {
    let server = TestServer::start().await;
    let (status, doc) = server.http.get("/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    for (path, method) in [
        ("/v1/capabilities", "post"),
        ("/v1/capabilities/{id}", "get"),
        ("/v1/capabilities/{id}", "delete"),
        ("/v1/tasks", "post"),
        ("/v1/tasks/{id}", "get"),
        ("/v1/tasks/{id}/close", "post"),
        ("/v1/audit", "get"),
        ("/v1/audit/verify", "get"),
        ("/v1/audit/export", "get"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} documented"
        );
    }
    server.stop().await;
}
