//! [`Batch`]: several writes in one atomic commit.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::Client;
use super::commit::{self, Commit};
use super::write::{BatchOp, Pending, Wait};
use crate::error::Error;
use crate::types::{Json, Row, SyncId};
use crate::wire::CommitReceipt;

/// Writes of any models sent as one commit: every one applies, or none
/// does. Build it with [`Client::batch`], add builders of
/// [`ModelHandle`](super::ModelHandle) writes, then `.await` it.
///
/// ```
/// use ablo_runtime::{Id, Model, client::{BatchReceipt, Client}};
/// async fn move_row<A: Model, B: Model>(client: &Client, from: Id<A>, to: B)
///     -> Result<BatchReceipt, ablo_runtime::Error> {
///     client
///         .batch()
///         .with(client.model::<A>().delete(from))
///         .with(client.model::<B>().create(to))
///         .idempotency_key("move-42")
///         .await
/// }
/// ```
#[must_use = "a batch does nothing until it is awaited or enqueued"]
pub struct Batch {
    client: Client,
    ops: Vec<BatchOp>,
    wait: Option<Wait>,
    idempotency_key: Option<String>,
    timeout: Option<Duration>,
}

/// The outcome of a [`Batch`]: one row per write, in order (for a delete,
/// the row as it was).
///
/// ```
/// use ablo_runtime::{Model, Row, client::BatchReceipt};
/// fn first<M: Model>(receipt: &BatchReceipt) -> Result<Row<M>, ablo_runtime::Error> {
///     receipt.row::<M>(0)
/// }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct BatchReceipt {
    /// The commit's `clientTxId`.
    pub client_tx_id: String,
    /// The sync id the commit took; `None` for a queued batch not yet
    /// confirmed.
    pub sync_id: Option<SyncId>,
    /// One row per write (flat JSON; `null` where a queued write left no
    /// row locally).
    pub rows: Vec<Json>,
    /// Whether a stale write was accepted under `OnStale::Flag`.
    pub flagged: bool,
}

impl BatchReceipt {
    /// The row of write `index`, typed.
    ///
    /// ```
    /// use ablo_runtime::client::BatchReceipt;
    /// let receipt = BatchReceipt { client_tx_id: "tx".into(), sync_id: None, rows: vec![], flagged: false };
    /// assert!(receipt.row::<serde_json::Value>(0).is_err());
    /// ```
    pub fn row<M: serde::de::DeserializeOwned>(&self, index: usize) -> Result<Row<M>, Error> {
        let row = self.rows.get(index).ok_or_else(|| {
            Error::validation(
                "invalid_index",
                format!("the batch has {} rows, not {}", self.rows.len(), index + 1),
            )
        })?;
        serde_json::from_value(row.clone()).map_err(|e| {
            Error::invalid_response(format!("row {index} of the batch does not decode: {e}"))
        })
    }

    /// What a queued batch shows before it is confirmed: the local rows.
    fn queued(client_tx_id: String, local: Vec<Option<Json>>) -> BatchReceipt {
        BatchReceipt {
            client_tx_id,
            sync_id: None,
            rows: local
                .into_iter()
                .map(|row| row.unwrap_or(Json::Null))
                .collect(),
            flagged: false,
        }
    }

    fn confirmed(receipt: CommitReceipt) -> BatchReceipt {
        BatchReceipt {
            client_tx_id: receipt.client_tx_id,
            sync_id: Some(receipt.sync_id),
            rows: receipt.rows,
            flagged: receipt.flagged,
        }
    }
}

impl Client {
    /// Starts an atomic batch of writes.
    ///
    /// ```
    /// use ablo_runtime::{Model, client::Client};
    /// async fn two<M: Model>(client: &Client, a: M, b: M) -> Result<(), ablo_runtime::Error> {
    ///     let handle = client.model::<M>();
    ///     client.batch().with(handle.create(a)).with(handle.create(b)).await?;
    ///     Ok(())
    /// }
    /// ```
    pub fn batch(&self) -> Batch {
        Batch {
            client: self.clone(),
            ops: Vec::new(),
            wait: None,
            idempotency_key: None,
            timeout: None,
        }
    }
}

impl Batch {
    /// Adds a write (a `create`, `update` or `delete` builder of this
    /// client). Its `read_at` and `on_stale` apply to it; the batch's
    /// `wait`, `idempotency_key` and `timeout` replace its own.
    ///
    /// ```
    /// use ablo_runtime::{Id, Model, client::{Batch, ModelHandle}};
    /// fn add<M: Model>(batch: Batch, h: &ModelHandle<M>, id: Id<M>) -> Batch {
    ///     batch.with(h.delete(id))
    /// }
    /// ```
    pub fn with(mut self, write: impl Into<BatchOp>) -> Self {
        self.ops.push(write.into());
        self
    }

    /// What awaiting the batch waits for (default: the client's
    /// `default_wait`).
    ///
    /// ```
    /// use ablo_runtime::client::{Batch, Wait};
    /// fn queued(batch: Batch) -> Batch { batch.wait(Wait::Queued) }
    /// ```
    pub fn wait(mut self, wait: Wait) -> Self {
        self.wait = Some(wait);
        self
    }

    /// The commit's `clientTxId` (see the single writes'
    /// `idempotency_key`).
    ///
    /// ```
    /// fn once(batch: ablo_runtime::client::Batch) -> ablo_runtime::client::Batch {
    ///     batch.idempotency_key("import-2026-11-25")
    /// }
    /// ```
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// How long the batch may take, retries included.
    ///
    /// ```
    /// use std::time::Duration;
    /// fn quick(batch: ablo_runtime::client::Batch) -> ablo_runtime::client::Batch {
    ///     batch.timeout(Duration::from_secs(3))
    /// }
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    fn into_commit(self) -> Result<(Client, Commit, Option<Wait>), Error> {
        let mut staged = Vec::with_capacity(self.ops.len());
        for op in self.ops {
            if !Arc::ptr_eq(&op.client.lifecycle, &self.client.lifecycle) {
                return Err(Error::configuration(
                    "foreign_write",
                    "a batch takes only writes built from handles of its own client",
                ));
            }
            staged.push(op.staged?);
        }
        let commit = Commit::new(
            self.client.shared(),
            staged,
            self.idempotency_key,
            self.timeout,
        )?;
        Ok((self.client, commit, self.wait))
    }

    /// Applies the whole batch to the local pool now and sends it in the
    /// background; the [`Pending`] resolves to the confirmed receipt, or to
    /// the error that rolled every write of it back.
    ///
    /// ```
    /// async fn settle(batch: ablo_runtime::client::Batch) -> Result<(), ablo_runtime::Error> {
    ///     let pending = batch.enqueue()?;
    ///     pending.confirmed().await?;
    ///     Ok(())
    /// }
    /// ```
    pub fn enqueue(self) -> Result<Pending<BatchReceipt>, Error> {
        let (client, commit, _) = self.into_commit()?;
        let enqueued = commit::enqueue(client.shared(), commit)?;
        Ok(Pending {
            local: BatchReceipt::queued(enqueued.client_tx_id.clone(), enqueued.local),
            client_tx_id: enqueued.client_tx_id,
            confirmation: commit::map_confirmation(enqueued.confirmation, |receipt| {
                Ok(BatchReceipt::confirmed(receipt))
            }),
        })
    }
}

impl IntoFuture for Batch {
    type Output = Result<BatchReceipt, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let (client, commit, wait) = self.into_commit()?;
            let shared = client.shared();
            match wait.unwrap_or(shared.default_wait) {
                Wait::Queued => {
                    let enqueued = commit::enqueue(shared, commit)?;
                    Ok(BatchReceipt::queued(enqueued.client_tx_id, enqueued.local))
                }
                Wait::Confirmed => Ok(BatchReceipt::confirmed(
                    commit::send(shared, &commit).await?,
                )),
            }
        })
    }
}
