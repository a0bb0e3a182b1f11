//! The `where` operators end to end: for each operator the server's list
//! and the client's local pool (`get_all`, `get_count`) select the same
//! rows, by the one set of rules in `ablo_runtime::filter`; and every
//! malformed condition is refused with `invalid_query`, by the server and
//! by `Query::validate` alike. Runs on SQLite, and on PostgreSQL under
//! `ABLO_TEST_BACKEND=postgres` (`scripts/test` runs it so).

use std::time::Duration;

use ablo::client::{Client, Query};
use ablo::prelude::*;

const API_KEY: &str = "sk_test_query_operators_0123456789";

/// A row with one field of each filterable kind, and a list.
#[ablo::model]
pub struct Item {
    pub title: String,
    pub rank: i64,
    pub score: Option<f64>,
    pub done: bool,
    pub stage: Stage,
    pub due: Option<Timestamp>,
    pub note: Option<String>,
    pub tags: Vec<String>,
}

/// Where an item stands.
#[derive(ablo::Enum)]
pub enum Stage {
    Todo,
    Doing,
    Done,
}

ablo::schema! {
    pub struct Shop {
        items: Item,
    }
}

struct Setup {
    _server: ablo_server::RunningServer,
    _dir: tempfile::TempDir,
    url: String,
    client: Client,
    ids: Vec<String>,
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    // The same store choice as the server suites: a fresh PostgreSQL
    // database under `ABLO_TEST_BACKEND=postgres`, else the directory.
    let storage = if std::env::var("ABLO_TEST_BACKEND").as_deref() == Ok("postgres") {
        let url = ablo_tests::postgres::fresh_database("query operators")
            .expect("ABLO_TEST_BACKEND=postgres needs ABLO_TEST_POSTGRES_URL");
        ablo_server::storage::StorageLocation::Postgres(url)
    } else {
        ablo_server::storage::StorageLocation::Directory(dir.path().to_owned())
    };
    let config = ablo_server::ServerConfig::new(dir.path())
        .with_storage(storage)
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_api_key(API_KEY);
    let server = ablo_server::start(config).await.unwrap();
    let url = server.url();
    ablo_tests::push_schema(&url, API_KEY, &Shop::descriptor()).await;
    let client = Client::builder(&url, API_KEY)
        .schema(Shop::descriptor())
        .timeout(Duration::from_secs(10))
        .connect()
        .await
        .unwrap();
    client.ready().await.unwrap();
    let items = client.model::<Item>();
    let rows = [
        (
            "a",
            1,
            Some(1.5),
            true,
            Stage::Todo,
            Some("2026-01-01T00:00:00.000Z"),
            Some("x"),
        ),
        ("b", 2, None, false, Stage::Doing, None, None),
        (
            "B",
            3,
            Some(2.0),
            false,
            Stage::Done,
            Some("2026-06-01T00:00:00.000Z"),
            Some("y"),
        ),
        (
            "ab",
            2,
            Some(-1.0),
            true,
            Stage::Todo,
            Some("2025-12-31T23:59:59.999Z"),
            None,
        ),
        ("é", 5, Some(2.5), false, Stage::Doing, None, Some("x")),
    ];
    let mut ids = Vec::new();
    for (title, rank, score, done, stage, due, note) in rows {
        let row = items
            .create(Item {
                title: title.into(),
                rank,
                score,
                done,
                stage,
                due: due.map(at),
                note: note.map(str::to_owned),
                tags: vec!["t".into()],
            })
            .await
            .unwrap();
        ids.push(row.id.as_str().to_owned());
    }
    Setup {
        _server: server,
        _dir: dir,
        url,
        client,
        ids,
    }
}

impl Setup {
    /// The row numbers (creation order) of `ids`.
    fn numbers(&self, ids: impl IntoIterator<Item = String>) -> Vec<usize> {
        ids.into_iter()
            .map(|id| {
                self.ids
                    .iter()
                    .position(|i| *i == id)
                    .expect("a seeded row")
            })
            .collect()
    }

    /// The rows the server lists and the rows the local pool holds for
    /// `query`, both in the query's order (by id unless it sorts).
    async fn both(&self, query: Query<Item>) -> (Vec<usize>, Vec<usize>) {
        let items = self.client.model::<Item>();
        let paged = match query.limit_value() {
            Some(_) => query.clone(),
            None => query.clone().limit(1000),
        };
        let page = items.list(paged).await.unwrap();
        let server = self.numbers(page.data.into_iter().map(|r| r.id.as_str().to_owned()));
        let local_rows = items.try_get_all(&query).unwrap();
        if query.limit_value().is_none() {
            assert_eq!(items.try_get_count(&query).unwrap(), local_rows.len());
        }
        let local = self.numbers(local_rows.into_iter().map(|r| r.id.as_str().to_owned()));
        (server, local)
    }

    /// `GET /v1/models/items?where=...`: the status and the error code.
    async fn raw_list(&self, where_: &str) -> (u16, String, String) {
        let response = reqwest::Client::new()
            .get(format!("{}/v1/models/items", self.url))
            .query(&[("where", where_)])
            .bearer_auth(API_KEY)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap();
        let error = &body["error"];
        (
            status,
            error["code"].as_str().unwrap_or("").to_owned(),
            error["message"].as_str().unwrap_or("").to_owned(),
        )
    }
}

#[tokio::test]
async fn the_server_and_the_local_pool_select_the_same_rows_for_every_operator() {
    let setup = setup().await;
    let f = Item::fields();
    let cases: Vec<(&str, Query<Item>, Vec<usize>)> = vec![
        ("rank eq", Query::new().filter(f.rank.eq(2)), vec![1, 3]),
        ("rank ne", Query::new().filter(f.rank.ne(2)), vec![0, 2, 4]),
        ("rank gt", Query::new().filter(f.rank.gt(2)), vec![2, 4]),
        (
            "rank gte",
            Query::new().filter(f.rank.gte(2)),
            vec![1, 2, 3, 4],
        ),
        ("rank lt", Query::new().filter(f.rank.lt(2)), vec![0]),
        (
            "rank lte",
            Query::new().filter(f.rank.lte(2)),
            vec![0, 1, 3],
        ),
        (
            "rank in",
            Query::new().filter(f.rank.is_in([1, 3])),
            vec![0, 2],
        ),
        (
            "rank in []",
            Query::new().filter(f.rank.is_in(Vec::<i64>::new())),
            vec![],
        ),
        ("score gt", Query::new().filter(f.score.gt(1.5)), vec![2, 4]),
        (
            "score lte int",
            Query::new().where_op("score", FilterOp::Lte, 2),
            vec![0, 2, 3],
        ),
        ("score eq int", Query::new().where_eq("score", 2), vec![2]),
        (
            "score null",
            Query::new().filter(f.score.is_null()),
            vec![1],
        ),
        (
            "score not null",
            Query::new().filter(f.score.is_not_null()),
            vec![0, 2, 3, 4],
        ),
        (
            "score ne",
            Query::new().filter(f.score.ne(2.0)),
            vec![0, 1, 3, 4],
        ),
        (
            "title lt",
            Query::new().filter(f.title.lt("b")),
            vec![0, 2, 3],
        ),
        (
            "title gte",
            Query::new().filter(f.title.gte("b")),
            vec![1, 4],
        ),
        (
            "title gt (string form)",
            Query::new().where_op("title", FilterOp::Gt, "a"),
            vec![1, 3, 4],
        ),
        (
            "title in",
            Query::new().filter(f.title.is_in(["a", "B"])),
            vec![0, 2],
        ),
        ("done eq", Query::new().filter(f.done.eq(true)), vec![0, 3]),
        (
            "done ne",
            Query::new().filter(f.done.ne(true)),
            vec![1, 2, 4],
        ),
        (
            "done in",
            Query::new().filter(f.done.is_in([false])),
            vec![1, 2, 4],
        ),
        (
            "stage in",
            Query::new().filter(f.stage.is_in([Stage::Todo, Stage::Doing])),
            vec![0, 1, 3, 4],
        ),
        (
            "stage ne",
            Query::new().filter(f.stage.ne(Stage::Done)),
            vec![0, 1, 3, 4],
        ),
        (
            "due lt",
            Query::new().filter(f.due.lt(at("2026-01-01T00:00:00.000Z"))),
            vec![3],
        ),
        (
            "due gte",
            Query::new().filter(f.due.gte(at("2026-01-01T00:00:00.000Z"))),
            vec![0, 2],
        ),
        ("due null", Query::new().filter(f.due.is_null()), vec![1, 4]),
        (
            "note eq_some",
            Query::new().filter(f.note.eq_some("x")),
            vec![0, 4],
        ),
        (
            "note ne",
            Query::new().filter(f.note.ne(Some("x".to_owned()))),
            vec![1, 2, 3],
        ),
        (
            "note in with null",
            Query::new().filter(f.note.is_in([Some("x".to_owned()), None])),
            vec![0, 1, 3, 4],
        ),
        (
            "note null (string form)",
            Query::new().where_eq("note", None::<String>),
            vec![1, 3],
        ),
        (
            "rank in (string form)",
            Query::new().where_op("rank", FilterOp::In, [1, 2]),
            vec![0, 1, 3],
        ),
        (
            "a range and a flag",
            Query::new()
                .filter(f.rank.gte(1))
                .filter(f.rank.lt(4))
                .filter(f.done.eq(false)),
            vec![1, 2],
        ),
        (
            "sorted and limited",
            Query::new()
                .filter(f.rank.gte(2))
                .order_by_desc(f.rank)
                .limit(2),
            vec![4, 2],
        ),
    ];
    for (name, query, want) in cases {
        let (server, local) = setup.both(query).await;
        assert_eq!(server, want, "{name}: the server");
        assert_eq!(local, want, "{name}: the local pool");
    }
}

#[tokio::test]
async fn every_malformed_condition_is_invalid_query_on_the_server_and_locally() {
    let setup = setup().await;
    let cases = [
        (
            r#"{"colour": "red"}"#,
            "model `items` has no field `colour`",
        ),
        (
            r#"{"title": {"like": "a%"}}"#,
            "unknown operator `like` on field `title`",
        ),
        (r#"{"title": {}}"#, "empty operator object"),
        (
            r#"{"rank": {"gte": "3"}}"#,
            "field `rank` holds numbers; `gte` got \"3\"",
        ),
        (r#"{"title": 3}"#, "field `title` holds strings; `eq` got 3"),
        (r#"{"done": 1}"#, "field `done` holds booleans; `eq` got 1"),
        (
            r#"{"stage": {"in": "todo"}}"#,
            "`in` on field `stage` needs a list of values",
        ),
        (
            r#"{"stage": {"in": ["todo", 1]}}"#,
            "field `stage` holds strings; `in` got 1",
        ),
        (r#"{"done": {"gt": false}}"#, "`done` is boolean"),
        (
            r#"{"score": {"lt": null}}"#,
            "`lt` on field `score` needs a value, not null",
        ),
        (r#"{"tags": {"eq": "t"}}"#, "field `tags` is not sortable"),
        (r#"{"tags": ["t"]}"#, "for one of several values use"),
        (r#"["title"]"#, "`where` must be a JSON object"),
    ];
    let descriptor = Shop::descriptor();
    let model = descriptor.model("items").unwrap();
    for (where_, message) in cases {
        let (status, code, got) = setup.raw_list(where_).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "invalid_query"),
            "{where_}: {got}"
        );
        assert!(got.contains(message), "{where_}: {got:?} lacks {message:?}");
        // The same object through the client's string form.
        let Ok(serde_json::Value::Object(object)) = serde_json::from_str(where_) else {
            continue;
        };
        let mut query: Query<Item> = Query::new();
        for (field, value) in object {
            match value {
                serde_json::Value::Object(ops) if !ops.is_empty() => {
                    for (op, operand) in ops {
                        match FilterOp::from_wire(&op) {
                            Some(op) => query = query.where_op(field.clone(), op, operand),
                            None => {
                                query = query.where_eq(
                                    field.clone(),
                                    serde_json::Value::Object(
                                        [(op, operand)].into_iter().collect(),
                                    ),
                                )
                            }
                        }
                    }
                }
                value => query = query.where_eq(field.clone(), value),
            }
        }
        let err = query.validate(model).unwrap_err();
        assert_eq!(err.code(), "invalid_query", "{where_}");
        let err = setup
            .client
            .model::<Item>()
            .try_get_all(&query)
            .unwrap_err();
        assert_eq!(err.code(), "invalid_query", "{where_}");
        let err = setup.client.model::<Item>().list(query).await.unwrap_err();
        assert_eq!(
            err.code(),
            "invalid_query",
            "{where_}: the server refuses what validate refuses"
        );
    }
    // Two different conditions with one operator on one field cannot be sent.
    let f = Item::fields();
    let twice = Query::new().filter(f.rank.gte(1)).filter(f.rank.gte(2));
    let err = setup
        .client
        .model::<Item>()
        .list(twice.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_query");
    assert!(twice.validate(model).is_err());
}

async fn next(changes: &mut ablo::client::WatchStream<Item>) -> ablo::client::RowChange<Item> {
    use futures::StreamExt;
    tokio::time::timeout(Duration::from_secs(5), changes.next())
        .await
        .expect("a change within 5 s")
        .expect("the stream is open")
}

#[tokio::test]
async fn watch_follows_rows_moving_in_and_out_of_a_range() {
    use ablo::client::RowChange;
    let setup = setup().await;
    let items = setup.client.model::<Item>();
    let f = Item::fields();
    let query = Query::new()
        .filter(f.rank.gte(3))
        .filter(f.note.ne(Some("x".to_owned())));
    let mut changes = items.try_watch(query.clone()).unwrap();
    // Row 2 (rank 3, note "y") matches; row 4 (rank 5) has note "x".
    match next(&mut changes).await {
        RowChange::Inserted(row) => assert_eq!(row.id.as_str(), setup.ids[2]),
        other => panic!("expected row 2 inserted, got {other:?}"),
    }
    // Row 1 (rank 2, no note: `ne` lets null through) moves into the range.
    items
        .update(setup.ids[1].clone(), ItemPatch::new().rank(4))
        .await
        .unwrap();
    match next(&mut changes).await {
        RowChange::Inserted(row) => assert_eq!(row.id.as_str(), setup.ids[1]),
        other => panic!("expected row 1 inserted, got {other:?}"),
    }
    // Row 2 drops below it.
    items
        .update(setup.ids[2].clone(), ItemPatch::new().rank(1))
        .await
        .unwrap();
    match next(&mut changes).await {
        RowChange::Removed(id) => assert_eq!(id.as_str(), setup.ids[2]),
        other => panic!("expected row 2 removed, got {other:?}"),
    }
    // What the watch shows is what the server lists.
    let (server, local) = setup.both(query).await;
    assert_eq!(server, vec![1]);
    assert_eq!(local, vec![1]);
}
