//! Intents and claims over HTTP and the WebSocket: lifecycle, errors,
//! `ifBusy` on writes and reads, claims, expiry, and group visibility. The
//! API key acts as a `system` participant, a capability as an `agent`.

mod authz_common;
mod server_common;

use std::time::{Duration, Instant};

use ablo_runtime::wire::{IntentEventKind, ServerMessage};
use authz_common::{agent_request, http_with, mint, project, ws_connect, ws_next, ws_subscribe};
use reqwest::StatusCode;
use serde_json::{Value, json};
use server_common::{Http, TestServer, assert_error};

/// An HTTP client acting as an agent allowed everything on tasks.
async fn agent(server: &TestServer) -> Http {
    let (_, token) = mint(server, agent_request(&["tasks.*"], &["*"])).await;
    http_with(server, Some(&token))
}

fn intent_on(id: &str, exclusive: bool) -> Value {
    json!({"target": {"model": "tasks", "id": id}, "action": "update", "exclusive": exclusive})
}

#[tokio::test]
async fn an_intent_is_taken_listed_heartbeated_and_released_once() {
    let server = TestServer::start().await;
    server.http.create_task("t1", "Plan").await;
    let (status, body) = server
        .http
        .post(
            "/v1/intents",
            &json!({"target": {"model": "tasks", "id": "t1", "field": "title"},
            "action": "editing", "ttlMs": 5000}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "active");
    assert_eq!(body["intent"]["participant"]["kind"], "system");
    let id = body["intent"]["id"].as_str().unwrap().to_owned();
    let expires = body["intent"]["expiresAt"].as_str().unwrap().to_owned();

    let (status, list) = server.http.get("/v1/intents?model=tasks&id=t1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let (_, other_field) = server
        .http
        .get("/v1/intents?model=tasks&id=t1&field=status")
        .await;
    assert!(other_field["data"].as_array().unwrap().is_empty());

    tokio::time::sleep(Duration::from_millis(20)).await;
    let (status, renewed) = server
        .http
        .post(&format!("/v1/intents/{id}/heartbeat"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    assert!(renewed["intent"]["expiresAt"].as_str().unwrap() > expires.as_str());

    let (status, released) = server.http.delete(&format!("/v1/intents/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(released["released"], true);
    let (_, again) = server.http.delete(&format!("/v1/intents/{id}")).await;
    assert_eq!(again["released"], false, "release is idempotent");
    let (_, list) = server.http.get("/v1/intents?model=tasks&id=t1").await;
    assert!(list["data"].as_array().unwrap().is_empty());

    let (_, openapi) = server.http.get("/v1/openapi.json").await;
    for (path, method) in [
        ("/v1/intents", "post"),
        ("/v1/intents", "get"),
        ("/v1/intents/{id}/heartbeat", "post"),
        ("/v1/intents/{id}", "delete"),
    ] {
        assert!(
            openapi["paths"][path][method].is_object(),
            "{path} {method}"
        );
    }
}

#[tokio::test]
async fn intent_requests_that_cannot_be_served_fail_with_typed_errors() {
    let server = TestServer::start().await;
    server.http.create_task("t1", "Plan").await;
    let agent = agent(&server).await;
    let post = |body: Value| {
        let http = server.http.clone();
        async move { http.post("/v1/intents", &body).await }
    };
    assert_error(
        &post(json!({"target": {"model": "tasks", "id": "t1"}, "action": "x", "ttlMs": 1})).await,
        422,
        "validation",
        "invalid_ttl",
    );
    assert_error(
        &post(json!({"target": {"model": "nope", "id": "t1"}, "action": "x"})).await,
        404,
        "not_found",
        "model_not_found",
    );
    assert_error(
        &post(json!({"target": {"model": "tasks", "id": "t1", "field": "nope"}, "action": "x"}))
            .await,
        422,
        "validation",
        "unknown_field",
    );
    assert_error(
        &post(json!({"target": {"model": "tasks", "id": "missing"}, "action": "x"})).await,
        404,
        "not_found",
        "row_not_found",
    );
    assert_error(
        &post(json!({"target": {"model": "tasks", "id": "t1"}, "action": ""})).await,
        422,
        "validation",
        "invalid_request",
    );
    assert_error(
        &post(json!({"target": {"model": "tasks", "id": "t1"}, "action": "x", "extra": 1})).await,
        400,
        "validation",
        "malformed_json",
    );
    assert_error(
        &server.http.get("/v1/intents?model=tasks").await,
        400,
        "validation",
        "invalid_query",
    );
    assert_error(
        &server
            .http
            .post("/v1/intents/int_missing/heartbeat", &json!({}))
            .await,
        404,
        "not_found",
        "intent_not_found",
    );
    let (_, taken) = agent.post("/v1/intents", &intent_on("t1", false)).await;
    let id = taken["intent"]["id"].as_str().unwrap();
    assert_error(
        &server.http.delete(&format!("/v1/intents/{id}")).await,
        403,
        "permission",
        "not_intent_holder",
    );
    assert_error(
        &server
            .http
            .post(&format!("/v1/intents/{id}/heartbeat"), &json!({}))
            .await,
        403,
        "permission",
        "not_intent_holder",
    );
}

#[tokio::test]
async fn if_busy_decides_what_a_write_does_and_own_intents_never_make_busy() {
    let server = TestServer::start().await;
    server.http.create_task("t1", "Plan").await;
    let agent = agent(&server).await;
    let (_, taken) = agent.post("/v1/intents", &intent_on("t1", false)).await;
    let intent_id = taken["intent"]["id"].as_str().unwrap().to_owned();

    let refused = server
        .http
        .patch(
            "/v1/models/tasks/t1",
            &json!({"data": {"title": "x"}, "ifBusy": "fail"}),
        )
        .await;
    assert_error(&refused, 409, "busy", "busy");
    assert_eq!(refused.1["error"]["details"]["intents"][0]["id"], intent_id);

    let (status, _) = agent
        .patch(
            "/v1/models/tasks/t1",
            &json!({"data": {"title": "mine"}, "ifBusy": "fail"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "the holder is never busy");
    let (status, _) = server
        .http
        .patch("/v1/models/tasks/t1", &json!({"data": {"points": 1}}))
        .await;
    assert_eq!(status, StatusCode::OK, "ignore is the default");

    let (_, read) = server.http.get("/v1/models/tasks/t1?ifBusy=return").await;
    assert_eq!(read["intents"][0]["id"], intent_id);
    let (_, plain) = server.http.get("/v1/models/tasks/t1").await;
    assert!(plain["intents"].as_array().unwrap().is_empty());

    // `wait` holds the write until the intent is released, then writes.
    let waiting = {
        let http = server.http.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let answer = http
                .patch(
                    "/v1/models/tasks/t1",
                    &json!({"data": {"title": "after"}, "ifBusy": "wait"}),
                )
                .await;
            (answer, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "the write waits for the intent");
    agent.delete(&format!("/v1/intents/{intent_id}")).await;
    let ((status, row), waited) = waiting.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{row}");
    assert_eq!(row["title"], "after");
    assert!(waited >= Duration::from_millis(200));

    // A delete with ifBusy=fail is refused the same way.
    agent.post("/v1/intents", &intent_on("t1", false)).await;
    assert_error(
        &server.http.delete("/v1/models/tasks/t1?ifBusy=fail").await,
        409,
        "busy",
        "busy",
    );
}

#[tokio::test]
async fn claims_answer_201_with_the_row_202_in_line_and_refuse_other_writers() {
    let server = TestServer::start().await;
    server.http.create_task("t1", "Plan").await;
    let agent = agent(&server).await;
    let (status, held) = agent.post("/v1/intents", &intent_on("t1", true)).await;
    assert_eq!(status, StatusCode::CREATED, "{held}");
    assert_eq!(held["data"]["title"], "Plan");
    let stamp = held["stamp"].as_u64().unwrap();
    assert_eq!(stamp, held["data"]["stamp"].as_u64().unwrap());

    let (status, queued) = server
        .http
        .post("/v1/intents", &intent_on("t1", true))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    assert_eq!(queued["status"], "queued");
    assert_eq!(queued["position"], 1);

    let mut no_wait = intent_on("t1", true);
    no_wait["wait"] = json!(false);
    assert_error(
        &server.http.post("/v1/intents", &no_wait).await,
        409,
        "entity_claimed",
        "entity_claimed",
    );
    let refused = server
        .http
        .patch("/v1/models/tasks/t1", &json!({"data": {"title": "x"}}))
        .await;
    assert_error(&refused, 409, "entity_claimed", "entity_claimed");
    assert_eq!(
        refused.1["error"]["details"]["intents"][0]["id"],
        held["intent"]["id"]
    );
    let refused = server
        .http
        .commit(&json!({"operations": [{"type": "delete", "model": "tasks", "id": "t1"}]}))
        .await;
    assert_error(&refused, 409, "entity_claimed", "entity_claimed");

    // The holder writes; its write is guarded from the grant stamp.
    let (status, row) = agent
        .patch("/v1/models/tasks/t1", &json!({"data": {"points": 3}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{row}");
    let (status, _) = agent
        .patch("/v1/models/tasks/t1", &json!({"data": {"points": 4}}))
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the guard follows the holder's own writes"
    );
}

#[tokio::test]
async fn intents_reach_subscribers_of_their_groups_only_and_lapse_without_heartbeats() {
    let server = TestServer::start().await;
    for (id, org) in [("pa", "a"), ("pb", "b")] {
        let (status, body) = server
            .http
            .post(
                "/v1/models/projects",
                &json!({"id": id, "data": project(org, id)}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, token) = mint(&server, agent_request(&["projects.read"], &["org:a"])).await;
    let mut socket = ws_connect(&server, Some(&token)).await.unwrap();
    ws_subscribe(&mut socket, 0, None).await;
    loop {
        match ws_next(&mut socket, Duration::from_secs(5)).await {
            Some(ServerMessage::CaughtUp { .. }) => break,
            Some(_) => {}
            None => panic!("socket closed"),
        }
    }
    let on = |id: &str| json!({"target": {"model": "projects", "id": id}, "action": "edit", "ttlMs": 300});
    // First an intent the capability may not see, then one it may: the
    // second must be the first intent message that arrives.
    server.http.post("/v1/intents", &on("pb")).await;
    let started = Instant::now();
    server.http.post("/v1/intents", &on("pa")).await;
    let mut seen = Vec::new();
    while seen.len() < 2 {
        match ws_next(&mut socket, Duration::from_secs(5)).await {
            Some(ServerMessage::Intent { event, intent, .. }) => {
                assert_eq!(intent.target.id, "pa", "an org:b intent leaked: {event:?}");
                seen.push(event);
            }
            Some(_) => {}
            None => panic!("socket closed"),
        }
    }
    // Not heartbeated: it lapses within its lease and a small margin.
    assert_eq!(seen, [IntentEventKind::Created, IntentEventKind::Expired]);
    let lapsed = started.elapsed();
    assert!(
        lapsed >= Duration::from_millis(300) && lapsed < Duration::from_millis(600),
        "expired after {lapsed:?}"
    );
    let (_, list) = server.http.get("/v1/intents?model=projects&id=pb").await;
    assert!(list["data"].as_array().unwrap().is_empty());
    // A row outside the capability's groups is, to it, a row that does not
    // exist.
    let outsider = http_with(&server, Some(&token));
    let denied = outsider.get("/v1/intents?model=projects&id=pb").await;
    assert_eq!(denied.0.as_u16(), 404, "{}", denied.1);
    assert_eq!(denied.1["error"]["code"], "row_not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_wait_line_refuses_new_claims_with_a_clear_error() {
    let server = TestServer::start().await;
    server.http.create_task("t1", "Hot").await;
    let (status, _) = server
        .http
        .post("/v1/intents", &intent_on("t1", true))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // The line holds 256 waiters, each a distinct participant.
    let mut last_position = 0;
    for n in 0..=256 {
        let (_, token) = mint(
            &server,
            json!({"participantKind": "agent", "participantId": format!("agent_{n}"),
                "operations": ["tasks.*"], "syncGroups": ["*"]}),
        )
        .await;
        let waiter = http_with(&server, Some(&token));
        let answer = waiter.post("/v1/intents", &intent_on("t1", true)).await;
        if n < 256 {
            assert_eq!(answer.0, StatusCode::ACCEPTED, "{}", answer.1);
            last_position = answer.1["position"].as_u64().unwrap();
        } else {
            assert_error(&answer, 409, "busy", "claim_queue_full");
            assert_eq!(answer.1["error"]["details"]["depth"], 256);
            assert!(
                answer.1["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("wait line")
            );
        }
    }
    assert_eq!(last_position, 256);
}

#[tokio::test]
async fn the_wait_line_limit_is_configurable() {
    let server = TestServer::start_with(|mut config| {
        config.coordination.max_queue_depth = 2;
        config
    })
    .await;
    server.http.create_task("t1", "Hot").await;
    let (status, _) = server
        .http
        .post("/v1/intents", &intent_on("t1", true))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    for n in 0..3 {
        let (_, token) = mint(
            &server,
            json!({"participantKind": "agent", "participantId": format!("agent_{n}"),
                "operations": ["tasks.*"], "syncGroups": ["*"]}),
        )
        .await;
        let answer = http_with(&server, Some(&token))
            .post("/v1/intents", &intent_on("t1", true))
            .await;
        if n < 2 {
            assert_eq!(answer.0, StatusCode::ACCEPTED, "{}", answer.1);
        } else {
            assert_error(&answer, 409, "busy", "claim_queue_full");
            assert_eq!(answer.1["error"]["details"]["depth"], 2);
        }
    }
}
