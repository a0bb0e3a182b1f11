//! Claims: exclusive intents with a FIFO wait line. A granted claim comes
//! with the row as it is at the grant; writes by anyone else fail with
//! `entity_claimed` until it is released or lapses.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::broadcast;

use super::handle::ModelHandle;
use super::intents::IntentHandle;
use super::write::decode_row;
use crate::error::Error;
use crate::model::Model;
use crate::types::{Id, Row, SyncId};
use crate::wire::{IntentEventKind, Target};

/// A held claim on one row: the row as it was when the claim was granted,
/// and the handle that heartbeats it. Release it with [`Claim::release`].
///
/// ```no_run
/// use ablo_runtime::{Model, Id, client::ModelHandle};
/// async fn work<M: Model>(tasks: &ModelHandle<M>, id: Id<M>) -> Result<(), ablo_runtime::Error> {
///     let claim = tasks.claim(id).await?;
///     println!("holding {:?} as of {}", claim.row().map(|r| r.id.clone()), claim.stamp());
///     claim.release().await
/// }
/// ```
#[derive(Debug)]
pub struct Claim<M: Model> {
    row: Option<Row<M>>,
    stamp: SyncId,
    handle: IntentHandle,
}

impl<M: Model> Claim<M> {
    /// The row at the grant (`None` if it was deleted meanwhile).
    ///
    /// ```no_run
    /// # fn f<M: ablo_runtime::Model>(c: &ablo_runtime::client::Claim<M>) {
    /// let fresh = c.row();
    /// # }
    /// ```
    pub fn row(&self) -> Option<&Row<M>> {
        self.row.as_ref()
    }

    /// The stamp the holder's writes are stale-checked from.
    ///
    /// ```no_run
    /// # fn f<M: ablo_runtime::Model>(c: &ablo_runtime::client::Claim<M>) {
    /// println!("{}", c.stamp());
    /// # }
    /// ```
    pub fn stamp(&self) -> SyncId {
        self.stamp
    }

    /// The underlying intent handle.
    ///
    /// ```no_run
    /// # fn f<M: ablo_runtime::Model>(c: &ablo_runtime::client::Claim<M>) {
    /// println!("{}", c.handle().id());
    /// # }
    /// ```
    pub fn handle(&self) -> &IntentHandle {
        &self.handle
    }

    /// Releases the claim; the next waiter is granted.
    ///
    /// ```no_run
    /// # async fn f<M: ablo_runtime::Model>(c: ablo_runtime::client::Claim<M>) -> Result<(), ablo_runtime::Error> {
    /// c.release().await
    /// # }
    /// ```
    pub async fn release(self) -> Result<(), Error> {
        self.handle.release().await
    }

    /// Stops heartbeating without releasing: the claim lapses after its
    /// lease, as when a holder crashes.
    ///
    /// ```no_run
    /// # fn f<M: ablo_runtime::Model>(mut c: ablo_runtime::client::Claim<M>) { c.abandon() }
    /// ```
    pub fn abandon(&mut self) {
        self.handle.abandon()
    }
}

/// A request for a claim, sent when awaited: granted at once, or after
/// waiting in line on the live stream.
///
/// ```no_run
/// use std::time::Duration;
/// use ablo_runtime::{Model, Id, client::ModelHandle};
/// async fn quick<M: Model>(h: &ModelHandle<M>, id: Id<M>) -> Result<(), ablo_runtime::Error> {
///     let claim = h.claim(id).ttl(Duration::from_secs(5)).wait(false).await?;
///     claim.release().await
/// }
/// ```
#[must_use = "a claim is only requested when awaited"]
pub struct ClaimRequest<M: Model> {
    handle: ModelHandle<M>,
    id: Id<M>,
    ttl: Duration,
    wait: bool,
    timeout: Duration,
    action: String,
}

impl<M: Model> ClaimRequest<M> {
    /// The lease, renewed in the background (default 30 s).
    ///
    /// ```no_run
    /// # fn f<M: ablo_runtime::Model>(r: ablo_runtime::client::ClaimRequest<M>) -> ablo_runtime::client::ClaimRequest<M> {
    /// r.ttl(std::time::Duration::from_secs(5))
    /// # }
    /// ```
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Whether to wait in line when the row is claimed (default) or fail at
    /// once with [`Error::EntityClaimed`].
    ///
    /// ```no_run
    /// # fn f<M: ablo_runtime::Model>(r: ablo_runtime::client::ClaimRequest<M>) -> ablo_runtime::client::ClaimRequest<M> {
    /// r.wait(false)
    /// # }
    /// ```
    pub fn wait(mut self, wait: bool) -> Self {
        self.wait = wait;
        self
    }

    /// How long to wait in line before giving up (default 60 s); the
    /// waiting claim is then released.
    ///
    /// ```no_run
    /// # fn f<M: ablo_runtime::Model>(r: ablo_runtime::client::ClaimRequest<M>) -> ablo_runtime::client::ClaimRequest<M> {
    /// r.timeout(std::time::Duration::from_secs(10))
    /// # }
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The verb others see (default `update`).
    ///
    /// ```no_run
    /// # fn f<M: ablo_runtime::Model>(r: ablo_runtime::client::ClaimRequest<M>) -> ablo_runtime::client::ClaimRequest<M> {
    /// r.action("triage")
    /// # }
    /// ```
    pub fn action(mut self, action: impl Into<String>) -> Self {
        self.action = action.into();
        self
    }

    async fn send(self) -> Result<Claim<M>, Error> {
        let client = self.handle.client().clone();
        let shared = client.shared().clone();
        // Listen before asking, so a grant right after the answer is heard.
        let mut changes = shared.intents.subscribe();
        let (intent, response) = client
            .intents()
            .create(Target::from(&self.id))
            .action(self.action)
            .ttl(self.ttl)
            .exclusive(self.wait)
            .send()
            .await?;
        if response.position.is_none() {
            let row = response.data.map(|d| decode_row(Some(d))).transpose()?;
            return Ok(Claim {
                row,
                stamp: response.stamp.unwrap_or(SyncId::ZERO),
                handle: intent,
            });
        }
        let id = intent.id().to_owned();
        let granted = tokio::time::timeout(self.timeout, async {
            loop {
                match changes.recv().await {
                    Ok(change) if change.intent.id == id => match change.event {
                        IntentEventKind::Granted => return Ok(()),
                        IntentEventKind::Expired | IntentEventKind::Released => {
                            return Err(Error::connection(
                                "claim_lapsed",
                                format!("the waiting claim {id} lapsed before it was granted"),
                            ));
                        }
                        _ => {}
                    },
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => {
                        return Err(Error::connection("closed", "the client was disposed"));
                    }
                }
            }
        })
        .await;
        match granted {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(error),
            Err(_) => {
                let _ = intent.release().await;
                return Err(Error::connection(
                    "claim_timeout",
                    format!("the claim was not granted within {:?}", self.timeout),
                ));
            }
        }
        let fresh = self.handle.retrieve(self.id.clone()).await;
        match fresh {
            Ok(found) => Ok(Claim {
                stamp: found.data.stamp,
                row: Some(found.data),
                handle: intent,
            }),
            Err(Error::NotFound(_)) => Ok(Claim {
                row: None,
                stamp: SyncId::ZERO,
                handle: intent,
            }),
            Err(error) => {
                let _ = intent.release().await;
                Err(error)
            }
        }
    }
}

impl<M: Model> IntoFuture for ClaimRequest<M> {
    type Output = Result<Claim<M>, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

impl<M: Model> ModelHandle<M> {
    /// Claims row `id`: one holder at a time, others wait in line in
    /// arrival order. The claim comes with the row as of the grant; live
    /// sync must be on to hear a grant after waiting.
    ///
    /// ```no_run
    /// use ablo_runtime::{Model, Id, client::ModelHandle};
    /// async fn work<M: Model>(tasks: &ModelHandle<M>, id: Id<M>) -> Result<(), ablo_runtime::Error> {
    ///     let claim = tasks.claim(id).await?;
    ///     claim.release().await
    /// }
    /// ```
    pub fn claim(&self, id: impl Into<Id<M>>) -> ClaimRequest<M> {
        ClaimRequest {
            handle: self.clone(),
            id: id.into(),
            ttl: Duration::from_secs(30),
            wait: true,
            timeout: Duration::from_secs(60),
            action: "update".into(),
        }
    }

    /// Claims row `id`, runs `work` with the fresh row, and releases the
    /// claim whatever `work` returns.
    ///
    /// ```no_run
    /// use ablo_runtime::{Model, Id, client::ModelHandle};
    /// async fn touch<M: Model>(tasks: &ModelHandle<M>, id: Id<M>) -> Result<(), ablo_runtime::Error> {
    ///     tasks.claim_with(id, |row| async move {
    ///         println!("holding {:?}", row.map(|r| r.id));
    ///         Ok(())
    ///     }).await
    /// }
    /// ```
    pub async fn claim_with<F, Fut, T>(&self, id: impl Into<Id<M>>, work: F) -> Result<T, Error>
    where
        F: FnOnce(Option<Row<M>>) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let claim = self.claim(id).await?;
        let row = claim.row.clone();
        let outcome = work(row).await;
        let released = claim.release().await;
        let value = outcome?;
        released?;
        Ok(value)
    }
}
