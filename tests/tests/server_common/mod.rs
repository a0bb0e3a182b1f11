//! Shared setup of the server end-to-end tests: a real server on a free port
//! in a temporary directory with the test schema pushed, a small HTTP helper
//! and a WebSocket subscriber, all over real sockets.

#![allow(dead_code)]

use std::time::Duration;

use ablo_runtime::wire::{ClientMessage, ServerMessage};
use ablo_runtime::{
    EnumDescriptor, FieldDescriptor, FieldType, ModelDescriptor, ObjectDescriptor,
    SchemaDescriptor, SyncId, TypeRegistry,
};
use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The bootstrap key every test server accepts.
pub const API_KEY: &str = "sk_test_server_e2e_0123456789";

fn field(name: &str, ty: FieldType) -> FieldDescriptor {
    FieldDescriptor::new(name, name, ty)
}

fn model(name: &str, fields: Vec<FieldDescriptor>, sync_groups: Vec<String>) -> ModelDescriptor {
    ModelDescriptor {
        name: name.into(),
        type_name: name.into(),
        doc: None,
        fields,
        sync_groups,
        ts: String::new(),
        json_schema: json!({"type": "object"}),
    }
}

/// The test schema: `tasks` with one field of every type, `projects` in
/// groups `org:{orgId}`, and `counters` for the race.
pub fn schema() -> SchemaDescriptor {
    let opt = FieldType::optional;
    let tasks = model(
        "tasks",
        vec![
            field("title", FieldType::String),
            field(
                "status",
                FieldType::Enum {
                    name: "TaskStatus".into(),
                },
            ),
            field(
                "points",
                FieldType::Integer {
                    bits: 64,
                    signed: true,
                },
            ),
            field("summary", opt(FieldType::String)),
            field("done", opt(FieldType::Boolean)),
            field(
                "small",
                opt(FieldType::Integer {
                    bits: 8,
                    signed: true,
                }),
            ),
            field(
                "count",
                opt(FieldType::Integer {
                    bits: 32,
                    signed: false,
                }),
            ),
            field("ratio", opt(FieldType::Float { bits: 32 })),
            field("due", opt(FieldType::Timestamp)),
            field("uid", opt(FieldType::Uuid)),
            field("meta", opt(FieldType::Json)),
            field("tags", opt(FieldType::list(FieldType::String))),
            field(
                "address",
                opt(FieldType::Object {
                    name: "Address".into(),
                }),
            ),
            field(
                "projectId",
                opt(FieldType::Ref {
                    model: "projects".into(),
                }),
            ),
        ],
        vec![],
    );
    let projects = model(
        "projects",
        vec![
            field("orgId", FieldType::String),
            field("name", FieldType::String),
        ],
        vec!["org:{orgId}".into()],
    );
    let counters = model(
        "counters",
        vec![field(
            "value",
            FieldType::Integer {
                bits: 64,
                signed: true,
            },
        )],
        vec![],
    );
    // Rows in two groups at once, for the isolation tests.
    let tickets = model(
        "tickets",
        vec![
            field("orgId", FieldType::String),
            field("projectKey", FieldType::String),
            field("title", FieldType::String),
            field("notes", opt(FieldType::Json)),
        ],
        vec!["org:{orgId}".into(), "project:{projectKey}".into()],
    );
    let mut registry = TypeRegistry::default();
    registry.add_enum(EnumDescriptor {
        name: "TaskStatus".into(),
        doc: None,
        variants: vec!["todo".into(), "doing".into(), "done".into()],
        ts: String::new(),
        json_schema: json!({}),
    });
    registry.begin_object("Address");
    registry.finish_object(ObjectDescriptor {
        name: "Address".into(),
        doc: None,
        fields: vec![
            field("city", FieldType::String),
            field("zip", opt(FieldType::String)),
        ],
        ts: String::new(),
        json_schema: json!({}),
    });
    SchemaDescriptor::build("App", vec![tasks, projects, counters, tickets], registry)
}

/// A task body with every required field.
pub fn task(title: &str) -> Value {
    json!({"title": title, "status": "todo", "points": 0})
}

/// A running server with the test schema; stops when dropped.
pub struct TestServer {
    pub server: Option<ablo_server::RunningServer>,
    pub url: String,
    pub http: Http,
    pub dir: tempfile::TempDir,
    /// Where the server keeps its data (the directory, or a fresh
    /// PostgreSQL database under `ABLO_TEST_BACKEND=postgres`); a restart
    /// uses it again.
    pub storage: ablo_server::storage::StorageLocation,
}

/// The store for a test server: `dir`, or a fresh PostgreSQL database when
/// `ABLO_TEST_BACKEND=postgres` (which `scripts/test` sets for a second run
/// of the server suites).
pub fn storage_for(dir: &std::path::Path) -> ablo_server::storage::StorageLocation {
    if std::env::var("ABLO_TEST_BACKEND").as_deref() == Ok("postgres") {
        let url = ablo_tests::postgres::fresh_database("server e2e")
            .expect("ABLO_TEST_BACKEND=postgres needs ABLO_TEST_POSTGRES_URL");
        ablo_server::storage::StorageLocation::Postgres(url)
    } else {
        ablo_server::storage::StorageLocation::Directory(dir.to_owned())
    }
}

impl TestServer {
    /// Starts a server with default settings.
    pub async fn start() -> TestServer {
        Self::start_with(|config| config).await
    }

    /// Starts a server after adjusting its configuration.
    pub async fn start_with(
        adjust: impl FnOnce(ablo_server::ServerConfig) -> ablo_server::ServerConfig,
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let storage = storage_for(dir.path());
        let config = ablo_server::ServerConfig::new(dir.path())
            .with_storage(storage.clone())
            .with_addr("127.0.0.1:0".parse().unwrap())
            .with_api_key(API_KEY);
        let server = ablo_server::start(adjust(config))
            .await
            .expect("server starts");
        let url = server.url();
        let http = Http::new(&url, API_KEY);
        let (status, body) = http
            .put("/v1/schema", &serde_json::to_value(schema()).unwrap())
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        TestServer {
            server: Some(server),
            url,
            http,
            dir,
            storage,
        }
    }

    /// Starts another node on `storage` (a store other nodes share); the
    /// schema is not pushed.
    pub async fn start_node(storage: ablo_server::storage::StorageLocation) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = ablo_server::ServerConfig::new(dir.path())
            .with_storage(storage.clone())
            .with_addr("127.0.0.1:0".parse().unwrap())
            .with_api_key(API_KEY);
        let server = ablo_server::start(config).await.expect("node starts");
        let url = server.url();
        TestServer {
            http: Http::new(&url, API_KEY),
            url,
            server: Some(server),
            dir,
            storage,
        }
    }

    /// `false` (with a notice) when the server is not on the embedded store:
    /// for tests that edit the SQLite file underneath the server.
    pub fn is_on_sqlite(&self, test: &str) -> bool {
        let sqlite = matches!(
            self.storage,
            ablo_server::storage::StorageLocation::Directory(_)
        );
        if !sqlite {
            eprintln!("skipped on PostgreSQL ({test}): it edits the SQLite file directly");
        }
        sqlite
    }

    /// Connects a WebSocket subscriber and subscribes from `cursor`.
    pub async fn subscribe(&self, cursor: u64) -> Subscriber {
        Subscriber::connect(&self.url, cursor, None).await
    }

    /// Stops the server and waits until it has.
    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("clean shutdown");
        }
    }
}

/// A tiny JSON-over-HTTP client with a bearer key.
#[derive(Clone)]
pub struct Http {
    pub base: String,
    pub key: Option<String>,
    pub client: reqwest::Client,
}

impl Http {
    pub fn new(base: &str, key: &str) -> Http {
        Http {
            base: base.to_owned(),
            key: Some(key.to_owned()),
            client: reqwest::Client::new(),
        }
    }

    /// Sends a request and returns the status and the JSON body (`null` for
    /// an empty body). Every response must carry `x-request-id`, and every
    /// error the envelope with the same id.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let request = match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        };
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let request_id = response
            .headers()
            .get("x-request-id")
            .map(|v| v.to_str().unwrap().to_owned())
            .expect("every response has x-request-id");
        let text = response.text().await.expect("body read");
        let body: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        };
        if !status.is_success() {
            assert_eq!(body["error"]["requestId"], request_id, "{body}");
            assert!(
                body["error"]["type"].is_string() && body["error"]["code"].is_string(),
                "{body}"
            );
            // 503 is an answer (a node that cannot write says so); 500
            // would be a defect.
            assert_ne!(status.as_u16(), 500, "no input reaches a 500: {body}");
        }
        (status, body)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.client.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(self.client.post(format!("{}{path}", self.base)).json(body))
            .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(self.client.put(format!("{}{path}", self.base)).json(body))
            .await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(self.client.patch(format!("{}{path}", self.base)).json(body))
            .await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.client.delete(format!("{}{path}", self.base)))
            .await
    }

    /// `POST /v1/commits`.
    pub async fn commit(&self, body: &Value) -> (StatusCode, Value) {
        self.post("/v1/commits", body).await
    }

    /// Creates a task and returns the row.
    pub async fn create_task(&self, id: &str, title: &str) -> Value {
        let (status, row) = self
            .post("/v1/models/tasks", &json!({"id": id, "data": task(title)}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{row}");
        row
    }
}

/// Asserts an error response's status, type and code.
pub fn assert_error(response: &(StatusCode, Value), status: u16, kind: &str, code: &str) {
    let (actual, body) = response;
    assert_eq!(actual.as_u16(), status, "{body}");
    assert_eq!(body["error"]["type"], kind, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket subscriber.
pub struct Subscriber {
    pub socket: Socket,
}

impl Subscriber {
    /// Connects with the API key in the `Authorization` header and sends
    /// `subscribe`.
    pub async fn connect(base: &str, cursor: u64, sync_groups: Option<Vec<String>>) -> Subscriber {
        Self::subscribe_from(base, Some(SyncId(cursor)), sync_groups).await
    }

    /// Connects and sends `subscribe` with the given cursor (`None`: a
    /// client that holds nothing, answered with a snapshot).
    pub async fn subscribe_from(
        base: &str,
        cursor: Option<SyncId>,
        sync_groups: Option<Vec<String>>,
    ) -> Subscriber {
        let mut request = format!("{}/v1/sync/ws", base.replacen("http", "ws", 1))
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {API_KEY}").parse().unwrap(),
        );
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("ws connects");
        let mut subscriber = Subscriber { socket };
        subscriber
            .send(&ClientMessage::Subscribe {
                cursor,
                sync_groups,
            })
            .await;
        subscriber
    }

    /// Like [`Subscriber::connect`], over a socket whose kernel receive
    /// buffer is about `bytes` (to make a subscriber fall behind quickly).
    pub async fn connect_with_receive_buffer(base: &str, cursor: u64, bytes: u32) -> Subscriber {
        let addr: std::net::SocketAddr = base.trim_start_matches("http://").parse().unwrap();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(bytes).unwrap();
        let stream = socket.connect(addr).await.unwrap();
        let mut request = format!("ws://{addr}/v1/sync/ws")
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {API_KEY}").parse().unwrap(),
        );
        let (socket, _) = tokio_tungstenite::client_async(
            request,
            tokio_tungstenite::MaybeTlsStream::Plain(stream),
        )
        .await
        .expect("ws connects");
        let mut subscriber = Subscriber { socket };
        subscriber
            .send(&ClientMessage::Subscribe {
                cursor: Some(SyncId(cursor)),
                sync_groups: None,
            })
            .await;
        subscriber
    }

    pub async fn send(&mut self, message: &ClientMessage) {
        let text = serde_json::to_string(message).unwrap();
        self.socket
            .send(Message::text(text))
            .await
            .expect("ws send");
    }

    /// The next server message (skipping pings), or `None` when the socket
    /// closed. Panics after 10 s of silence.
    pub async fn next(&mut self) -> Option<ServerMessage> {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.socket.next())
                .await
                .expect("a server message within 10 s");
            match frame {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return None,
                Some(Ok(Message::Text(text))) => {
                    let message: ServerMessage =
                        serde_json::from_str(&text).expect("server message parses");
                    if message != ServerMessage::Ping {
                        return Some(message);
                    }
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// Reads until `caughtUp`; returns the replayed deltas' `(syncId, id)`
    /// and the cursor.
    pub async fn until_caught_up(&mut self) -> (Vec<(u64, String)>, u64) {
        let mut seen = Vec::new();
        loop {
            match self.next().await.expect("socket open") {
                ServerMessage::Deltas { deltas } => {
                    seen.extend(deltas.into_iter().map(|d| (d.sync_id.0, d.id)))
                }
                ServerMessage::CaughtUp { cursor } => return (seen, cursor.0),
                other => panic!("unexpected before caughtUp: {other:?}"),
            }
        }
    }

    /// Reads deltas until one with sync id `last` (inclusive) arrived.
    pub async fn deltas_through(&mut self, last: u64) -> Vec<ablo_runtime::wire::Delta> {
        let mut seen = Vec::new();
        while seen
            .last()
            .is_none_or(|d: &ablo_runtime::wire::Delta| d.sync_id.0 < last)
        {
            match self.next().await.expect("socket open") {
                ServerMessage::Deltas { deltas } => seen.extend(deltas),
                other => panic!("unexpected message: {other:?}"),
            }
        }
        seen
    }
}
