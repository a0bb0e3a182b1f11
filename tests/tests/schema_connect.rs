//! Connecting checks the server's schema and never pushes one; pushing is
//! explicit and the server refuses a breaking change unless it is meant.

mod client_common;

use ablo::Error;
use ablo::client::{Client, MintCapability, PushOptions, push_schema};
use ablo::prelude::*;
use client_common::{API_KEY, App, Task, TaskPatch, TaskStatus, TestServer};
use serde_json::{Value, json};

/// The same `tasks` model with a field the server's schema does not have.
mod drifted {
    #[ablo::model(name = "tasks")]
    pub struct Task {
        pub title: String,
        pub status: crate::TaskStatus,
        pub summary: Option<String>,
        pub points: i64,
        pub estimate: i64,
    }

    ablo::schema! { pub struct Drifted { tasks: Task } }
}

/// Only `tasks`: a subset of the server's models.
mod subset {
    ablo::schema! { pub struct TasksOnly { tasks: crate::Task } }
}

fn task(title: &str) -> Task {
    Task {
        title: title.into(),
        status: TaskStatus::Todo,
        summary: None,
        points: 1,
    }
}

#[tokio::test]
async fn an_agent_with_a_capability_connects_with_the_typed_client() {
    let server = TestServer::start().await;
    let admin = server.client().await;
    let minted = admin
        .capabilities()
        .mint(
            &MintCapability::agent("agent_sched")
                .operations(["tasks.*"])
                .sync_groups(["*"]),
        )
        .await
        .unwrap();
    let token = minted.token.unwrap();
    let agent = App::connect(&server.url, &token).await.unwrap();
    agent.ready().await.unwrap();
    let created = agent.tasks().create(task("From the agent")).await.unwrap();
    let stamp = agent.snapshot([&created]);
    let done = agent
        .tasks()
        .update(
            created.id.clone(),
            TaskPatch::new().status(TaskStatus::Done),
        )
        .read_at(stamp)
        .await
        .unwrap();
    assert_eq!(done.status, TaskStatus::Done);
    let seen = admin
        .model::<Task>()
        .retrieve(created.id.clone())
        .await
        .unwrap();
    assert_eq!(seen.data.status, TaskStatus::Done);
    // The agent may not push: schema pushes need an API key.
    let err = agent
        .push_schema(&App::descriptor(), PushOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Permission(_)), "{err:?}");
    assert_eq!(err.code(), "api_key_required");
}

#[tokio::test]
async fn a_client_whose_models_differ_fails_with_a_typed_error() {
    let server = TestServer::start().await;
    let err = drifted::Drifted::connect(&server.url, API_KEY)
        .await
        .err()
        .expect("refused");
    match &err {
        Error::SchemaMismatch { info, changes } => {
            assert_eq!(info.code, "schema_mismatch");
            assert_eq!(changes.len(), 1, "{changes:?}");
            assert_eq!(changes[0].subject, "tasks.estimate");
            assert!(changes[0].breaking);
            assert!(info.message.contains("tasks.estimate"), "{}", info.message);
        }
        other => panic!("expected SchemaMismatch, got {other:?}"),
    }
    // Connecting pushed nothing: the server still holds the test schema.
    let admin = Client::builder(&server.url, API_KEY)
        .connect()
        .await
        .unwrap();
    assert_eq!(admin.server_schema().await.unwrap(), App::descriptor());

    // A client that knows fewer models than the server is compatible.
    let narrow = subset::TasksOnly::connect(&server.url, API_KEY)
        .await
        .unwrap();
    narrow.tasks().create(task("subset")).await.unwrap();
}

#[tokio::test]
async fn connecting_to_a_server_without_a_schema_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = ablo_server::ServerConfig::new(dir.path())
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_api_key(API_KEY);
    let server = ablo_server::start(config).await.unwrap();
    let err = App::connect(server.url(), API_KEY)
        .await
        .err()
        .expect("refused");
    assert!(matches!(err, Error::SchemaMismatch { .. }), "{err:?}");
    assert_eq!(err.code(), "schema_not_found");
    let pushed = App::push_schema(server.url(), API_KEY).await.unwrap();
    assert!(pushed.changed);
    App::connect(server.url(), API_KEY).await.unwrap();
}

async fn put_schema(url: &str, query: &str, schema: &SchemaDescriptor) -> (u16, Value) {
    let response = reqwest::Client::new()
        .put(format!("{url}/v1/schema{query}"))
        .bearer_auth(API_KEY)
        .json(schema)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn the_server_refuses_a_breaking_push_over_http_unless_it_is_meant() {
    let server = TestServer::start().await;
    let held = App::descriptor();

    // Removing a model is breaking.
    let breaking = subset::TasksOnly::descriptor();
    let (status, body) = put_schema(&server.url, "", &breaking).await;
    assert_eq!(status, 409, "{body}");
    let error = &body["error"];
    assert_eq!(error["type"], "validation");
    assert_eq!(error["code"], "breaking_schema_change");
    assert!(error["requestId"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(error["details"]["currentHash"], json!(held.hash));
    assert_eq!(
        error["details"]["changes"],
        json!([{"subject": "counters", "description": "model removed", "breaking": true}])
    );

    // A required field added is breaking too; the typed client reports it.
    let err = push_schema(
        &server.url,
        API_KEY,
        &drifted::Drifted::descriptor(),
        PushOptions::default(),
    )
    .await
    .unwrap_err();
    match &err {
        Error::SchemaMismatch { info, changes } => {
            assert_eq!(info.code, "breaking_schema_change");
            assert_eq!(info.status, Some(409));
            assert!(
                changes
                    .iter()
                    .any(|c| c.subject == "tasks.estimate" && c.breaking)
            );
        }
        other => panic!("expected SchemaMismatch, got {other:?}"),
    }
    let admin = Client::builder(&server.url, API_KEY)
        .connect()
        .await
        .unwrap();
    assert_eq!(
        admin.server_schema().await.unwrap(),
        held,
        "nothing changed"
    );

    // Meant: allowBreaking=true lets it through.
    let (status, body) = put_schema(&server.url, "?allowBreaking=true", &breaking).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["changed"], true);
    let changes = body["changes"].as_array().unwrap();
    assert!(
        changes
            .iter()
            .any(|c| c["subject"] == "counters" && c["breaking"] == true)
    );

    // Additive (a model added back) is accepted without the flag.
    let (status, body) = put_schema(&server.url, "", &held).await;
    assert_eq!(status, 200, "{body}");
    let changes = body["changes"].as_array().unwrap();
    assert!(changes.iter().all(|c| c["breaking"] == false), "{body}");
    assert!(
        changes
            .iter()
            .any(|c| c["subject"] == "counters" && c["description"] == "model added")
    );
    let (status, body) = put_schema(&server.url, "", &held).await;
    assert_eq!((status, &body["changed"]), (200, &json!(false)));
}
