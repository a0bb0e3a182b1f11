//! `GET /v1/sync/snapshot` over real HTTP on loopback: the NDJSON body
//! holds the rows a fresh list returns, as of the cursor it names; a
//! capability gets only rows of its groups (not one byte of another
//! group's row); writes made while the body is read appear in
//! `GET /v1/sync/deltas?after=cursor` with no gap and no repeat; bad input
//! gets the typed errors of docs/protocol.md.

mod authz_common;
mod server_common;

use std::collections::BTreeMap;

use authz_common::{agent_request, http_with, mint, project};
use reqwest::StatusCode;
use serde_json::{Value, json};
use server_common::{Http, TestServer, assert_error, task};

/// A snapshot body read line by line as it streams.
struct SnapshotBody {
    response: reqwest::Response,
    buffered: Vec<u8>,
    /// Every byte received so far.
    raw: Vec<u8>,
}

impl SnapshotBody {
    /// Starts `GET /v1/sync/snapshot{query}` with `token`; the response
    /// must be a 200 NDJSON stream.
    async fn open(server: &TestServer, token: &str, query: &str) -> SnapshotBody {
        let response = reqwest::Client::new()
            .get(format!("{}/v1/sync/snapshot{query}", server.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"],
            "application/x-ndjson",
            "NDJSON body"
        );
        SnapshotBody {
            response,
            buffered: Vec::new(),
            raw: Vec::new(),
        }
    }

    /// The next line as JSON, `None` at the end of the body.
    async fn line(&mut self) -> Option<Value> {
        loop {
            if let Some(end) = self.buffered.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffered.drain(..=end).collect();
                return Some(serde_json::from_slice(&line).expect("each line is JSON"));
            }
            match self.response.chunk().await.expect("body read") {
                Some(chunk) => {
                    self.raw.extend_from_slice(&chunk);
                    self.buffered.extend_from_slice(&chunk);
                }
                None => {
                    assert!(self.buffered.is_empty(), "the body ends with a newline");
                    return None;
                }
            }
        }
    }

    /// Reads the whole body: `snapshot`, `rows`…, `snapshotEnd` with the
    /// same cursor. Returns the cursor and the rows by model and id.
    async fn read_all(&mut self) -> (u64, BTreeMap<String, BTreeMap<String, Value>>) {
        let first = self.line().await.expect("a first line");
        assert_eq!(first["type"], "snapshot", "{first}");
        let cursor = first["cursor"].as_u64().expect("a cursor");
        self.rest(cursor).await
    }

    /// The lines after `snapshot`.
    async fn rest(&mut self, cursor: u64) -> (u64, BTreeMap<String, BTreeMap<String, Value>>) {
        let mut rows: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
        loop {
            let line = self.line().await.expect("the body ends with snapshotEnd");
            match line["type"].as_str() {
                Some("rows") => {
                    let model = line["model"].as_str().unwrap().to_owned();
                    for row in line["rows"].as_array().unwrap() {
                        let id = row["id"].as_str().unwrap().to_owned();
                        let fresh = rows
                            .entry(model.clone())
                            .or_default()
                            .insert(id, row.clone());
                        assert!(fresh.is_none(), "a row is sent once: {row}");
                    }
                }
                Some("snapshotEnd") => {
                    assert_eq!(line["cursor"], cursor, "{line}");
                    assert!(self.line().await.is_none(), "nothing after snapshotEnd");
                    return (cursor, rows);
                }
                _ => panic!("unexpected line {line}"),
            }
        }
    }
}

/// Every row of `model` as a fresh list returns it, by id.
async fn listed(http: &Http, model: &str) -> BTreeMap<String, Value> {
    let mut rows = BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(cursor) => format!("/v1/models/{model}?limit=1000&cursor={cursor}"),
            None => format!("/v1/models/{model}?limit=1000"),
        };
        let (status, page) = http.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for row in page["data"].as_array().unwrap() {
            rows.insert(row["id"].as_str().unwrap().to_owned(), row.clone());
        }
        match page["nextCursor"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => return rows,
        }
    }
}

/// Creates `count` tasks in commits of 500 operations.
async fn seed_tasks(http: &Http, count: usize) {
    for start in (0..count).step_by(500) {
        let operations: Vec<Value> = (start..count.min(start + 500))
            .map(|i| json!({"type": "create", "model": "tasks", "id": format!("t{i:05}"), "data": task(&format!("task {i}"))}))
            .collect();
        let (status, body) = http.commit(&json!({"operations": operations})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

async fn seed_projects(http: &Http) {
    for org in ["a", "b"] {
        for n in 0..3 {
            let (status, body) = http
                .post(
                    "/v1/models/projects",
                    &json!({"id": format!("p_{org}_{n}"), "data": project(org, &format!("secret_{org}_{n}"))}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
    }
}

#[tokio::test]
async fn the_snapshot_holds_the_rows_a_fresh_list_returns() {
    let server = TestServer::start().await;
    seed_tasks(&server.http, 1200).await;
    seed_projects(&server.http).await;
    let mut body = SnapshotBody::open(&server, server_common::API_KEY, "").await;
    let (cursor, rows) = body.read_all().await;
    let (_, deltas) = server.http.get("/v1/sync/deltas?after=0&limit=1").await;
    assert_eq!(
        cursor,
        deltas["stamp"].as_u64().unwrap(),
        "the cursor is the head"
    );
    assert_eq!(rows["tasks"], listed(&server.http, "tasks").await);
    assert_eq!(rows["projects"], listed(&server.http, "projects").await);
    assert_eq!(rows.len(), 2, "only models with rows: {:?}", rows.keys());
    // An empty store: the cursor, no rows, the end.
    let empty = TestServer::start().await;
    let mut body = SnapshotBody::open(&empty, server_common::API_KEY, "").await;
    let (_, rows) = body.read_all().await;
    assert!(rows.is_empty());
}

#[tokio::test]
async fn a_capability_gets_only_rows_of_its_groups() {
    let server = TestServer::start().await;
    seed_projects(&server.http).await;
    let (_, token) = mint(&server, agent_request(&["*.read"], &["org:a"])).await;
    let mut body = SnapshotBody::open(&server, &token, "").await;
    let (_, rows) = body.read_all().await;
    let ids: Vec<&String> = rows["projects"].keys().collect();
    assert_eq!(ids, ["p_a_0", "p_a_1", "p_a_2"]);
    let raw = String::from_utf8(body.raw.clone()).unwrap();
    assert!(!raw.contains("p_b_") && !raw.contains("secret_b"), "{raw}");
    // A group list within the capability narrows the rows further...
    let mut narrowed = SnapshotBody::open(&server, &token, "?syncGroups=org:a").await;
    assert_eq!(narrowed.read_all().await.1["projects"].len(), 3);
    // ...and the API key asking for one group gets that group only.
    let key = server_common::API_KEY;
    let mut only_b = SnapshotBody::open(&server, key, "?syncGroups=org:b").await;
    let (_, rows) = only_b.read_all().await;
    let ids: Vec<&String> = rows["projects"].keys().collect();
    assert_eq!(ids, ["p_b_0", "p_b_1", "p_b_2"]);
    // A group outside the capability is refused, as on the WebSocket.
    let http = http_with(&server, Some(&token));
    let denied = http.get("/v1/sync/snapshot?syncGroups=org:a,org:b").await;
    assert_error(&denied, 403, "permission", "capability_scope_denied");
    // A capability that may not read projects gets none of them.
    let (_, writer) = mint(&server, agent_request(&["tasks.*"], &["*"])).await;
    let mut body = SnapshotBody::open(&server, &writer, "").await;
    let (_, rows) = body.read_all().await;
    assert!(!rows.contains_key("projects"), "{:?}", rows.keys());
}

#[tokio::test]
async fn writes_during_the_snapshot_follow_it_in_the_deltas_without_gap_or_repeat() {
    let server = TestServer::start().await;
    seed_tasks(&server.http, 1500).await;
    let mut body = SnapshotBody::open(&server, server_common::API_KEY, "").await;
    let first = body.line().await.unwrap();
    let cursor = first["cursor"].as_u64().unwrap();
    // The snapshot is fixed once its first line is out: these writes come
    // after it, while its rows are still being read.
    for i in 0..20 {
        let id = format!("t{:05}", i * 7);
        let (status, reply) = server
            .http
            .patch(
                &format!("/v1/models/tasks/{id}"),
                &json!({"data": {"title": format!("changed {i}")}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{reply}");
    }
    server.http.create_task("t_new", "created meanwhile").await;
    let (status, reply) = server.http.delete("/v1/models/tasks/t00001").await;
    assert!(status.is_success(), "{reply}");
    let (_, mut rows) = body.rest(cursor).await;
    let tasks = rows.entry("tasks".into()).or_default();
    assert_eq!(tasks.len(), 1500, "the snapshot is as of its cursor");
    assert!(
        tasks
            .values()
            .all(|r| r["stamp"].as_u64().unwrap() <= cursor)
    );
    // Apply the log after the cursor: every write, once, in order.
    let mut after = cursor;
    let mut seen = Vec::new();
    loop {
        let (status, page) = server
            .http
            .get(&format!("/v1/sync/deltas?after={after}&limit=7"))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for delta in page["data"].as_array().unwrap() {
            let sync_id = delta["syncId"].as_u64().unwrap();
            assert!(sync_id > after.min(cursor) && sync_id > cursor, "{delta}");
            seen.push(sync_id);
            let id = delta["id"].as_str().unwrap().to_owned();
            match delta["data"].as_object() {
                Some(data) if delta["action"] != "delete" => {
                    let row = tasks.entry(id).or_insert_with(|| json!({}));
                    for (field, value) in data {
                        row[field] = value.clone();
                    }
                    row["stamp"] = json!(sync_id);
                }
                _ => {
                    tasks.remove(&id);
                }
            }
        }
        after = page["nextAfter"].as_u64().unwrap();
        if page["hasMore"] != true {
            break;
        }
    }
    assert_eq!(
        seen.len(),
        22,
        "every write after the cursor, once: {seen:?}"
    );
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "in order: {seen:?}");
    let fresh = listed(&server.http, "tasks").await;
    assert_eq!(
        tasks.keys().collect::<Vec<_>>(),
        fresh.keys().collect::<Vec<_>>()
    );
    for (id, row) in &fresh {
        assert_eq!(tasks[id]["title"], row["title"], "{id}");
        assert_eq!(tasks[id]["stamp"], row["stamp"], "{id}");
    }
}

#[tokio::test]
async fn bad_input_gets_typed_errors() {
    let server = TestServer::start().await;
    for query in [
        "?syncGroups=",
        "?syncGroups=org:a,,org:b",
        "?syncGroups=org:*",
        "?syncGroups=a%20b",
    ] {
        let response = server.http.get(&format!("/v1/sync/snapshot{query}")).await;
        assert_error(&response, 400, "validation", "invalid_query");
    }
    let anonymous = http_with(&server, None);
    let response = anonymous.get("/v1/sync/snapshot").await;
    assert_error(&response, 401, "authentication", "missing_api_key");
    let forged = http_with(&server, Some("sk_test_not_the_key_0000000000"));
    let response = forged.get("/v1/sync/snapshot").await;
    assert_error(&response, 401, "authentication", "invalid_api_key");
}

/// Starts `GET /v1/sync/snapshot` on a socket with a 4 KiB receive buffer
/// and never reads the answer: the server's reader stops on it, holding
/// its turn, until the socket is dropped.
async fn stalled_snapshot(server: &TestServer) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let addr: std::net::SocketAddr = server.url.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let request = format!(
        "GET /v1/sync/snapshot HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\n\r\n",
        server_common::API_KEY
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream
}

async fn snapshots_waiting(server: &TestServer) -> f64 {
    let text = reqwest::Client::new()
        .get(format!("{}/metrics", server.url))
        .bearer_auth(server_common::API_KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("ablo_snapshots_waiting "))
        .expect("the series is exposed")
        .trim()
        .parse()
        .unwrap()
}

/// With one snapshot read at a time, a client that stops reading keeps its
/// turn; the next snapshot waits (and is counted as waiting) and gets the
/// turn, whole, once that client is gone.
#[tokio::test]
async fn a_snapshot_past_the_bound_waits_for_a_turn() {
    let server = TestServer::start_with(|mut config| {
        config.max_concurrent_snapshots = 1;
        config
    })
    .await;
    // About 10 MiB of rows: more than the server's buffers and the socket's.
    let title = "x".repeat(4000);
    for start in (0..2500).step_by(50) {
        let operations: Vec<Value> = (start..start + 50)
            .map(|i| json!({"type": "create", "model": "tasks", "id": format!("t{i:05}"), "data": task(&title)}))
            .collect();
        let (status, body) = server.http.commit(&json!({"operations": operations})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let stalled = stalled_snapshot(&server).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(snapshots_waiting(&server).await, 0.0);

    let second = SnapshotBody::open(&server, server_common::API_KEY, "");
    tokio::pin!(second);
    let early = tokio::time::timeout(std::time::Duration::from_millis(700), &mut second).await;
    assert!(early.is_err(), "the second snapshot must wait for the turn");
    assert_eq!(snapshots_waiting(&server).await, 1.0);

    drop(stalled);
    let mut body = tokio::time::timeout(std::time::Duration::from_secs(20), &mut second)
        .await
        .expect("the turn passes on once the stalled client is gone");
    let (_, rows) = body.read_all().await;
    assert_eq!(rows["tasks"].len(), 2500);
    assert_eq!(snapshots_waiting(&server).await, 0.0);
}
