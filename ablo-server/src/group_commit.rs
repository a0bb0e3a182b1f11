//! Group commit: one writer thread owns the write connection and drains
//! every queued commit into one transaction, each commit inside its own
//! savepoint, so many commits share one durable `COMMIT` (one fsync) and
//! each stays all-or-nothing. Sync ids are taken in queue order from the
//! storage's head (which the backend serializes across nodes); callers are
//! answered, and then deltas fanned out in sync-id order, only after the
//! transaction is durable.

use std::sync::Arc;
use std::thread::JoinHandle;

use ablo_runtime::Timestamp;
use ablo_runtime::wire::CommitReceipt;
use tokio::sync::{mpsc, oneshot};

use crate::commit::{self, Executed, PreparedCommit, Rejection};
use crate::error::ApiError;
use crate::fanout::Hub;
use crate::storage::{Storage, StorageError, UnitRolledBack};

type Reply = oneshot::Sender<Result<CommitReceipt, ApiError>>;

enum Message {
    Commit(Box<PreparedCommit>, Reply),
    Stop,
}

/// The handle request handlers submit commits through.
pub(crate) struct GroupCommitter {
    sender: mpsc::Sender<Message>,
    /// Turns `true` if the writer thread died (a panic): the server then
    /// reports itself unhealthy and the `serve` binary exits non-zero.
    died: tokio::sync::watch::Receiver<bool>,
}

impl GroupCommitter {
    /// Starts the writer thread.
    pub(crate) fn start(
        storage: Arc<dyn Storage>,
        hub: Hub,
        max_group: usize,
        group_size: prometheus::Histogram,
    ) -> Result<(GroupCommitter, JoinHandle<()>), StorageError> {
        let (sender, receiver) = mpsc::channel(max_group.max(1) * 8);
        let (death, died) = tokio::sync::watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("ablo-commit-writer".into())
            .spawn(move || {
                let run = std::panic::AssertUnwindSafe(|| {
                    writer_loop(storage, hub, receiver, max_group.max(1), group_size)
                });
                if std::panic::catch_unwind(run).is_err() {
                    tracing::error!("the commit writer panicked: no further write can be accepted");
                    let _ = death.send(true);
                }
            })?;
        Ok((GroupCommitter { sender, died }, thread))
    }

    /// Commits queued for the writer now.
    pub(crate) fn queue_depth(&self) -> usize {
        self.sender.max_capacity() - self.sender.capacity()
    }

    /// Whether the writer thread is still running.
    pub(crate) fn is_alive(&self) -> bool {
        !*self.died.borrow()
    }

    /// Resolves if the writer thread dies (never when it stops cleanly).
    pub(crate) async fn died(&self) {
        let mut died = self.died.clone();
        if died.wait_for(|dead| *dead).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Queues a commit and waits until it is durable (or refused).
    pub(crate) async fn submit(&self, commit: PreparedCommit) -> Result<CommitReceipt, ApiError> {
        if !self.is_alive() {
            return Err(ApiError::writer_stopped());
        }
        let (reply, answer) = oneshot::channel();
        let sent = self
            .sender
            .send(Message::Commit(Box::new(commit), reply))
            .await;
        match sent {
            Ok(()) => match answer.await {
                Ok(outcome) => outcome,
                Err(_) => Err(self.why_unanswered().await),
            },
            Err(_) => Err(self.why_unanswered().await),
        }
    }

    /// Why a queued commit got no answer: the writer stopped for shutdown,
    /// or it died. A dying writer drops its replies while it unwinds, just
    /// before it reports its death, so wait a moment for that report.
    async fn why_unanswered(&self) -> ApiError {
        let death = tokio::time::timeout(std::time::Duration::from_millis(200), self.died());
        match death.await {
            Ok(()) => ApiError::writer_stopped(),
            Err(_) => ApiError::unavailable(),
        }
    }

    /// Asks the writer to finish the commits queued so far and stop.
    pub(crate) async fn stop(&self) {
        let _ = self.sender.send(Message::Stop).await;
    }
}

fn writer_loop(
    storage: Arc<dyn Storage>,
    hub: Hub,
    mut receiver: mpsc::Receiver<Message>,
    max_group: usize,
    group_size: prometheus::Histogram,
) {
    let mut stopping = false;
    while !stopping {
        let Some(first) = receiver.blocking_recv() else {
            break;
        };
        let mut group = Vec::with_capacity(max_group);
        match first {
            Message::Commit(commit, reply) => group.push((commit, reply)),
            Message::Stop => break,
        }
        while group.len() < max_group {
            match receiver.try_recv() {
                Ok(Message::Commit(commit, reply)) => group.push((commit, reply)),
                Ok(Message::Stop) => {
                    stopping = true;
                    break;
                }
                Err(_) => break,
            }
        }
        group_size.observe(group.len() as f64);
        write_group(storage.as_ref(), &hub, group);
    }
    receiver.close();
    // Anything queued after the stop is refused as unavailable by dropping
    // its reply channel.
    tracing::info!("commit writer stopped");
}

/// Writes one group, answers every caller and fans out.
fn write_group(storage: &dyn Storage, hub: &Hub, group: Vec<(Box<PreparedCommit>, Reply)>) {
    let now = Timestamp::now();
    let mut outcomes: Vec<Result<Executed, ApiError>> = Vec::with_capacity(group.len());
    let written = storage.write_group(group.len(), &mut |unit, tx| {
        let sync_id = tx.head().next();
        match commit::execute(tx, &group[unit].0, sync_id, now) {
            Ok(executed) => {
                if matches!(executed, Executed::Applied { .. }) {
                    tx.advance_head(sync_id);
                }
                outcomes.push(Ok(executed));
                Ok(Ok(()))
            }
            Err(Rejection::Refused(err)) => {
                outcomes.push(Err(err.into()));
                Ok(Err(UnitRolledBack))
            }
            Err(Rejection::Storage(err)) => {
                // One commit's storage failure (say, a record it reads that
                // cannot be decoded) fails that commit alone; a failure of
                // the transaction itself still fails the group below.
                tracing::error!(error = %err, client_tx_id = %group[unit].0.client_tx_id, "commit failed in storage; rolled back alone");
                outcomes.push(Err(ApiError::internal()));
                Ok(Err(UnitRolledBack))
            }
        }
    });
    match written {
        Ok(()) => {
            // Writers are answered before the fan-out: waking every
            // subscriber first would queue each writer's answer behind them.
            let mut durable = Vec::with_capacity(group.len());
            for ((_, reply), outcome) in group.into_iter().zip(outcomes) {
                let answer = match outcome {
                    Ok(Executed::Applied { receipt, deltas }) => {
                        durable.push((receipt.sync_id, deltas));
                        Ok(receipt)
                    }
                    Ok(Executed::Replayed(receipt)) => Ok(receipt),
                    Err(err) => Err(err),
                };
                let _ = reply.send(answer);
            }
            for (sync_id, deltas) in durable {
                hub.publish(sync_id, deltas);
            }
        }
        Err(err) => {
            tracing::error!(error = %err, commits = group.len(), "group commit failed; nothing applied");
            for (_, reply) in group {
                let _ = reply.send(Err(ApiError::internal()));
            }
        }
    }
}
