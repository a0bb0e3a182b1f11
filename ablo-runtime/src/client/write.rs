//! Writes: the [`Create`], [`Update`] and [`Delete`] builders, what they
//! wait for ([`Wait`]), and the queue that sends queued writes in order.
//!
//! Every write is one commit (`POST /v1/commits`) with a `clientTxId`, so a
//! transport failure can be retried without applying the write twice.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use tokio::sync::{mpsc, oneshot, watch};

use super::Client;
use super::Shared;
use super::pool::{LocalOp, RowKey};
use super::transport::Request;
use crate::error::Error;
use crate::model::Model;
use crate::types::{Id, Json, Row, SyncId, Timestamp};
use crate::wire::{CommitReceipt, CommitRequest, JsonObject, OnStale, Operation, OperationType};

/// What an awaited write waits for.
///
/// ```
/// use ablo_runtime::client::Wait;
/// assert_eq!(Wait::default(), Wait::Confirmed);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Wait {
    /// Return once the server accepted the write, with the stored row.
    #[default]
    Confirmed,
    /// Apply the write to the local pool and return at once with the local
    /// row. The write is sent in the background, in order with other queued
    /// writes; if the server rejects it, it is rolled back in the pool and
    /// reported on [`Client::rejections`].
    Queued,
}

/// A queued write the server refused (or that could not be delivered within
/// its timeout), after it was rolled back in the local pool.
///
/// ```
/// use ablo_runtime::client::WriteRejection;
/// fn report(r: &WriteRejection) -> String {
///     format!("{} {} {:?}: {}", r.client_tx_id, r.model, r.id, r.error)
/// }
/// ```
#[derive(Clone, Debug)]
pub struct WriteRejection {
    /// The write's `clientTxId`.
    pub client_tx_id: String,
    /// The model's wire name.
    pub model: String,
    /// The row's id.
    pub id: String,
    /// Why.
    pub error: Error,
}

/// A write applied to the local pool and on its way to the server.
///
/// ```
/// use ablo_runtime::{Model, Row, client::Pending};
/// async fn settle<M: Model>(pending: Pending<Row<M>>) -> Result<Row<M>, ablo_runtime::Error> {
///     println!("shown at once: {}", pending.local().id);
///     pending.confirmed().await
/// }
/// ```
pub struct Pending<T> {
    local: T,
    client_tx_id: String,
    confirmation: oneshot::Receiver<Result<T, Error>>,
}

impl<T> Pending<T> {
    /// The write's effect as the local pool shows it now.
    ///
    /// ```
    /// fn peek<T>(pending: &ablo_runtime::client::Pending<T>) -> &T { pending.local() }
    /// ```
    pub fn local(&self) -> &T {
        &self.local
    }

    /// The write's `clientTxId`.
    ///
    /// ```
    /// fn tx<T>(pending: &ablo_runtime::client::Pending<T>) -> &str { pending.client_tx_id() }
    /// ```
    pub fn client_tx_id(&self) -> &str {
        &self.client_tx_id
    }

    /// Waits for the server: the stored result, or the error that made the
    /// client roll the write back.
    ///
    /// ```
    /// async fn settle<T>(p: ablo_runtime::client::Pending<T>) -> Result<T, ablo_runtime::Error> {
    ///     p.confirmed().await
    /// }
    /// ```
    pub async fn confirmed(self) -> Result<T, Error> {
        self.confirmation.await.unwrap_or_else(|_| {
            Err(Error::connection(
                "closed",
                "the client was disposed before the write was confirmed",
            ))
        })
    }
}

/// The options every write takes.
#[derive(Clone, Debug, Default)]
struct WriteOptions {
    read_at: Option<SyncId>,
    on_stale: Option<OnStale>,
    wait: Option<Wait>,
    idempotency_key: Option<String>,
    timeout: Option<Duration>,
}

/// A queued commit waiting for the queue task.
pub(crate) struct QueuedCommit {
    request: CommitRequest,
    key: RowKey,
    kind: OperationType,
    deadline: Duration,
    reply: oneshot::Sender<Result<Option<Json>, Error>>,
}

/// A write ready to go: the operation for the server and its effect on the
/// local pool.
struct PreparedWrite {
    operation: Operation,
    key: RowKey,
    local: LocalOp,
    options: WriteOptions,
}

/// Adds the shared option setters to a write builder.
macro_rules! write_options {
    ($builder:ident) => {
        impl<M: Model> $builder<M> {
            /// Bases the write on what was read at `stamp` (from
            /// [`Client::snapshot`] or a `retrieve`): with the default
            /// `on_stale`, the server rejects the write with
            /// [`Error::StaleContext`] if the row changed after it.
            ///
            #[doc = concat!("```\nuse ablo_runtime::{Model, SyncId, client::", stringify!($builder), "};\n",
                "fn guard<M: Model>(write: ", stringify!($builder), "<M>, seen: SyncId) -> ",
                stringify!($builder), "<M> {\n    write.read_at(seen)\n}\n```")]
            pub fn read_at(mut self, stamp: SyncId) -> Self {
                self.options.read_at = Some(stamp);
                self
            }

            /// What to do when the row changed after `read_at` (default
            /// [`OnStale::Reject`]).
            ///
            #[doc = concat!("```\nuse ablo_runtime::{Model, client::{OnStale, ", stringify!($builder), "}};\n",
                "fn merge<M: Model>(write: ", stringify!($builder), "<M>) -> ",
                stringify!($builder), "<M> {\n    write.on_stale(OnStale::Merge)\n}\n```")]
            pub fn on_stale(mut self, policy: OnStale) -> Self {
                self.options.on_stale = Some(policy);
                self
            }

            /// What awaiting the write waits for (default: the client's
            /// `default_wait`).
            ///
            #[doc = concat!("```\nuse ablo_runtime::{Model, client::{Wait, ", stringify!($builder), "}};\n",
                "fn queued<M: Model>(write: ", stringify!($builder), "<M>) -> ",
                stringify!($builder), "<M> {\n    write.wait(Wait::Queued)\n}\n```")]
            pub fn wait(mut self, wait: Wait) -> Self {
                self.options.wait = Some(wait);
                self
            }

            /// Uses `key` as the commit's `clientTxId`: sending the same
            /// write again with the same key returns the first result instead
            /// of applying it twice; another write with the same key fails
            /// with [`Error::Idempotency`].
            ///
            #[doc = concat!("```\nuse ablo_runtime::{Model, client::", stringify!($builder), "};\n",
                "fn once<M: Model>(write: ", stringify!($builder), "<M>) -> ",
                stringify!($builder), "<M> {\n    write.idempotency_key(\"job-42-step-3\")\n}\n```")]
            pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
                self.options.idempotency_key = Some(key.into());
                self
            }

            /// How long the write may take, retries included (default: the
            /// client's timeout).
            ///
            #[doc = concat!("```\nuse std::time::Duration;\nuse ablo_runtime::{Model, client::", stringify!($builder), "};\n",
                "fn quick<M: Model>(write: ", stringify!($builder), "<M>) -> ",
                stringify!($builder), "<M> {\n    write.timeout(Duration::from_secs(2))\n}\n```")]
            pub fn timeout(mut self, timeout: Duration) -> Self {
                self.options.timeout = Some(timeout);
                self
            }
        }
    };
}

/// A `create`, built by [`ModelHandle::create`](super::ModelHandle::create):
/// set options, then `.await` it for the stored row.
///
/// ```
/// use ablo_runtime::{Id, Model, Row, client::ModelHandle};
/// async fn add<M: Model>(handle: &ModelHandle<M>, data: M) -> Result<Row<M>, ablo_runtime::Error> {
///     handle.create(data).id(Id::new("row_1")).idempotency_key("create-row_1").await
/// }
/// ```
#[must_use = "a write does nothing until it is awaited or enqueued"]
pub struct Create<M: Model> {
    client: Client,
    data: M,
    id: Option<Id<M>>,
    options: WriteOptions,
}

/// An `update`, built by [`ModelHandle::update`](super::ModelHandle::update):
/// set options, then `.await` it for the stored row.
///
/// ```
/// use ablo_runtime::{Id, Model, Row, SyncId, client::{ModelHandle, OnStale}};
/// async fn edit<M: Model>(handle: &ModelHandle<M>, id: Id<M>, patch: M::Patch, seen: SyncId)
///     -> Result<Row<M>, ablo_runtime::Error> {
///     handle.update(id, patch).read_at(seen).on_stale(OnStale::Reject).await
/// }
/// ```
#[must_use = "a write does nothing until it is awaited or enqueued"]
pub struct Update<M: Model> {
    client: Client,
    id: Id<M>,
    patch: M::Patch,
    options: WriteOptions,
}

/// A `delete`, built by [`ModelHandle::delete`](super::ModelHandle::delete):
/// set options, then `.await` it.
///
/// ```
/// use ablo_runtime::{Id, Model, client::ModelHandle};
/// async fn remove<M: Model>(handle: &ModelHandle<M>, id: Id<M>) -> Result<(), ablo_runtime::Error> {
///     handle.delete(id).await
/// }
/// ```
#[must_use = "a write does nothing until it is awaited or enqueued"]
pub struct Delete<M: Model> {
    client: Client,
    id: Id<M>,
    options: WriteOptions,
}

write_options!(Create);
write_options!(Update);
write_options!(Delete);

type WriteFuture<T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send>>;

impl<M: Model> Create<M> {
    pub(crate) fn new(client: Client, data: M) -> Self {
        Create {
            client,
            data,
            id: None,
            options: WriteOptions::default(),
        }
    }

    /// Gives the new row this id instead of a generated one (a UUID v7).
    ///
    /// ```
    /// use ablo_runtime::{Model, client::Create};
    /// fn named<M: Model>(write: Create<M>) -> Create<M> { write.id("report-berlin-1") }
    /// ```
    pub fn id(mut self, id: impl Into<Id<M>>) -> Self {
        self.id = Some(id.into());
        self
    }

    fn prepare(self) -> Result<(Client, PreparedWrite), Error> {
        let data = to_object(&self.data, M::NAME)?;
        let id = self.id.unwrap_or_else(Id::generate);
        let now = Json::String(Timestamp::now().to_string());
        let mut local = data.clone();
        local.insert("id".into(), Json::String(id.as_str().to_owned()));
        local.insert("stamp".into(), Json::from(0u64));
        local.insert("createdAt".into(), now.clone());
        local.insert("updatedAt".into(), now);
        let operation = Operation::create(M::NAME, Json::Object(data)).with_id(id.as_str());
        let prepared = PreparedWrite {
            operation,
            key: RowKey::new(M::NAME, id.as_str()),
            local: LocalOp::Create(local),
            options: self.options,
        };
        Ok((self.client, prepared))
    }

    /// Applies the create to the local pool now and sends it in the
    /// background, whatever the `wait` option: the returned [`Pending`]
    /// holds the local row and resolves to the stored one.
    ///
    /// ```
    /// use ablo_runtime::{Model, Row, client::Create};
    /// async fn add<M: Model>(write: Create<M>) -> Result<Row<M>, ablo_runtime::Error> {
    ///     let pending = write.enqueue()?;
    ///     pending.confirmed().await
    /// }
    /// ```
    pub fn enqueue(self) -> Result<Pending<Row<M>>, Error> {
        let (client, prepared) = self.prepare()?;
        enqueue_typed(&client, prepared)
    }
}

impl<M: Model> Update<M> {
    pub(crate) fn new(client: Client, id: Id<M>, patch: M::Patch) -> Self {
        Update {
            client,
            id,
            patch,
            options: WriteOptions::default(),
        }
    }

    fn prepare(self) -> Result<(Client, PreparedWrite), Error> {
        let fields = to_object(&self.patch, M::NAME)?;
        let operation = Operation::update(M::NAME, self.id.as_str(), Json::Object(fields.clone()));
        let mut local = fields;
        local.insert(
            "updatedAt".into(),
            Json::String(Timestamp::now().to_string()),
        );
        let prepared = PreparedWrite {
            operation,
            key: RowKey::new(M::NAME, self.id.as_str()),
            local: LocalOp::Update(local),
            options: self.options,
        };
        Ok((self.client, prepared))
    }

    /// Applies the update to the local pool now and sends it in the
    /// background: the returned [`Pending`] holds the local row and resolves
    /// to the stored one. The row must be in the local pool (loaded, or
    /// received live); otherwise this fails with [`Error::NotFound`]
    /// (`row_not_loaded`).
    ///
    /// ```
    /// use ablo_runtime::{Model, Row, client::Update};
    /// fn show_now<M: Model>(write: Update<M>) -> Result<Row<M>, ablo_runtime::Error> {
    ///     Ok(write.enqueue()?.local().clone())
    /// }
    /// ```
    pub fn enqueue(self) -> Result<Pending<Row<M>>, Error> {
        let (client, prepared) = self.prepare()?;
        enqueue_typed(&client, prepared)
    }
}

impl<M: Model> Delete<M> {
    pub(crate) fn new(client: Client, id: Id<M>) -> Self {
        Delete {
            client,
            id,
            options: WriteOptions::default(),
        }
    }

    fn prepare(self) -> (Client, PreparedWrite) {
        let prepared = PreparedWrite {
            operation: Operation::delete(M::NAME, self.id.as_str()),
            key: RowKey::new(M::NAME, self.id.as_str()),
            local: LocalOp::Delete,
            options: self.options,
        };
        (self.client, prepared)
    }

    /// Removes the row from the local pool now and sends the delete in the
    /// background; the returned [`Pending`] resolves once the server
    /// confirmed it (or rolled it back).
    ///
    /// ```
    /// use ablo_runtime::{Model, client::Delete};
    /// async fn remove<M: Model>(write: Delete<M>) -> Result<(), ablo_runtime::Error> {
    ///     write.enqueue()?.confirmed().await
    /// }
    /// ```
    pub fn enqueue(self) -> Result<Pending<()>, Error> {
        let (client, prepared) = self.prepare();
        let pending = enqueue(&client, prepared)?;
        Ok(Pending {
            local: (),
            client_tx_id: pending.client_tx_id,
            confirmation: map_confirmation(pending.confirmation, |_| Ok(())),
        })
    }
}

impl<M: Model> IntoFuture for Create<M> {
    type Output = Result<Row<M>, Error>;
    type IntoFuture = WriteFuture<Row<M>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let (client, prepared) = self.prepare()?;
            let row = execute(&client, prepared).await?;
            decode_row::<M>(row)
        })
    }
}

impl<M: Model> IntoFuture for Update<M> {
    type Output = Result<Row<M>, Error>;
    type IntoFuture = WriteFuture<Row<M>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let (client, prepared) = self.prepare()?;
            let row = execute(&client, prepared).await?;
            decode_row::<M>(row)
        })
    }
}

impl<M: Model> IntoFuture for Delete<M> {
    type Output = Result<(), Error>;
    type IntoFuture = WriteFuture<()>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let (client, prepared) = self.prepare();
            execute(&client, prepared).await.map(|_| ())
        })
    }
}

/// Runs a write as its `wait` option says; returns the row after it (for a
/// delete, the row before).
async fn execute(client: &Client, prepared: PreparedWrite) -> Result<Option<Json>, Error> {
    let shared = client.shared();
    shared.check_usable(&prepared.key.model)?;
    match prepared.options.wait.unwrap_or(shared.default_wait) {
        Wait::Queued => Ok(enqueue(client, prepared)?.local),
        Wait::Confirmed => {
            let deadline = prepared.options.timeout.unwrap_or(shared.timeout);
            let kind = prepared.operation.kind;
            let key = prepared.key.clone();
            let request = commit_request(prepared);
            send_commit(shared, &request, &key, kind, deadline).await
        }
    }
}

struct UntypedPending {
    local: Option<Json>,
    client_tx_id: String,
    confirmation: oneshot::Receiver<Result<Option<Json>, Error>>,
}

/// Lays the write over the local pool and hands it to the queue task.
fn enqueue(client: &Client, prepared: PreparedWrite) -> Result<UntypedPending, Error> {
    let shared = client.shared();
    shared.check_usable(&prepared.key.model)?;
    let key = prepared.key.clone();
    if matches!(prepared.local, LocalOp::Update(_) | LocalOp::Delete)
        && shared.pool.get(&key.model, &key.id).is_none()
    {
        return Err(Error::NotFound(Box::new(crate::error::ErrorInfo::new(
            "row_not_loaded",
            format!(
                "{} row `{}` is not in the local pool; load it first, or write with Wait::Confirmed",
                key.model, key.id
            ),
        ))));
    }
    let deadline = prepared.options.timeout.unwrap_or(shared.timeout);
    let kind = prepared.operation.kind;
    let local_op = prepared.local.clone();
    let request = commit_request(prepared);
    let client_tx_id = request
        .client_tx_id
        .clone()
        .expect("commit_request always sets a clientTxId");
    let local = shared
        .pool
        .enqueue(&client_tx_id, vec![(key.clone(), local_op)])
        .pop()
        .flatten();
    let (reply, confirmation) = oneshot::channel();
    shared.queued.send_modify(|n| *n += 1);
    let queued = QueuedCommit {
        request,
        key,
        kind,
        deadline,
        reply,
    };
    if let Err(mpsc::error::SendError(queued)) = shared.queue.send(queued) {
        shared.pool.roll_back(&client_tx_id);
        shared.queued.send_modify(|n| *n -= 1);
        let _ = queued;
        return Err(Error::connection(
            "closed",
            "the client was disposed; the write was not sent",
        ));
    }
    Ok(UntypedPending {
        local,
        client_tx_id,
        confirmation,
    })
}

fn enqueue_typed<M: Model>(
    client: &Client,
    prepared: PreparedWrite,
) -> Result<Pending<Row<M>>, Error> {
    let pending = enqueue(client, prepared)?;
    let local = decode_row::<M>(pending.local)?;
    Ok(Pending {
        local,
        client_tx_id: pending.client_tx_id,
        confirmation: map_confirmation(pending.confirmation, decode_row::<M>),
    })
}

/// Converts a confirmation channel's value with `convert`, without a task
/// of its own: a relay future is spawned only to adapt the type.
fn map_confirmation<T: Send + 'static>(
    confirmation: oneshot::Receiver<Result<Option<Json>, Error>>,
    convert: impl FnOnce(Option<Json>) -> Result<T, Error> + Send + 'static,
) -> oneshot::Receiver<Result<T, Error>> {
    let (sender, receiver) = oneshot::channel();
    tokio::spawn(async move {
        let result = match confirmation.await {
            Ok(result) => result.and_then(convert),
            Err(_) => Err(Error::connection(
                "closed",
                "the client was disposed before the write was confirmed",
            )),
        };
        let _ = sender.send(result);
    });
    receiver
}

fn commit_request(prepared: PreparedWrite) -> CommitRequest {
    let mut operation = prepared.operation;
    operation.read_at = prepared.options.read_at;
    operation.on_stale = prepared.options.on_stale;
    let client_tx_id = prepared
        .options
        .idempotency_key
        .unwrap_or_else(|| format!("tx_{}", uuid::Uuid::now_v7().simple()));
    CommitRequest::new(vec![operation]).client_tx_id(client_tx_id)
}

/// Sends one commit (retrying transient failures with the same
/// `clientTxId`) and applies its receipt to the local pool.
async fn send_commit(
    shared: &Shared,
    request: &CommitRequest,
    key: &RowKey,
    kind: OperationType,
    deadline: Duration,
) -> Result<Option<Json>, Error> {
    let body = serde_json::to_value(request).map_err(|e| {
        Error::validation("invalid_data", format!("commit does not serialize: {e}"))
    })?;
    let http = Request::new(Method::POST, &["v1", "commits"]).body(body);
    let receipt: CommitReceipt = shared.transport.call(&http, deadline).await?;
    let row = receipt.rows.first().cloned();
    let stored = match kind {
        OperationType::Delete => None,
        _ => row.as_ref().and_then(|r| r.as_object().cloned()),
    };
    let client_tx_id = request.client_tx_id.as_deref().unwrap_or_default();
    shared
        .pool
        .confirm(client_tx_id, receipt.sync_id, vec![(key.clone(), stored)]);
    Ok(row)
}

/// The queue task: sends queued writes one at a time, in order, and settles
/// each (confirm or roll back) before the next.
pub(crate) async fn run_queue(
    shared: Arc<Shared>,
    mut queue: mpsc::UnboundedReceiver<QueuedCommit>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let queued = tokio::select! {
            queued = queue.recv() => match queued {
                Some(queued) => queued,
                None => return,
            },
            _ = super::stopped(&mut shutdown) => return,
        };
        let client_tx_id = queued.request.client_tx_id.clone().unwrap_or_default();
        let result = send_commit(
            &shared,
            &queued.request,
            &queued.key,
            queued.kind,
            queued.deadline,
        )
        .await;
        if let Err(error) = &result {
            shared.pool.roll_back(&client_tx_id);
            shared.transport.log.warn(format!(
                "queued write {client_tx_id} to {} `{}` rolled back: {error}",
                queued.key.model, queued.key.id
            ));
            let _ = shared.rejections.send(WriteRejection {
                client_tx_id: client_tx_id.clone(),
                model: queued.key.model.clone(),
                id: queued.key.id.clone(),
                error: error.clone(),
            });
        }
        let _ = queued.reply.send(result);
        shared.queued.send_modify(|n| *n = n.saturating_sub(1));
    }
}

fn to_object<T: serde::Serialize>(value: &T, model: &str) -> Result<JsonObject, Error> {
    match serde_json::to_value(value) {
        Ok(Json::Object(object)) => Ok(object),
        Ok(other) => Err(Error::validation(
            "invalid_data",
            format!("data for `{model}` must serialize to a JSON object, not `{other}`"),
        )),
        Err(e) => Err(Error::validation(
            "invalid_data",
            format!("data for `{model}` does not serialize: {e}"),
        )),
    }
}

pub(crate) fn decode_row<M: Model>(row: Option<Json>) -> Result<Row<M>, Error> {
    let row =
        row.ok_or_else(|| Error::invalid_response(format!("no `{}` row returned", M::NAME)))?;
    serde_json::from_value(row)
        .map_err(|e| Error::invalid_response(format!("a `{}` row does not decode: {e}", M::NAME)))
}
