//! Tenant isolation, hole by hole, against a real server on a free port: a
//! capability for `org:a` never reads, writes, blocks or learns of anything
//! in `org:b` (or in a group it lacks on a multi-group row). Each test names
//! the hole of `docs/security.md` it holds closed.

mod authz_common;
mod server_common;

use std::time::{Duration, Instant};

use ablo_runtime::wire::{ClientMessage, ParticipantKind, PresenceState, ServerMessage, Target};
use authz_common::{agent_request, http_with, mint, project, ws_connect, ws_next, ws_subscribe};
use base64::Engine;
use futures::SinkExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use server_common::{Http, TestServer, assert_error};
use tokio_tungstenite::tungstenite::Message;

/// Projects in org:a and org:b whose names sort the two orgs together.
async fn two_orgs() -> TestServer {
    let server = TestServer::start().await;
    for (id, org, name) in [
        ("p_a1", "a", "alpha"),
        ("p_b1", "b", "aardvark-b-secret"),
        ("p_a2", "a", "beta"),
        ("p_b2", "b", "zebra-b-secret"),
    ] {
        let (status, body) = server
            .http
            .post(
                "/v1/models/projects",
                &json!({"id": id, "data": project(org, name)}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    server
}

async fn capability(server: &TestServer, operations: &[&str], groups: &[&str]) -> (String, Http) {
    let (id, token) = mint(server, agent_request(operations, groups)).await;
    (id, http_with(server, Some(&token)))
}

fn assert_hidden(body: &Value, words: &[&str]) {
    let text = body.to_string();
    for word in words {
        assert!(!text.contains(word), "`{word}` leaked in {text}");
    }
}

/// Hole 1: a page and its cursor reflect only rows in scope, for every
/// order; cursors are opaque, cannot be forged and belong to their caller.
#[tokio::test]
async fn list_pages_and_cursors_hold_only_rows_in_scope() {
    let server = two_orgs().await;
    let (_, agent) = capability(&server, &["projects.read"], &["org:a"]).await;
    for order in [
        "id",
        "name",
        "orgId",
        "stamp",
        "createdAt",
        "updatedAt",
        "name:desc",
        "id:desc",
    ] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                None => format!("/v1/models/projects?orderBy={order}&limit=1"),
                Some(c) => format!("/v1/models/projects?orderBy={order}&limit=1&cursor={c}"),
            };
            let (status, page) = agent.get(&path).await;
            assert_eq!(status, StatusCode::OK, "{order}: {page}");
            assert_hidden(&page, &["secret", "p_b", "org:b"]);
            for row in page["data"].as_array().unwrap() {
                seen.push(row["id"].as_str().unwrap().to_owned());
            }
            match page["nextCursor"].as_str() {
                None => break,
                Some(next) => {
                    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(next)
                        .unwrap();
                    let text = String::from_utf8_lossy(&raw);
                    for plain in ["alpha", "beta", "p_a", "secret"] {
                        assert!(!text.contains(plain), "{order}: cursor is readable: {text}");
                    }
                    cursor = Some(next.to_owned());
                }
            }
        }
        seen.sort();
        assert_eq!(seen, ["p_a1", "p_a2"], "{order}");
    }

    // A forged cursor (readable JSON pointing anywhere) is refused.
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"o": "name:asc", "v": "a", "id": "p_b1"}).to_string());
    let refused = agent
        .get(&format!(
            "/v1/models/projects?orderBy=name&limit=1&cursor={forged}"
        ))
        .await;
    assert_error(&refused, 400, "validation", "invalid_query");

    // A cursor issued to the API key does not work for the capability.
    let (_, key_page) = server
        .http
        .get("/v1/models/projects?orderBy=name&limit=1")
        .await;
    let theirs = key_page["nextCursor"].as_str().unwrap();
    let replayed = agent
        .get(&format!(
            "/v1/models/projects?orderBy=name&limit=1&cursor={theirs}"
        ))
        .await;
    assert_error(&replayed, 400, "validation", "invalid_query");
    server.stop().await;
}

/// Hole 2: an idempotency record belongs to the principal that made it.
#[tokio::test]
async fn idempotency_records_belong_to_their_principal() {
    let server = two_orgs().await;
    let (_, agent) = capability(&server, &["projects.*"], &["org:a"]).await;
    let patch = |http: &Http, id: &str, key: &str| {
        let request = http
            .client
            .patch(format!("{}/v1/models/projects/{id}", http.base))
            .header("idempotency-key", key)
            .json(&json!({"data": {"name": "renamed"}}));
        let http = http.clone();
        async move { http.send(request).await }
    };
    let (status, original) = patch(&server.http, "p_b1", "k-shared").await;
    assert_eq!(status, StatusCode::OK, "{original}");

    // The same key and body from org:a is a new commit judged by its own
    // scope: not found, with nothing of the key's receipt.
    let replay = patch(&agent, "p_b1", "k-shared").await;
    assert_error(&replay, 404, "not_found", "row_not_found");
    assert_hidden(&replay.1, &["secret", "org:b", "renamed"]);

    // Nor does the key's record block org:a from using the same id.
    let (status, own) = patch(&agent, "p_a1", "k-shared").await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert_eq!(own["id"], "p_a1");

    // The same on POST /v1/commits with clientTxId.
    let batch = json!({"clientTxId": "tx-shared", "operations": [
        {"type": "update", "model": "projects", "id": "p_b2", "data": {"name": "batch"}}]});
    let (status, receipt) = server.http.commit(&batch).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    let replay = agent.commit(&batch).await;
    assert_error(&replay, 404, "not_found", "row_not_found");
    assert_hidden(&replay.1, &["secret", "org:b"]);

    // The key's own retry still answers its original receipt.
    let (status, again) = patch(&server.http, "p_b1", "k-shared").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, original);
    server.stop().await;
}

/// Hole 3: intents need `<model>.read`, claims a write operation too, and
/// a revoked capability's intents end at once.
#[tokio::test]
async fn intents_and_claims_check_operations_and_end_with_their_capability() {
    let server = two_orgs().await;
    let target = |id: &str| json!({"model": "projects", "id": id});
    let (_, tickets_only) = capability(&server, &["tickets.read"], &["*"]).await;
    let claim = tickets_only
        .post(
            "/v1/intents",
            &json!({"target": target("p_a1"), "action": "edit", "exclusive": true}),
        )
        .await;
    assert_error(&claim, 403, "permission", "capability_scope_denied");
    assert_hidden(&claim.1, &["alpha", "secret"]);
    let listed = tickets_only.get("/v1/intents?model=projects&id=p_a1").await;
    assert_error(&listed, 403, "permission", "capability_scope_denied");

    let (_, reader) = capability(&server, &["projects.read"], &["org:a"]).await;
    let (status, intent) = reader
        .post(
            "/v1/intents",
            &json!({"target": target("p_a1"), "action": "view"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{intent}");
    let claim = reader
        .post(
            "/v1/intents",
            &json!({"target": target("p_a1"), "action": "edit", "exclusive": true}),
        )
        .await;
    assert_error(&claim, 403, "permission", "capability_scope_denied");

    // Out of scope: exactly like a row that does not exist.
    let hidden = reader
        .post(
            "/v1/intents",
            &json!({"target": target("p_b1"), "action": "view"}),
        )
        .await;
    let missing = reader
        .post(
            "/v1/intents",
            &json!({"target": target("p_zz"), "action": "view"}),
        )
        .await;
    assert_error(&hidden, 404, "not_found", "row_not_found");
    assert_eq!(hidden.1["error"]["code"], missing.1["error"]["code"]);
    assert_hidden(&hidden.1, &["secret", "org:b"]);

    // A claim by a writer in scope shows the row it may read.
    let (writer_id, writer) = capability(&server, &["projects.*"], &["org:a"]).await;
    let (status, granted) = writer
        .post(
            "/v1/intents",
            &json!({"target": target("p_a2"), "action": "edit", "exclusive": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{granted}");
    assert_eq!(granted["data"]["name"], "beta");

    // Revoking the writer's capability ends its claim at once.
    let (status, _) = server
        .http
        .delete(&format!("/v1/capabilities/{writer_id}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let (_, list) = server.http.get("/v1/intents?model=projects&id=p_a2").await;
        if list["data"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "claim outlived its capability: {list}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await;
}

/// Hole 3 over WebSocket: intent events reach only subscribers that may
/// read the model and every group of the row.
#[tokio::test]
async fn intent_events_are_filtered_by_operation_and_group() {
    let server = two_orgs().await;
    let (_, tickets_token) = mint(&server, agent_request(&["tickets.read"], &["*"])).await;
    let (_, org_a_token) = mint(&server, agent_request(&["projects.read"], &["org:a"])).await;
    let mut tickets_socket = ws_connect(&server, Some(&tickets_token)).await.unwrap();
    let mut org_a_socket = ws_connect(&server, Some(&org_a_token)).await.unwrap();
    for socket in [&mut tickets_socket, &mut org_a_socket] {
        ws_subscribe(socket, u64::MAX / 2, None).await;
        assert!(matches!(
            ws_next(socket, Duration::from_secs(5)).await,
            Some(ServerMessage::CaughtUp { .. })
        ));
    }
    for id in ["p_b1", "p_a1"] {
        let (status, body) = server
            .http
            .post(
                "/v1/intents",
                &json!({"target": {"model": "projects", "id": id}, "action": "edit"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    match ws_next(&mut org_a_socket, Duration::from_secs(5)).await {
        Some(ServerMessage::Intent { intent, .. }) => assert_eq!(intent.target.id, "p_a1"),
        other => panic!("expected the org:a intent first, got {other:?}"),
    }
    // Give any stray event time to arrive, then look.
    tokio::time::sleep(Duration::from_millis(300)).await;
    tickets_socket
        .send(Message::text(
            serde_json::to_string(&ClientMessage::Ping).unwrap(),
        ))
        .await
        .unwrap();
    assert_eq!(
        ws_next(&mut tickets_socket, Duration::from_secs(5)).await,
        Some(ServerMessage::Pong),
        "a tickets-only subscriber saw a projects intent"
    );
    server.stop().await;
}

/// Hole 4: presence needs the row's groups and `<model>.read`.
#[tokio::test]
async fn presence_on_a_row_out_of_scope_is_refused_and_never_seen() {
    let server = two_orgs().await;
    let mut watcher = server_common::Subscriber::connect(
        &server.url,
        u64::MAX / 2,
        Some(vec!["org:b".to_owned()]),
    )
    .await;
    let _ = watcher.until_caught_up().await;
    let (_, token) = mint(&server, agent_request(&["projects.read"], &["org:a"])).await;
    let mut socket = ws_connect(&server, Some(&token)).await.unwrap();
    ws_subscribe(&mut socket, u64::MAX / 2, None).await;
    let _ = ws_next(&mut socket, Duration::from_secs(5)).await;
    let announce = ClientMessage::Presence {
        target: Target {
            model: "projects".into(),
            id: "p_b1".into(),
            field: None,
        },
        state: PresenceState::Editing,
    };
    socket
        .send(Message::text(serde_json::to_string(&announce).unwrap()))
        .await
        .unwrap();
    match ws_next(&mut socket, Duration::from_secs(5)).await {
        Some(ServerMessage::Error { error }) => {
            assert_eq!(error.code, "row_not_found");
            assert!(!serde_json::to_string(&error).unwrap().contains("org:b"));
        }
        other => panic!("expected row_not_found, got {other:?}"),
    }
    watcher.send(&ClientMessage::Ping).await;
    assert_eq!(watcher.next().await, Some(ServerMessage::Pong));
    server.stop().await;
}

/// Hole 6: a row in two groups is in scope only with both; a capability
/// can neither see it nor move a row into a group it lacks.
#[tokio::test]
async fn multi_group_rows_need_every_group() {
    let server = TestServer::start().await;
    let ticket =
        |project: &str, title: &str| json!({"orgId": "a", "projectKey": project, "title": title});
    for (id, project, title) in [("t_x", "x", "x-secret"), ("t_y", "y", "visible")] {
        let (status, body) = server
            .http
            .post(
                "/v1/models/tickets",
                &json!({"id": id, "data": ticket(project, title)}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, org_only) = capability(&server, &["tickets.*"], &["org:a"]).await;
    let (_, org_and_y) = capability(&server, &["tickets.*"], &["org:a", "project:y"]).await;

    let hidden = org_only.get("/v1/models/tickets/t_x").await;
    assert_error(&hidden, 404, "not_found", "row_not_found");
    let (_, page) = org_only.get("/v1/models/tickets").await;
    assert_eq!(page["data"], json!([]));
    let (_, page) = org_and_y.get("/v1/models/tickets").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1, "{page}");
    assert_hidden(&page, &["x-secret", "project:x", "t_x"]);

    // Moving t_y into project:x is refused and changes nothing.
    let moved = org_and_y
        .patch(
            "/v1/models/tickets/t_y",
            &json!({"data": {"projectKey": "x"}}),
        )
        .await;
    assert_error(&moved, 403, "permission", "capability_scope_denied");
    let (_, row) = server.http.get("/v1/models/tickets/t_y").await;
    assert_eq!(row["data"]["projectKey"], "y");
    let update = org_and_y
        .patch(
            "/v1/models/tickets/t_x",
            &json!({"data": {"title": "mine"}}),
        )
        .await;
    assert_error(&update, 404, "not_found", "row_not_found");

    // When the API key moves t_y into project:x, a subscriber that saw it
    // is told to drop it, without learning where it went.
    let (_, token) = mint(
        &server,
        agent_request(&["tickets.read"], &["org:a", "project:y"]),
    )
    .await;
    let mut socket = ws_connect(&server, Some(&token)).await.unwrap();
    ws_subscribe(&mut socket, 0, None).await;
    loop {
        match ws_next(&mut socket, Duration::from_secs(5)).await.unwrap() {
            ServerMessage::Deltas { deltas } => {
                let text = serde_json::to_string(&deltas).unwrap();
                assert!(
                    !text.contains("x-secret") && !text.contains("project:x"),
                    "{text}"
                );
            }
            ServerMessage::CaughtUp { .. } => break,
            other => panic!("{other:?}"),
        }
    }
    let (status, _) = server
        .http
        .patch(
            "/v1/models/tickets/t_y",
            &json!({"data": {"projectKey": "x", "title": "moved-secret"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    match ws_next(&mut socket, Duration::from_secs(5)).await.unwrap() {
        ServerMessage::Deltas { deltas } => {
            assert_eq!(deltas.len(), 1);
            assert!(deltas[0].data.is_null(), "{:?}", deltas[0]);
            let text = serde_json::to_string(&deltas).unwrap();
            assert!(
                !text.contains("project:x") && !text.contains("moved-secret"),
                "{text}"
            );
        }
        other => panic!("expected a removal, got {other:?}"),
    }
    server.stop().await;
}

/// Hole 7: revoking an API key closes its sockets and ends what it minted,
/// within a second.
#[tokio::test]
async fn revoking_an_api_key_ends_its_sockets_and_capabilities_within_a_second() {
    let server = two_orgs().await;
    let second = "sk_test_isolation_second_key_0123";
    let record = ablo_server::auth::record_for(second, "second");
    // The store's calls block; another handle on the server's store, as
    // `ablo-server keys` opens one.
    let location = server.storage.clone();
    let store = tokio::task::spawn_blocking(move || ablo_server::storage::open(&location).unwrap())
        .await
        .unwrap();
    type StoreCall = Box<dyn FnOnce(&dyn ablo_server::storage::Storage) + Send>;
    let on_store = |call: StoreCall| {
        let store = store.clone();
        tokio::task::spawn_blocking(move || call(store.as_ref()))
    };
    let put = record.clone();
    on_store(Box::new(move |s| s.put_api_key(&put).unwrap()))
        .await
        .unwrap();
    let key = Http::new(&server.url, second);
    let deadline = Instant::now() + Duration::from_secs(2);
    while key.get("/v1/models/projects").await.0 != StatusCode::OK {
        assert!(Instant::now() < deadline, "the new key was never accepted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, minted) = key
        .post(
            "/v1/capabilities",
            &agent_request(&["projects.read"], &["org:a"]),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{minted}");
    let agent = http_with(&server, minted["token"].as_str());
    let mut key_socket = ws_connect(&server, Some(second)).await.unwrap();
    let mut agent_socket = ws_connect(&server, minted["token"].as_str()).await.unwrap();
    for socket in [&mut key_socket, &mut agent_socket] {
        ws_subscribe(socket, u64::MAX / 2, None).await;
        let _ = ws_next(socket, Duration::from_secs(5)).await;
    }

    let revoked_at = Instant::now();
    let id = record.id.clone();
    on_store(Box::new(move |s| assert!(s.delete_api_key(&id).unwrap())))
        .await
        .unwrap();
    for socket in [&mut key_socket, &mut agent_socket] {
        match ws_next(socket, Duration::from_secs(2)).await {
            Some(ServerMessage::Error { error }) => {
                assert_eq!(error.kind, ablo_runtime::wire::ErrorType::Authentication)
            }
            None => {}
            other => panic!("expected the socket to end, got {other:?}"),
        }
    }
    assert!(
        revoked_at.elapsed() < Duration::from_secs(1),
        "{:?}",
        revoked_at.elapsed()
    );
    assert_error(
        &key.get("/v1/models/projects").await,
        401,
        "authentication",
        "invalid_api_key",
    );
    assert_error(
        &agent.get("/v1/models/projects").await,
        401,
        "authentication",
        "capability_revoked",
    );
    let _ = ParticipantKind::Agent;
    drop(store);
    server.stop().await;
}

/// Hole 8: out of scope looks exactly like not found, also when the row is
/// claimed or busy.
#[tokio::test]
async fn out_of_scope_rows_answer_exactly_like_missing_ones() {
    let server = two_orgs().await;
    let (status, _) = server
        .http
        .post(
            "/v1/intents",
            &json!({"target": {"model": "projects", "id": "p_b1"}, "action": "edit", "exclusive": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, agent) = capability(&server, &["projects.*"], &["org:a"]).await;
    let strip = |mut body: Value| {
        body["error"]["requestId"] = Value::Null;
        body.to_string().replace("p_b1", "ID").replace("p_zz", "ID")
    };
    for (hidden, missing) in [
        (
            agent.get("/v1/models/projects/p_b1").await,
            agent.get("/v1/models/projects/p_zz").await,
        ),
        (
            agent
                .patch(
                    "/v1/models/projects/p_b1",
                    &json!({"data": {"name": "n"}, "ifBusy": "fail"}),
                )
                .await,
            agent
                .patch(
                    "/v1/models/projects/p_zz",
                    &json!({"data": {"name": "n"}, "ifBusy": "fail"}),
                )
                .await,
        ),
        (
            agent.delete("/v1/models/projects/p_b1").await,
            agent.delete("/v1/models/projects/p_zz").await,
        ),
        (
            agent.get("/v1/intents?model=projects&id=p_b1").await,
            agent.get("/v1/intents?model=projects&id=p_zz").await,
        ),
    ] {
        assert_eq!(hidden.0, missing.0);
        assert_eq!(strip(hidden.1), strip(missing.1));
    }
    server.stop().await;
}
