//! The typed client against a real server: create, retrieve, update, list,
//! load, local queries, delete, and the errors of each.

mod client_common;

use ablo::Error;
use ablo::client::{Client, Query};
use ablo::prelude::*;
use client_common::{API_KEY, App, Counter, Task, TaskPatch, TaskStatus, TestServer, task};

// conformance: crud.typed-handles
#[tokio::test]
async fn create_retrieve_update_delete_through_typed_handles() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let tasks = client.model::<Task>();

    let created = tasks.create(task("Draft launch plan")).await.unwrap();
    assert!(created.stamp > SyncId::ZERO);
    assert_eq!(created.title, "Draft launch plan");
    assert_eq!(created.status, TaskStatus::Todo);
    assert_eq!(
        tasks.get(created.id.clone()).unwrap(),
        created,
        "a confirmed create is in the local pool"
    );

    let found = tasks.retrieve(created.id.clone()).await.unwrap();
    assert_eq!(found.data, created);
    assert!(found.stamp >= created.stamp);
    assert!(found.intents.is_empty());

    let updated = tasks
        .update(
            created.id.clone(),
            TaskPatch::new().status(TaskStatus::Done).summary("shipped"),
        )
        .await
        .unwrap();
    assert_eq!(updated.status, TaskStatus::Done);
    assert_eq!(updated.summary.as_deref(), Some("shipped"));
    assert_eq!(updated.title, "Draft launch plan", "untouched fields stay");
    assert!(updated.stamp > created.stamp);
    assert_eq!(updated.created_at, created.created_at);

    let cleared = tasks
        .update(created.id.clone(), TaskPatch::new().clear_summary())
        .await
        .unwrap();
    assert_eq!(cleared.summary, None);

    tasks.delete(created.id.clone()).await.unwrap();
    assert!(tasks.get(created.id.clone()).is_none());
    let err = tasks.retrieve(created.id.clone()).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert_eq!(err.code(), "row_not_found");
    assert!(err.request_id().is_some());
    client.dispose().await;
}

#[tokio::test]
async fn client_chosen_ids_and_duplicate_creates() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let tasks = client.model::<Task>();
    let row = tasks
        .create(task("Named"))
        .id("task-named-1")
        .await
        .unwrap();
    assert_eq!(row.id.as_str(), "task-named-1");
    let err = tasks
        .create(task("Again"))
        .id("task-named-1")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Idempotency(_)), "{err:?}");
    assert_eq!(err.code(), "row_exists");
}

// conformance: crud.missing-row-not-found
#[tokio::test]
async fn updates_and_deletes_of_missing_rows_are_not_found() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let tasks = client.model::<Task>();
    let err = tasks
        .update("nope", TaskPatch::new().points(1))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    let err = tasks.delete("nope").await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}

// conformance: reads.load-list-count
#[tokio::test]
async fn list_filters_sorts_and_pages() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let tasks = client.model::<Task>();
    for (i, status) in [
        TaskStatus::Todo,
        TaskStatus::Done,
        TaskStatus::Todo,
        TaskStatus::Todo,
        TaskStatus::Doing,
    ]
    .into_iter()
    .enumerate()
    {
        let mut t = task(&format!("task {i}"));
        t.status = status;
        t.points = i as i64 * 10;
        tasks.create(t).await.unwrap();
    }

    let todo = tasks
        .list(
            Query::new()
                .where_eq("status", TaskStatus::Todo)
                .order_by_desc("points"),
        )
        .await
        .unwrap();
    let points: Vec<i64> = todo.data.iter().map(|r| r.points).collect();
    assert_eq!(points, vec![30, 20, 0]);
    assert!(todo.next_cursor.is_none());
    assert!(
        tasks.get_count(&Query::new()) == 5,
        "confirmed creates are local"
    );

    let mut seen = Vec::new();
    let mut query = Query::new().order_by("points").limit(2);
    loop {
        let page = tasks.list(query.clone()).await.unwrap();
        assert!(page.data.len() <= 2);
        seen.extend(page.data.iter().map(|r| r.points));
        match page.next_cursor {
            Some(cursor) => query = query.cursor(cursor),
            None => break,
        }
    }
    assert_eq!(seen, vec![0, 10, 20, 30, 40]);

    let err = tasks
        .list(Query::new().where_eq("colour", "red"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Validation(_)), "{err:?}");
    assert_eq!(err.code(), "invalid_query");
}

// conformance: reads.load-list-count
#[tokio::test]
async fn load_fills_the_local_pool_for_get_all_and_get_count() {
    let server = TestServer::start().await;
    let writer = server.client().await;
    for i in 0..7 {
        let mut t = task(&format!("t{i}"));
        t.points = i;
        if i % 2 == 0 {
            t.status = TaskStatus::Done;
        }
        writer.model::<Task>().create(t).await.unwrap();
    }
    // A reader that does not follow the live stream holds nothing until it
    // loads.
    let reader = server.builder().live(false).connect().await.unwrap();
    let tasks = reader.model::<Task>();
    assert_eq!(tasks.get_count(&Query::new()), 0);
    let done = tasks
        .load(Query::new().where_eq("status", TaskStatus::Done))
        .await
        .unwrap();
    assert_eq!(done.len(), 4);
    assert_eq!(tasks.get_count(&Query::new()), 4);
    let all = tasks.load(Query::new()).await.unwrap();
    assert_eq!(all.len(), 7);
    let top = tasks.get_all(&Query::new().order_by_desc("points").limit(3));
    let points: Vec<i64> = top.iter().map(|r| r.points).collect();
    assert_eq!(points, vec![6, 5, 4]);
    assert_eq!(
        tasks.get_count(&Query::new().where_eq("status", TaskStatus::Todo)),
        3
    );
    let first_two = tasks.load(Query::new().limit(2)).await.unwrap();
    assert_eq!(first_two.len(), 2);
}

// conformance: reads.load-pages
#[tokio::test]
async fn load_follows_cursors_past_one_page() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let counters = client.model::<Counter>();
    for i in 0..620 {
        counters
            .create(Counter {
                name: format!("c{i:04}"),
                value: i,
            })
            .wait(ablo::client::Wait::Queued)
            .await
            .unwrap();
    }
    client.dispose().await;
    let reader = server.builder().live(false).connect().await.unwrap();
    let rows = reader.model::<Counter>().load(Query::new()).await.unwrap();
    assert_eq!(rows.len(), 620);
    assert_eq!(reader.model::<Counter>().get_count(&Query::new()), 620);
}

#[tokio::test]
async fn a_wrong_api_key_is_an_authentication_error() {
    let server = TestServer::start().await;
    let err = Client::builder(&server.url, "sk_test_not_the_right_key_000")
        .schema(App::descriptor())
        .connect()
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::Authentication(_)), "{err:?}");
    assert_eq!(err.code(), "invalid_api_key");
    assert_eq!(err.status(), Some(401));
    assert!(err.request_id().is_some());
}

#[tokio::test]
async fn an_unreachable_server_is_a_connection_error() {
    let mut server = TestServer::start().await;
    let url = server.url.clone();
    server.stop().await;
    let err = Client::builder(url, API_KEY)
        .timeout(std::time::Duration::from_secs(3))
        .retry(ablo::client::RetryPolicy::none())
        .connect()
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::Connection(_)), "{err:?}");
}

#[tokio::test]
async fn models_outside_the_schema_are_refused_before_sending() {
    #[ablo::model]
    pub struct Stray {
        pub note: String,
    }
    let server = TestServer::start().await;
    let client = server.client().await;
    let err = client
        .model::<Stray>()
        .create(Stray { note: "x".into() })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Configuration(_)), "{err:?}");
    assert_eq!(err.code(), "unknown_model");
}

#[tokio::test]
async fn the_server_refuses_data_against_another_schema() {
    // A schema without `counters`, pushed as a meant breaking change, makes
    // the server refuse writes to it, with a typed validation error.
    #[ablo::model(name = "counters")]
    pub struct OtherCounter {
        pub label: String,
    }
    ablo::schema! { pub struct Narrow { tasks: Task } }
    let server = TestServer::start().await;
    ablo::client::push_schema(
        &server.url,
        API_KEY,
        &Narrow::descriptor(),
        ablo::client::PushOptions::allowing_breaking(),
    )
    .await
    .unwrap();
    let client = Client::builder(&server.url, API_KEY)
        .schema(Narrow::descriptor())
        .connect()
        .await
        .unwrap();
    let untyped = Client::builder(&server.url, API_KEY)
        .connect()
        .await
        .unwrap();
    let err = untyped
        .model::<OtherCounter>()
        .create(OtherCounter { label: "x".into() })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Validation(_)), "{err:?}");
    assert_eq!(err.code(), "unknown_model");
    drop(client);
}

#[tokio::test]
async fn the_schema_client_has_one_typed_accessor_per_model() {
    let server = TestServer::start().await;
    let app = App::connect(&server.url, API_KEY).await.unwrap();
    app.ready().await.unwrap();
    let created = app.tasks().create(task("Typed")).await.unwrap();
    let counter = app
        .counters()
        .create(Counter {
            name: "typed".into(),
            value: 1,
        })
        .await
        .unwrap();
    assert_eq!(app.tasks().get(created.id.clone()).unwrap(), created);
    assert_eq!(app.counters().get(counter.id.clone()).unwrap(), counter);
    // The typed client derefs to the untyped one.
    assert!(app.snapshot([&created]) >= created.stamp);

    let err = App::connect(&server.url, "sk_test_wrong_key_0000000000")
        .await
        .err()
        .expect("refused");
    assert!(matches!(err, Error::Authentication(_)), "{err:?}");
}

// conformance: crud.validation-errors
#[tokio::test]
async fn values_the_schema_refuses_are_validation_errors() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let mut huge = task("Too many points");
    huge.points = i64::MAX;
    let err = client.model::<Task>().create(huge).await.unwrap_err();
    assert!(matches!(err, Error::Validation(_)), "{err:?}");
    assert_eq!(err.code(), "invalid_field_value");
    assert_eq!(err.status(), Some(422));
    assert!(err.request_id().is_some());
    assert_eq!(
        client.model::<Task>().get_count(&Query::new()),
        0,
        "nothing was stored, locally or on the server"
    );
}

#[tokio::test]
async fn load_with_a_limit_stops_at_the_limit_across_pages() {
    let server = TestServer::start().await;
    let client = server.client().await;
    for i in 0..520 {
        client
            .model::<Counter>()
            .create(Counter {
                name: format!("c{i:04}"),
                value: i,
            })
            .wait(ablo::client::Wait::Queued)
            .await
            .unwrap();
    }
    client.dispose().await;
    let reader = server.builder().live(false).connect().await.unwrap();
    let rows = reader
        .model::<Counter>()
        .load(Query::new().order_by("value").limit(510))
        .await
        .unwrap();
    assert_eq!(rows.len(), 510);
    let values: Vec<i64> = rows.iter().map(|r| r.value).collect();
    assert_eq!(values, (0..510).collect::<Vec<i64>>());
    assert_eq!(reader.model::<Counter>().get_count(&Query::new()), 510);
    assert!(
        reader
            .model::<Counter>()
            .load(Query::new().limit(0))
            .await
            .unwrap()
            .is_empty()
    );
}
