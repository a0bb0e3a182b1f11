//! The typed client: connect to an Ablo sync server, read and write rows
//! through [`ModelHandle`]s, keep a live local pool, take snapshots.
//!
//! ```no_run
//! use ablo_runtime::client::Client;
//! # async fn run(schema: ablo_runtime::SchemaDescriptor) -> Result<(), ablo_runtime::Error> {
//! let client = Client::builder("http://127.0.0.1:7700", "sk_test_123")
//!     .schema(schema)
//!     .connect()
//!     .await?;
//! client.ready().await?;
//! // client.model::<Task>().create(...).await?;
//! client.dispose().await;
//! # Ok(()) }
//! ```
//!
//! - [`Client`] / [`ClientBuilder`]: connection, options, lifecycle;
//! - [`ModelHandle`]: `create`, `update`, `delete`, `retrieve`, `list`,
//!   `load`, local `get`, `get_all`, `get_count`, `watch`;
//! - write builders ([`Create`], [`Update`], [`Delete`]) with `read_at`,
//!   `on_stale`, `wait`, `idempotency_key`, `timeout`;
//! - [`Query`], [`RowChange`], [`RetryPolicy`], [`Wait`], [`SyncStatus`].

mod agent;
mod batch;
mod builder;
mod capability;
mod claim;
mod commit;
mod handle;
mod intents;
mod journal;
mod log;
mod pool;
mod presence;
mod query;
mod retry;
mod schema_sync;
mod sources;
mod sync;
mod transport;
mod watch;
mod write;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::Stream;
use tokio::sync::{broadcast, watch as watch_channel};
use tokio::task::JoinHandle;

pub use agent::{Agent, AgentContext, AgentSpec, RunFailure, RunOutcome};
pub use batch::{Batch, BatchReceipt};
pub use builder::ClientBuilder;
pub use capability::{Capabilities, CapabilityInfo, MintCapability};
pub use claim::{Claim, ClaimRequest};
pub use commit::WriteRejection;
pub use handle::{ModelHandle, Page, Retrieved};
pub use intents::{CreateIntent, IntentChange, IntentHandle, Intents};
pub use log::LogLevel;
pub use presence::PresenceHandle;
pub use query::{Direction, Query};
pub use retry::RetryPolicy;
pub use schema_sync::{PushOptions, fetch_schema, push_schema};
pub use sources::Sources;
pub use sync::SyncStatus;
pub(crate) use transport::read_response;
pub use watch::{RowChange, WatchStream};
pub use write::{BatchOp, Create, Delete, Pending, Update, Wait};

pub use crate::error::Error;
pub use crate::wire::{IfBusy, OnStale};

use crate::model::Model;
use crate::schema::SchemaDescriptor;
use crate::types::{Id, Row, SyncId};
use commit::QueuedCommit;
use pool::{Pool, RowKey};
use transport::Transport;

/// Resolves once the client is shut down (or its lifecycle is gone).
pub(crate) async fn stopped(shutdown: &mut watch_channel::Receiver<bool>) {
    // The guard `wait_for` returns is dropped here, before any other await.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// What the client's background tasks and handles share.
pub(crate) struct Shared {
    pub(crate) transport: Transport,
    pub(crate) pool: Pool,
    pub(crate) schema: Option<SchemaDescriptor>,
    pub(crate) timeout: Duration,
    pub(crate) default_wait: Wait,
    pub(crate) rejections: broadcast::Sender<WriteRejection>,
    pub(crate) queue: tokio::sync::mpsc::UnboundedSender<QueuedCommit>,
    pub(crate) queued: watch_channel::Sender<usize>,
    pub(crate) status: watch_channel::Sender<SyncStatus>,
    /// Intents heard on the live stream.
    pub(crate) intents: intents::LiveIntents,
    /// Presence published and heard.
    pub(crate) presence: presence::LivePresence,
    /// Turns `true` when the client is disposed or dropped.
    pub(crate) closed: watch_channel::Receiver<bool>,
    /// The agent run every commit of this client names (`causedByTaskId`).
    pub(crate) caused_by_task_id: std::sync::OnceLock<String>,
    /// The durable write queue, with a queue directory configured.
    pub(crate) journal: Option<journal::Journal>,
    /// Rejections of replayed writes that came before anyone subscribed to
    /// [`Client::rejections`]; the first subscriber receives them first.
    pub(crate) early_rejections: Mutex<Vec<WriteRejection>>,
}

impl Shared {
    /// Fails when the client was disposed, or was given a schema that lacks
    /// `model`.
    pub(crate) fn check_usable(&self, model: &str) -> Result<(), Error> {
        if *self.closed.borrow() {
            return Err(Error::connection("closed", "the client was disposed"));
        }
        match &self.schema {
            Some(schema) if schema.model(model).is_none() => Err(Error::configuration(
                "unknown_model",
                format!(
                    "model `{model}` is not in the schema `{}` this client connected with",
                    schema.name
                ),
            )),
            _ => Ok(()),
        }
    }
}

struct Lifecycle {
    shared: Arc<Shared>,
    shutdown: watch_channel::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Lifecycle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        let tasks = self.tasks.get_mut().unwrap_or_else(|e| e.into_inner());
        for task in tasks.drain(..) {
            task.abort();
        }
    }
}

/// A connected Ablo client. Cheap to clone: clones share one connection,
/// one local pool and one write queue. Background work stops when
/// [`Client::dispose`] is called (which first lets queued writes settle) or
/// when the last clone is dropped (which abandons queued writes not yet
/// sent; call `dispose` to keep them).
///
/// ```no_run
/// use ablo_runtime::client::Client;
/// # async fn run() -> Result<(), ablo_runtime::Error> {
/// let client = Client::builder("http://127.0.0.1:7700", "sk_test_123").connect().await?;
/// println!("applied up to sync id {}", client.cursor());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    lifecycle: Arc<Lifecycle>,
}

impl Client {
    /// Starts configuring a client for the server at `url` (for example
    /// `http://127.0.0.1:7700`) with an API key or capability token.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ablo_runtime::client::{Client, Wait};
    /// let builder = Client::builder("http://127.0.0.1:7700", "sk_test_123")
    ///     .timeout(Duration::from_secs(10))
    ///     .default_wait(Wait::Queued);
    /// ```
    pub fn builder(url: impl Into<String>, api_key: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(url.into(), api_key.into())
    }

    pub(crate) fn start(
        shared: Arc<Shared>,
        shutdown: watch_channel::Sender<bool>,
        tasks: Vec<JoinHandle<()>>,
    ) -> Client {
        Client {
            lifecycle: Arc::new(Lifecycle {
                shared,
                shutdown,
                tasks: Mutex::new(tasks),
            }),
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.lifecycle.shared
    }

    /// Mint, inspect and revoke capabilities (needs an API key).
    ///
    /// ```no_run
    /// # async fn run(client: ablo_runtime::client::Client) -> Result<(), ablo_runtime::Error> {
    /// use ablo_runtime::client::MintCapability;
    /// let cap = client.capabilities()
    ///     .mint(&MintCapability::user("u_1").operations(["tasks.*"]).sync_groups(["default"]))
    ///     .await?;
    /// println!("token for the browser: {:?}", cap.token);
    /// # Ok(()) }
    /// ```
    pub fn capabilities(&self) -> Capabilities {
        Capabilities {
            shared: self.shared().clone(),
        }
    }

    /// Data Source configuration and status (needs an API key): see
    /// [`Sources`].
    ///
    /// ```no_run
    /// # async fn run(client: ablo_runtime::client::Client) -> Result<(), ablo_runtime::Error> {
    /// let status = client.sources().status("app").await?;
    /// println!("last error: {:?}", status.last_error);
    /// # Ok(()) }
    /// ```
    pub fn sources(&self) -> Sources {
        Sources {
            shared: self.shared().clone(),
        }
    }

    /// An agent run envelope: see [`Agent::run`].
    ///
    /// ```no_run
    /// # async fn run(client: ablo_runtime::client::Client) -> Result<(), ablo_runtime::Error> {
    /// use ablo_runtime::client::AgentSpec;
    /// let outcome = client
    ///     .agent(AgentSpec::new("bot").operations(["tasks.*"]).sync_groups(["*"]))
    ///     .run(|ctx| async move { Ok::<_, ablo_runtime::Error>(ctx.task_id) })
    ///     .await?;
    /// println!("{}", outcome.status());
    /// # Ok(()) }
    /// ```
    pub fn agent(&self, spec: AgentSpec) -> Agent {
        Agent {
            parent: self.shared().clone(),
            spec,
        }
    }

    /// The typed handle of model `M`: its reads, writes and local queries.
    ///
    /// ```
    /// use ablo_runtime::{Model, client::{Client, ModelHandle}};
    /// fn handle<M: Model>(client: &Client) -> ModelHandle<M> {
    ///     client.model::<M>()
    /// }
    /// ```
    pub fn model<M: Model>(&self) -> ModelHandle<M> {
        ModelHandle::new(self.clone())
    }

    /// Waits until the live subscription has caught up with the server
    /// (returns at once when live sync is off). Fails with a
    /// [`Error::Connection`] (`not_ready`) when that takes longer than the
    /// client's timeout, or with the error that stopped the subscription.
    ///
    /// ```no_run
    /// # async fn run(client: ablo_runtime::client::Client) -> Result<(), ablo_runtime::Error> {
    /// client.ready().await?;
    /// # Ok(()) }
    /// ```
    pub async fn ready(&self) -> Result<(), Error> {
        let shared = self.shared();
        let mut status = shared.status.subscribe();
        let wait = async {
            loop {
                match &*status.borrow_and_update() {
                    SyncStatus::Live | SyncStatus::Off => return Ok(()),
                    SyncStatus::Failed(error) => return Err(error.clone()),
                    SyncStatus::Closed => {
                        return Err(Error::connection("closed", "the client was disposed"));
                    }
                    SyncStatus::Connecting | SyncStatus::Reconnecting { .. } => {}
                }
                if status.changed().await.is_err() {
                    return Err(Error::connection("closed", "the client was disposed"));
                }
            }
        };
        tokio::time::timeout(shared.timeout, wait)
            .await
            .unwrap_or_else(|_| {
                Err(Error::connection(
                    "not_ready",
                    format!(
                        "the live subscription did not catch up within {:?}",
                        shared.timeout
                    ),
                ))
            })
    }

    /// The state of the live subscription now.
    ///
    /// ```no_run
    /// # fn run(client: ablo_runtime::client::Client) {
    /// println!("{:?}", client.sync_status());
    /// # }
    /// ```
    pub fn sync_status(&self) -> SyncStatus {
        self.shared().status.borrow().clone()
    }

    /// Every change of [`Client::sync_status`], starting with the current
    /// one.
    ///
    /// ```no_run
    /// use futures::StreamExt;
    /// # async fn run(client: ablo_runtime::client::Client) {
    /// let mut statuses = Box::pin(client.sync_statuses());
    /// while let Some(status) = statuses.next().await {
    ///     println!("sync: {status:?}");
    /// }
    /// # }
    /// ```
    pub fn sync_statuses(&self) -> impl Stream<Item = SyncStatus> + Send + 'static {
        let receiver = self.shared().status.subscribe();
        futures::stream::unfold((receiver, true), |(mut receiver, first)| async move {
            if !first && receiver.changed().await.is_err() {
                return None;
            }
            let status = receiver.borrow_and_update().clone();
            Some((status, (receiver, false)))
        })
    }

    /// The highest sync id the client has applied from the live stream: it
    /// has seen every change of its sync groups up to here.
    ///
    /// ```no_run
    /// # fn run(client: ablo_runtime::client::Client) {
    /// let cursor = client.cursor();
    /// # }
    /// ```
    pub fn cursor(&self) -> SyncId {
        self.shared().pool.cursor()
    }

    /// The stamp to pass as `read_at` for a write based on `targets` (ids
    /// or rows): the highest sync id up to which the client knows every one
    /// of them to be current (its cursor, or a later read). With no
    /// targets, the cursor.
    ///
    /// Pass the rows you read rather than their ids when you can: for a
    /// row, the stamp covers that very version, so if the pool received a
    /// newer one in the meantime the write is rejected as stale instead of
    /// overwriting a change you never saw. For an id, the stamp covers what
    /// the pool holds now.
    ///
    /// ```
    /// use ablo_runtime::{Id, Model, SyncId, client::{Client, ModelHandle}};
    /// async fn mark<M: Model>(client: &Client, id: Id<M>, patch: M::Patch)
    ///     -> Result<(), ablo_runtime::Error> {
    ///     let stamp: SyncId = client.snapshot([&id]);
    ///     client.model::<M>().update(id, patch).read_at(stamp).await?;
    ///     Ok(())
    /// }
    /// ```
    pub fn snapshot<T: SnapshotTarget>(&self, targets: impl IntoIterator<Item = T>) -> SyncId {
        let targets: Vec<(RowKey, Option<SyncId>)> = targets
            .into_iter()
            .map(|t| {
                let (model, id) = t.target();
                (RowKey::new(model, id), t.held_stamp())
            })
            .collect();
        self.shared().pool.snapshot(&targets)
    }

    /// Every queued write the server rejected, after it was rolled back in
    /// the local pool. Subscribe before writing: earlier rejections are not
    /// replayed, except those of writes a durable queue replayed on connect
    /// ([`ClientBuilder::queue_dir`]) before anyone subscribed, which the
    /// first subscriber receives first.
    ///
    /// ```no_run
    /// use futures::StreamExt;
    /// # async fn run(client: ablo_runtime::client::Client) {
    /// let mut rejections = Box::pin(client.rejections());
    /// while let Some(rejection) = rejections.next().await {
    ///     eprintln!("write {} rolled back: {}", rejection.client_tx_id, rejection.error);
    /// }
    /// # }
    /// ```
    pub fn rejections(&self) -> impl Stream<Item = WriteRejection> + Send + 'static {
        let receiver = self.shared().rejections.subscribe();
        let early = std::mem::take(
            &mut *self
                .shared()
                .early_rejections
                .lock()
                .expect("rejections lock"),
        );
        futures::StreamExt::chain(futures::stream::iter(early), broadcast_stream(receiver))
    }

    /// Waits for every queued write to be confirmed or rolled back (at most
    /// the client's timeout), then closes the live subscription and stops
    /// background work. Other clones of this client stop working too.
    ///
    /// ```no_run
    /// # async fn run(client: ablo_runtime::client::Client) {
    /// client.dispose().await;
    /// # }
    /// ```
    pub async fn dispose(&self) {
        let shared = self.shared();
        let mut queued = shared.queued.subscribe();
        let _ = tokio::time::timeout(shared.timeout, queued.wait_for(|n| *n == 0)).await;
        let _ = self.lifecycle.shutdown.send(true);
        let tasks: Vec<JoinHandle<()>> = {
            let mut tasks = self
                .lifecycle
                .tasks
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            tasks.drain(..).collect()
        };
        for task in tasks {
            let _ = task.await;
        }
        shared.status.send_replace(SyncStatus::Closed);
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shared = self.shared();
        f.debug_struct("Client")
            .field("url", &shared.transport.url(&[]).as_str())
            .field("cursor", &shared.pool.cursor())
            .field("status", &*shared.status.borrow())
            .finish_non_exhaustive()
    }
}

/// Something [`Client::snapshot`] can take: an id or a row of a model.
///
/// ```
/// use ablo_runtime::{Id, Model, client::SnapshotTarget};
/// fn key<M: Model>(id: &Id<M>) -> (&'static str, String) { id.target() }
/// ```
pub trait SnapshotTarget {
    /// The model's wire name and the row's id.
    ///
    /// ```
    /// use ablo_runtime::{Id, Model, client::SnapshotTarget};
    /// fn id_of<M: Model>(id: &Id<M>) -> String { id.target().1 }
    /// ```
    fn target(&self) -> (&'static str, String);

    /// The stamp of the version the caller holds, for a row; `None` for a
    /// bare id.
    ///
    /// ```
    /// use ablo_runtime::{Id, Model, client::SnapshotTarget};
    /// fn bare<M: Model>(id: &Id<M>) -> bool { id.held_stamp().is_none() }
    /// ```
    fn held_stamp(&self) -> Option<SyncId> {
        None
    }
}

impl<M: Model> SnapshotTarget for Id<M> {
    fn target(&self) -> (&'static str, String) {
        (M::NAME, self.as_str().to_owned())
    }
}

impl<M: Model> SnapshotTarget for Row<M> {
    fn target(&self) -> (&'static str, String) {
        (M::NAME, self.id.as_str().to_owned())
    }

    fn held_stamp(&self) -> Option<SyncId> {
        Some(self.stamp)
    }
}

impl<T: SnapshotTarget + ?Sized> SnapshotTarget for &T {
    fn target(&self) -> (&'static str, String) {
        (**self).target()
    }

    fn held_stamp(&self) -> Option<SyncId> {
        (**self).held_stamp()
    }
}

/// The messages of a broadcast channel as a stream: a receiver that fell
/// behind skips what it missed, the stream ends when the channel closes.
pub(crate) fn broadcast_stream<T: Clone + Send + 'static>(
    receiver: broadcast::Receiver<T>,
) -> impl Stream<Item = T> + Send + 'static {
    futures::stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(message) => return Some((message, receiver)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A model for tests of local behaviour: `notes` with one text field.
    #[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
    pub(crate) struct Note {
        pub text: String,
    }

    impl Model for Note {
        const NAME: &'static str = "notes";
        type Patch = serde_json::Map<String, crate::Json>;
        fn descriptor() -> crate::ModelDescriptor {
            crate::ModelDescriptor {
                name: "notes".into(),
                type_name: "Note".into(),
                doc: None,
                fields: vec![crate::FieldDescriptor::new(
                    "text",
                    "text",
                    crate::FieldType::String,
                )],
                sync_groups: vec![],
                ts: "type Note = { text: string, };".into(),
                json_schema: serde_json::json!({"type": "object"}),
            }
        }
        fn register_types(_: &mut crate::TypeRegistry) {}
    }

    /// A client that was never connected: its pool and handles work, its
    /// network calls would fail. For tests of local behaviour.
    pub(crate) fn offline_client() -> Client {
        let transport = Transport::new(
            reqwest::Url::parse("http://127.0.0.1:9").unwrap(),
            "sk_test_offline".into(),
            RetryPolicy::none(),
            log::Logger::default(),
            Duration::from_secs(1),
        )
        .unwrap();
        let (status, _) = watch_channel::channel(SyncStatus::Off);
        let (rejections, _) = broadcast::channel(16);
        let (queue, _) = tokio::sync::mpsc::unbounded_channel();
        let (queued, _) = watch_channel::channel(0);
        let (shutdown, closed) = watch_channel::channel(false);
        let shared = Arc::new(Shared {
            transport,
            pool: Pool::new(SyncId::ZERO, Duration::from_secs(60)),
            schema: None,
            timeout: Duration::from_secs(1),
            default_wait: Wait::Confirmed,
            rejections,
            queue,
            queued,
            status,
            closed,
            intents: Default::default(),
            presence: Default::default(),
            caused_by_task_id: Default::default(),
            journal: None,
            early_rejections: Default::default(),
        });
        Client::start(shared, shutdown, Vec::new())
    }

    #[tokio::test]
    async fn snapshot_takes_rows_and_ids() {
        let client = offline_client();
        let row = serde_json::json!({"id": "n1", "stamp": 4, "createdAt": "2026-01-01T00:00:00.000Z",
            "updatedAt": "2026-01-01T00:00:00.000Z", "text": "a"});
        client.shared().pool.store_rows("notes", &[row], SyncId(9));
        let held: Row<Note> = client.model::<Note>().get("n1").unwrap();
        assert_eq!(client.snapshot([&held]), SyncId(9));
        assert_eq!(client.snapshot([held.id.clone()]), SyncId(9));
        assert_eq!(client.model::<Note>().snapshot("n1"), SyncId(9));
        assert_eq!(client.snapshot(Vec::<Id<Note>>::new()), SyncId::ZERO);
        let newer = serde_json::json!({"id": "n1", "stamp": 12, "createdAt": "2026-01-01T00:00:00.000Z",
            "updatedAt": "2026-01-01T00:00:00.000Z", "text": "b"});
        client
            .shared()
            .pool
            .store_rows("notes", &[newer], SyncId(12));
        assert_eq!(
            client.snapshot([&held]),
            SyncId(4),
            "the held copy is behind"
        );
    }

    #[tokio::test]
    async fn a_disposed_client_refuses_calls() {
        let client = offline_client();
        client.dispose().await;
        assert_eq!(client.sync_status(), SyncStatus::Closed);
        let err = client.shared().check_usable("notes").unwrap_err();
        assert_eq!(err.code(), "closed");
    }
}
