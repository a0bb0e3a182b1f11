//! The agent run envelope against a real server: a capability is minted,
//! a task opened, the handler's commits name the task, and whatever the
//! handler does (return, fail, panic, overrun, be dropped) the task is
//! closed with that outcome and the capability revoked.

mod client_common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ablo::client::{AgentSpec, Client, RetryPolicy, RunFailure, RunOutcome};
use ablo_runtime::wire::ParticipantKind;
use client_common::{API_KEY, Task, TestServer, task};
use serde_json::{Value, json};

async fn get(server: &TestServer, path: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", server.url))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn spec() -> AgentSpec {
    AgentSpec::new("triage-bot")
        .operations(["tasks.*"])
        .sync_groups(["default"])
        .on_behalf_of(ParticipantKind::User, "u_1")
        .label("triage")
        .prompt("triage the inbox")
}

/// `(task id, capability id, token)` seen by a handler.
type Seen = Arc<Mutex<Option<(String, String)>>>;

async fn assert_closed(server: &TestServer, seen: &Seen, status: &str) {
    let (task_id, capability_id) = seen.lock().unwrap().clone().expect("the handler ran");
    // The close and revoke of a dropped run happen in the background.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (_, task) = get(server, &format!("/v1/tasks/{task_id}")).await;
        let (_, cap) = get(server, &format!("/v1/capabilities/{capability_id}")).await;
        if task["status"] == status && cap["status"] == "revoked" {
            assert!(task["closedAt"].is_string());
            assert_eq!(task["participantKind"], "agent");
            assert_eq!(task["participantId"], "triage-bot");
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "task {task} capability {cap}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_successful_run_is_attributed_closed_done_and_revoked() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let outcome = client
        .agent(spec())
        .run(move |ctx| async move {
            *record.lock().unwrap() = Some((ctx.task_id.clone(), ctx.capability_id.clone()));
            ctx.add_tokens(1200, 300);
            let created = ctx
                .client
                .model::<Task>()
                .create(task("from the agent"))
                .await?;
            Ok::<_, ablo::Error>(created.id)
        })
        .await
        .unwrap();
    let RunOutcome::Done(row_id) = outcome else {
        panic!("expected Done, got {outcome:?}")
    };
    assert_closed(&server, &seen, "done").await;
    let (task_id, capability_id) = seen.lock().unwrap().clone().unwrap();
    let (_, task) = get(&server, &format!("/v1/tasks/{task_id}")).await;
    assert_eq!(task["costInputTokens"], 1200);
    assert_eq!(task["costOutputTokens"], 300);
    assert_eq!(task["prompt"], "triage the inbox");
    assert_eq!(task["onBehalfOf"], json!({"kind": "user", "id": "u_1"}));
    let (_, audit) = get(&server, "/v1/audit?actorKind=agent").await;
    let rows = audit["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{audit}");
    assert_eq!(rows[0]["taskId"], task_id);
    assert_eq!(rows[0]["capabilityId"], capability_id);
    assert_eq!(rows[0]["capabilityLabel"], "triage");
    assert_eq!(rows[0]["rowIds"], json!([row_id.to_string()]));
    assert_eq!(rows[0]["onBehalfOf"], json!({"kind": "user", "id": "u_1"}));
}

#[tokio::test]
async fn a_panicking_handler_still_closes_its_task_as_failed_and_revokes() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let outcome = client
        .agent(spec())
        .run(move |ctx| async move {
            *record.lock().unwrap() = Some((ctx.task_id.clone(), ctx.capability_id.clone()));
            if ctx.task_id.starts_with("task_") {
                panic!("the model returned nonsense");
            }
            Ok::<(), ablo::Error>(())
        })
        .await
        .unwrap();
    match outcome {
        RunOutcome::Failed(RunFailure::Panicked(message)) => {
            assert!(message.contains("nonsense"), "{message}")
        }
        other => panic!("expected a panic failure, got {other:?}"),
    }
    assert_closed(&server, &seen, "failed").await;
}

#[tokio::test]
async fn a_failing_handler_closes_failed_and_its_client_stops_working() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let kept: Arc<Mutex<Option<Client>>> = Arc::default();
    let keep = kept.clone();
    let outcome = client
        .agent(spec())
        .run(move |ctx| async move {
            *record.lock().unwrap() = Some((ctx.task_id.clone(), ctx.capability_id.clone()));
            *keep.lock().unwrap() = Some(ctx.client.clone());
            Err::<(), _>("gave up".to_owned())
        })
        .await
        .unwrap();
    assert!(matches!(outcome, RunOutcome::Failed(RunFailure::Handler(ref e)) if e == "gave up"));
    assert_closed(&server, &seen, "failed").await;
    // The handler's capability no longer works.
    let token_client = kept.lock().unwrap().clone().unwrap();
    let err = token_client
        .model::<Task>()
        .create(task("late"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("disposed") || err.to_string().contains("revoked"),
        "{err}"
    );
}

#[tokio::test]
async fn an_overrunning_handler_is_cancelled() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let outcome = client
        .agent(spec().timeout(Duration::from_millis(200)))
        .run(move |ctx| async move {
            *record.lock().unwrap() = Some((ctx.task_id.clone(), ctx.capability_id.clone()));
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok::<(), ablo::Error>(())
        })
        .await
        .unwrap();
    assert!(matches!(outcome, RunOutcome::Cancelled), "{outcome:?}");
    assert_closed(&server, &seen, "cancelled").await;
}

#[tokio::test]
async fn dropping_the_run_cancels_closes_and_revokes() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let run = client.agent(spec()).run(move |ctx| async move {
        *record.lock().unwrap() = Some((ctx.task_id.clone(), ctx.capability_id.clone()));
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok::<(), ablo::Error>(())
    });
    let stopped = tokio::time::timeout(Duration::from_millis(500), run).await;
    assert!(stopped.is_err(), "the run was still going");
    assert_closed(&server, &seen, "cancelled").await;
}

#[tokio::test]
async fn commits_must_name_an_open_task() {
    let server = TestServer::start().await;
    let http = reqwest::Client::new();
    let commit = |task: &str| {
        json!({"causedByTaskId": task, "operations": [
            {"type": "create", "model": "tasks", "data": {"title": "x", "status": "todo", "summary": null, "points": 0}}
        ]})
    };
    let _client = server.client().await; // pushes the schema
    let send = |body: Value| {
        http.post(format!("{}/v1/commits", server.url))
            .bearer_auth(API_KEY)
            .json(&body)
            .send()
    };
    let unknown = send(commit("task_nope")).await.unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(body["error"]["code"], "task_not_found");
    let opened: Value = http
        .post(format!("{}/v1/tasks", server.url))
        .bearer_auth(API_KEY)
        .json(&json!({"surface": "cli"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = opened["id"].as_str().unwrap();
    assert_eq!(send(commit(id)).await.unwrap().status().as_u16(), 200);
    let closed = http
        .post(format!("{}/v1/tasks/{id}/close", server.url))
        .bearer_auth(API_KEY)
        .json(&json!({"status": "done"}))
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status().as_u16(), 200);
    let again = http
        .post(format!("{}/v1/tasks/{id}/close", server.url))
        .bearer_auth(API_KEY)
        .json(&json!({"status": "failed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 409);
    let late = send(commit(id)).await.unwrap();
    assert_eq!(late.status().as_u16(), 409);
    let body: Value = late.json().await.unwrap();
    assert_eq!(body["error"]["code"], "task_closed");
    let (_, audit) = get(&server, "/v1/audit").await;
    let with_task: Vec<&Value> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["taskId"] == id)
        .collect();
    assert_eq!(with_task.len(), 1);
}

#[tokio::test]
async fn a_rate_limited_client_gets_retry_after() {
    let server = TestServer::start_with(|c| {
        c.with_rate_limit(ablo_server::RateLimit::per_second(1).with_burst(4))
    })
    .await;
    let client = server
        .builder()
        .retry(RetryPolicy::none())
        .live(false)
        .connect()
        .await
        .unwrap();
    // A capability minted now has a bucket of its own.
    let minted = client
        .capabilities()
        .mint(
            &ablo::client::MintCapability::agent("reader")
                .operations(["tasks.read"])
                .sync_groups(["*"]),
        )
        .await
        .unwrap();
    let tasks = client.model::<Task>();
    let mut limited = None;
    for i in 0..10 {
        if let Err(err) = tasks.create(task(&format!("t{i}"))).await {
            limited = Some(err);
            break;
        }
    }
    match limited.expect("the limit was reached") {
        ablo::Error::RateLimit { retry_after, info } => {
            assert_eq!(info.code, "rate_limited");
            let wait = retry_after.expect("Retry-After");
            assert!(
                wait >= Duration::from_secs(1) && wait <= Duration::from_secs(2),
                "{wait:?}"
            );
        }
        other => panic!("expected RateLimit, got {other:?}"),
    }
    let (status, _) = get(&server, "/v1/audit").await;
    assert_eq!(status, 429, "every client of the API key shares its bucket");
    let reader = reqwest::Client::new()
        .get(format!("{}/v1/models/tasks", server.url))
        .bearer_auth(minted.token.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(reader.status().as_u16(), 200);
}
