//! Writes: the [`Create`], [`Update`] and [`Delete`] builders, what they
//! wait for ([`Wait`]), and [`Pending`] writes.
//!
//! Every write is one commit (`POST /v1/commits`, see [`super::commit`])
//! with a `clientTxId`, so a transport failure can be retried without
//! applying the write twice.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::oneshot;

use super::Client;
use super::commit::{self, Commit, Staged};
use super::pool::{LocalOp, RowKey};
use crate::error::Error;
use crate::model::Model;
use crate::types::{Id, Json, Row, SyncId, Timestamp};
use crate::wire::{CommitReceipt, JsonObject, OnStale, Operation};

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
    pub(crate) local: T,
    pub(crate) client_tx_id: String,
    pub(crate) confirmation: oneshot::Receiver<Result<T, Error>>,
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
    if_busy: Option<crate::wire::IfBusy>,
    intent_id: Option<String>,
}

/// A write ready to go: the operation for the server, its effect on the
/// local pool, and its options.
struct PreparedWrite {
    operation: Operation,
    key: RowKey,
    local: LocalOp,
    options: WriteOptions,
}

impl PreparedWrite {
    /// The operation with its stale guard, and the options that apply to
    /// the commit as a whole.
    fn split(self) -> (Staged, WriteOptions) {
        let mut operation = self.operation;
        operation.read_at = self.options.read_at;
        operation.on_stale = self.options.on_stale;
        operation.if_busy = self.options.if_busy;
        operation.intent_id = self.options.intent_id.clone();
        let staged = Staged {
            operation,
            key: self.key,
            local: self.local,
        };
        (staged, self.options)
    }
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

            /// What to do when another participant holds an intent on the
            /// row: write anyway ([`IfBusy::Ignore`](crate::wire::IfBusy),
            /// the default), fail with [`Error::Busy`], or wait until the
            /// intents clear and then write.
            ///
            #[doc = concat!("```\nuse ablo_runtime::{Model, client::{IfBusy, ", stringify!($builder), "}};\n",
                "fn polite<M: Model>(write: ", stringify!($builder), "<M>) -> ",
                stringify!($builder), "<M> {\n    write.if_busy(IfBusy::Wait)\n}\n```")]
            pub fn if_busy(mut self, policy: crate::wire::IfBusy) -> Self {
                self.options.if_busy = Some(policy);
                self
            }

            /// Makes the write under an intent or claim this client holds:
            /// the server refuses it (`intent_not_found`) if the intent has
            /// lapsed or was released, so a holder that lost its claim does
            /// not write.
            ///
            #[doc = concat!("```\nuse ablo_runtime::{Model, client::{IntentHandle, ", stringify!($builder), "}};\n",
                "fn under<M: Model>(write: ", stringify!($builder), "<M>, held: &IntentHandle) -> ",
                stringify!($builder), "<M> {\n    write.intent(held)\n}\n```")]
            pub fn intent(mut self, held: &super::IntentHandle) -> Self {
                self.options.intent_id = Some(held.id().to_owned());
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
        enqueue_one(&client, prepared, |_| Ok(()), |_| Ok(()))
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
    let (commit, wait) = single_commit(client, prepared)?;
    match wait.unwrap_or(shared.default_wait) {
        Wait::Queued => Ok(commit::enqueue(shared, commit)?.local.pop().flatten()),
        Wait::Confirmed => {
            let receipt = commit::send(shared, &commit).await?;
            Ok(first_row(receipt))
        }
    }
}

/// The commit of one write, and the write's `wait` option.
fn single_commit(
    client: &Client,
    prepared: PreparedWrite,
) -> Result<(Commit, Option<Wait>), Error> {
    let (staged, options) = prepared.split();
    let commit = Commit::new(
        client.shared(),
        vec![staged],
        options.idempotency_key,
        options.timeout,
    )?;
    Ok((commit, options.wait))
}

/// Queues a single write; the [`Pending`] converts the receipt with
/// `convert`.
fn enqueue_one<T: Send + 'static>(
    client: &Client,
    prepared: PreparedWrite,
    local: impl FnOnce(Option<Json>) -> Result<T, Error>,
    convert: impl FnOnce(CommitReceipt) -> Result<T, Error> + Send + 'static,
) -> Result<Pending<T>, Error> {
    let (commit, _) = single_commit(client, prepared)?;
    let mut enqueued = commit::enqueue(client.shared(), commit)?;
    Ok(Pending {
        local: local(enqueued.local.pop().flatten())?,
        client_tx_id: enqueued.client_tx_id,
        confirmation: commit::map_confirmation(enqueued.confirmation, convert),
    })
}

fn enqueue_typed<M: Model>(
    client: &Client,
    prepared: PreparedWrite,
) -> Result<Pending<Row<M>>, Error> {
    enqueue_one(client, prepared, decode_row::<M>, |receipt| {
        decode_row::<M>(first_row(receipt))
    })
}

fn first_row(receipt: CommitReceipt) -> Option<Json> {
    receipt.rows.into_iter().next()
}

pub(crate) fn to_object<T: serde::Serialize>(value: &T, model: &str) -> Result<JsonObject, Error> {
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

/// One write of a [`Batch`](super::Batch): a [`Create`], [`Update`] or
/// [`Delete`] builder, converted with `into()` (what
/// [`Batch::with`](super::Batch::with) does). Its `read_at` and `on_stale`
/// apply; `wait`, `idempotency_key` and `timeout` are the batch's.
///
/// ```
/// use ablo_runtime::{Model, client::{BatchOp, Create}};
/// fn op<M: Model>(write: Create<M>) -> BatchOp { write.into() }
/// ```
pub struct BatchOp {
    pub(crate) client: Client,
    pub(crate) staged: Result<Staged, Error>,
}

impl<M: Model> From<Create<M>> for BatchOp {
    fn from(write: Create<M>) -> Self {
        let client = write.client.clone();
        let staged = write.prepare().map(|(_, prepared)| prepared.split().0);
        BatchOp { client, staged }
    }
}

impl<M: Model> From<Update<M>> for BatchOp {
    fn from(write: Update<M>) -> Self {
        let client = write.client.clone();
        let staged = write.prepare().map(|(_, prepared)| prepared.split().0);
        BatchOp { client, staged }
    }
}

impl<M: Model> From<Delete<M>> for BatchOp {
    fn from(write: Delete<M>) -> Self {
        let client = write.client.clone();
        let (_, prepared) = write.prepare();
        BatchOp {
            client,
            staged: Ok(prepared.split().0),
        }
    }
}
