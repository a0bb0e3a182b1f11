//! Sending commits: one or more operations, one `clientTxId`, all applied or
//! none. A commit is either sent and awaited (confirmed writes) or laid over
//! the local pool and handed to the queue task, which sends queued commits
//! one at a time, in order, and confirms or rolls back each.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use tokio::sync::{mpsc, oneshot, watch};

use super::Shared;
use super::pool::{LocalOp, RowKey};
use super::transport::Request;
use crate::error::{Error, ErrorInfo};
use crate::types::Json;
use crate::wire::{CommitReceipt, CommitRequest, JsonObject, Operation, OperationType};

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
    /// The model's wire name (for a batch, of its first operation).
    pub model: String,
    /// The row's id (for a batch, of its first operation).
    pub id: String,
    /// Why.
    pub error: Error,
}

/// One operation ready to send, with its effect on the local pool.
pub(crate) struct Staged {
    pub operation: Operation,
    pub key: RowKey,
    pub local: LocalOp,
}

/// A commit ready to send.
pub(crate) struct Commit {
    staged: Vec<Staged>,
    client_tx_id: String,
    deadline: Duration,
}

impl Commit {
    /// A commit of `staged` with the given idempotency key (or a generated
    /// `clientTxId`) and timeout (or the client's).
    pub(crate) fn new(
        shared: &Shared,
        staged: Vec<Staged>,
        idempotency_key: Option<String>,
        timeout: Option<Duration>,
    ) -> Result<Commit, Error> {
        if staged.is_empty() {
            return Err(Error::validation(
                "invalid_commit",
                "a commit needs at least one operation",
            ));
        }
        for op in &staged {
            shared.check_usable(&op.key.model)?;
        }
        Ok(Commit {
            staged,
            client_tx_id: idempotency_key
                .unwrap_or_else(|| format!("tx_{}", uuid::Uuid::now_v7().simple())),
            deadline: timeout.unwrap_or(shared.timeout),
        })
    }

    fn request(&self, caused_by_task_id: Option<&String>) -> CommitRequest {
        let operations = self.staged.iter().map(|s| s.operation.clone()).collect();
        let mut request = CommitRequest::new(operations).client_tx_id(self.client_tx_id.clone());
        request.caused_by_task_id = caused_by_task_id.cloned();
        request
    }

    /// The rows of a receipt as the pool stores them: `None` for deletes.
    fn stored_rows(&self, receipt: &CommitReceipt) -> Vec<(RowKey, Option<JsonObject>)> {
        self.staged
            .iter()
            .zip(&receipt.rows)
            .map(|(staged, row)| {
                let row = match staged.operation.kind {
                    OperationType::Delete => None,
                    _ => row.as_object().cloned(),
                };
                (staged.key.clone(), row)
            })
            .collect()
    }
}

/// Sends a commit (retrying transient failures with the same `clientTxId`)
/// and applies its receipt to the local pool.
pub(crate) async fn send(shared: &Shared, commit: &Commit) -> Result<CommitReceipt, Error> {
    let body =
        serde_json::to_value(commit.request(shared.caused_by_task_id.get())).map_err(|e| {
            Error::validation("invalid_data", format!("commit does not serialize: {e}"))
        })?;
    let http = Request::new(Method::POST, &["v1", "commits"]).body(body);
    let receipt: CommitReceipt = shared.transport.call(&http, commit.deadline).await?;
    if receipt.rows.len() != commit.staged.len() {
        return Err(Error::invalid_response(format!(
            "the receipt of {} has {} rows for {} operations",
            commit.client_tx_id,
            receipt.rows.len(),
            commit.staged.len()
        )));
    }
    shared.pool.confirm(
        &commit.client_tx_id,
        receipt.sync_id,
        commit.stored_rows(&receipt),
    );
    Ok(receipt)
}

/// A commit laid over the local pool and on its way to the server.
pub(crate) struct Enqueued {
    /// The visible rows after each operation (`None`: gone).
    pub local: Vec<Option<Json>>,
    pub client_tx_id: String,
    pub confirmation: oneshot::Receiver<Result<CommitReceipt, Error>>,
}

/// A queued commit waiting for the queue task.
pub(crate) struct QueuedCommit {
    commit: Commit,
    /// Its file in the durable queue, if there is one.
    seq: Option<u64>,
    reply: oneshot::Sender<Result<CommitReceipt, Error>>,
}

/// Lays the commit over the local pool and hands it to the queue task. An
/// update or delete needs its row in the pool (or created earlier in the
/// same commit).
pub(crate) fn enqueue(shared: &Shared, commit: Commit) -> Result<Enqueued, Error> {
    let mut created = HashSet::new();
    for staged in &commit.staged {
        let key = &staged.key;
        match staged.local {
            LocalOp::Create(_) => {
                created.insert(key.clone());
            }
            LocalOp::Update(_) | LocalOp::Delete
                if !created.contains(key) && shared.pool.get(&key.model, &key.id).is_none() =>
            {
                return Err(Error::NotFound(Box::new(ErrorInfo::new(
                    "row_not_loaded",
                    format!(
                        "{} row `{}` is not in the local pool; load it first, or write with Wait::Confirmed",
                        key.model, key.id
                    ),
                ))));
            }
            _ => {}
        }
    }
    let client_tx_id = commit.client_tx_id.clone();
    // Durable first: the write is on disk before it is acknowledged.
    let seq = match &shared.journal {
        Some(journal) => {
            let body = serde_json::to_value(commit.request(shared.caused_by_task_id.get()))
                .map_err(|e| {
                    Error::validation("invalid_data", format!("commit does not serialize: {e}"))
                })?;
            Some(journal.write(&client_tx_id, &body)?)
        }
        None => None,
    };
    let ops = commit
        .staged
        .iter()
        .map(|s| (s.key.clone(), s.local.clone()))
        .collect();
    let local = shared.pool.enqueue(&client_tx_id, ops);
    let (reply, confirmation) = oneshot::channel();
    shared.queued.send_modify(|n| *n += 1);
    if shared
        .queue
        .send(QueuedCommit { commit, seq, reply })
        .is_err()
    {
        shared.pool.roll_back(&client_tx_id);
        shared.queued.send_modify(|n| *n = n.saturating_sub(1));
        return Err(Error::connection(
            "closed",
            "the client was disposed; the write was not sent",
        ));
    }
    Ok(Enqueued {
        local,
        client_tx_id,
        confirmation,
    })
}

/// The queue task: first replays the commits a durable queue kept from an
/// earlier run, then sends queued commits one at a time, in order, and
/// settles each (confirm or roll back) before the next. With a durable
/// queue, a commit that cannot be delivered (the server is unreachable) is
/// retried until it is, instead of rolled back.
pub(crate) async fn run_queue(
    shared: Arc<Shared>,
    mut queue: mpsc::UnboundedReceiver<QueuedCommit>,
    mut shutdown: watch::Receiver<bool>,
    replay: Vec<super::journal::Entry>,
) {
    for entry in replay {
        let request = Request::new(Method::POST, &["v1", "commits"]).body(entry.body.clone());
        let result = loop {
            let result: Result<CommitReceipt, Error> =
                shared.transport.call(&request, shared.timeout).await;
            match result {
                Err(error) if error.is_transient() => {
                    shared.transport.log.warn(format!(
                        "replay of queued write {} not delivered yet, retrying: {error}",
                        entry.client_tx_id
                    ));
                    if !pause(&mut shutdown).await {
                        return;
                    }
                }
                other => break other,
            }
        };
        let first = &entry.body["operations"][0];
        let model = first["model"].as_str().unwrap_or_default().to_owned();
        let id = first["id"].as_str().unwrap_or_default().to_owned();
        match result {
            Ok(receipt) => shared.transport.log.info(format!(
                "replayed queued write {} (sync id {})",
                entry.client_tx_id, receipt.sync_id.0
            )),
            Err(error) => {
                shared.transport.log.warn(format!(
                    "replayed queued write {} to {model} `{id}` rejected: {error}",
                    entry.client_tx_id
                ));
                let rejection = WriteRejection {
                    client_tx_id: entry.client_tx_id.clone(),
                    model,
                    id,
                    error,
                };
                // Replay starts as the client connects, possibly before
                // anyone listens: keep it for the first subscriber then.
                let mut early = shared.early_rejections.lock().expect("rejections lock");
                if shared.rejections.receiver_count() == 0 {
                    early.push(rejection);
                } else {
                    drop(early);
                    let _ = shared.rejections.send(rejection);
                }
            }
        }
        if let Some(journal) = &shared.journal {
            journal.remove(entry.seq);
        }
        shared.queued.send_modify(|n| *n = n.saturating_sub(1));
    }
    loop {
        let queued = tokio::select! {
            queued = queue.recv() => match queued {
                Some(queued) => queued,
                None => return,
            },
            _ = super::stopped(&mut shutdown) => return,
        };
        let commit = &queued.commit;
        let result = loop {
            match send(&shared, commit).await {
                Err(error) if queued.seq.is_some() && error.is_transient() => {
                    shared.transport.log.warn(format!(
                        "queued write {} not delivered yet, retrying: {error}",
                        commit.client_tx_id
                    ));
                    // Shutting down leaves it on disk for the next start.
                    if !pause(&mut shutdown).await {
                        return;
                    }
                }
                other => break other,
            }
        };
        if let (Some(journal), Some(seq)) = (&shared.journal, queued.seq) {
            journal.remove(seq);
        }
        if let Err(error) = &result {
            shared.pool.roll_back(&commit.client_tx_id);
            let first = &commit.staged[0].key;
            shared.transport.log.warn(format!(
                "queued write {} to {} `{}` rolled back: {error}",
                commit.client_tx_id, first.model, first.id
            ));
            let _ = shared.rejections.send(WriteRejection {
                client_tx_id: commit.client_tx_id.clone(),
                model: first.model.clone(),
                id: first.id.clone(),
                error: error.clone(),
            });
        }
        let _ = queued.reply.send(result);
        shared.queued.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Waits before the next delivery attempt of a durable write; `false` when
/// the client is shutting down instead.
async fn pause(shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_millis(250)) => true,
        _ = super::stopped(shutdown) => false,
    }
}

/// Adapts a confirmation channel's value with `convert` (in a small relay
/// task), for the typed [`Pending`](super::Pending) of each kind of write.
pub(crate) fn map_confirmation<T: Send + 'static>(
    confirmation: oneshot::Receiver<Result<CommitReceipt, Error>>,
    convert: impl FnOnce(CommitReceipt) -> Result<T, Error> + Send + 'static,
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
