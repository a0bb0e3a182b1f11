//! Intents: announce that this client works on a row or a field, see who
//! else does, and wait until they are done.
//!
//! The client keeps every intent it hears of on the live stream in a local
//! board ([`Intents::list`] reads it without a request); [`Intents::wait_for`]
//! is woken by that stream, never by polling.

use std::collections::{HashMap, HashSet};
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::Method;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::Client;
use super::transport::Request;
use crate::error::Error;
use crate::model::Model;
use crate::types::Id;
use crate::wire::{
    CreateIntentRequest, Intent, IntentEventKind, IntentList, IntentReleased, IntentResponse,
    Target,
};

impl<M: Model> From<&Id<M>> for Target {
    fn from(id: &Id<M>) -> Target {
        Target {
            model: M::NAME.to_owned(),
            id: id.as_str().to_owned(),
            field: None,
        }
    }
}

impl<M: Model> From<Id<M>> for Target {
    fn from(id: Id<M>) -> Target {
        Target::from(&id)
    }
}

impl Target {
    /// The whole row `id` of model `M`.
    ///
    /// ```
    /// use ablo_runtime::{Id, Model, wire::Target};
    /// fn row<M: Model>(id: &Id<M>) -> Target { Target::row(id) }
    /// ```
    pub fn row<M: Model>(id: &Id<M>) -> Target {
        Target::from(id)
    }

    /// One field (wire name) of this target's row.
    ///
    /// ```
    /// use ablo_runtime::wire::Target;
    /// let t = Target { model: "tasks".into(), id: "t1".into(), field: None }.field("status");
    /// assert_eq!(t.field.as_deref(), Some("status"));
    /// ```
    pub fn field(mut self, field: impl Into<String>) -> Target {
        self.field = Some(field.into());
        self
    }

    /// Whether two targets overlap: the same row, and the same field unless
    /// one of them is the whole row.
    ///
    /// ```
    /// use ablo_runtime::wire::Target;
    /// let row = Target { model: "tasks".into(), id: "t1".into(), field: None };
    /// assert!(row.overlaps(&row.clone().field("title")));
    /// assert!(!row.clone().field("status").overlaps(&row.clone().field("title")));
    /// ```
    pub fn overlaps(&self, other: &Target) -> bool {
        self.model == other.model
            && self.id == other.id
            && match (&self.field, &other.field) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

/// One intent event heard on the live stream.
///
/// ```
/// use ablo_runtime::client::IntentChange;
/// fn is_release(change: &IntentChange) -> bool {
///     matches!(change.event, ablo_runtime::wire::IntentEventKind::Released)
/// }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct IntentChange {
    /// What happened.
    pub event: IntentEventKind,
    /// The intent it happened to.
    pub intent: Intent,
    /// For `queued`: the place in line.
    pub position: Option<usize>,
}

/// The client's local view of intents, fed by the live stream.
pub(crate) struct LiveIntents {
    active: Mutex<HashMap<String, Intent>>,
    /// Ids of intents this client holds (never make it wait).
    own: Mutex<HashSet<String>>,
    changes: broadcast::Sender<IntentChange>,
}

impl Default for LiveIntents {
    fn default() -> Self {
        LiveIntents {
            active: Mutex::new(HashMap::new()),
            own: Mutex::new(HashSet::new()),
            changes: broadcast::channel(1024).0,
        }
    }
}

impl LiveIntents {
    /// Applies one event from the live stream.
    pub(crate) fn apply(&self, event: IntentEventKind, intent: Intent, position: Option<usize>) {
        {
            let mut active = lock(&self.active);
            match event {
                IntentEventKind::Created | IntentEventKind::Renewed | IntentEventKind::Granted => {
                    // A renewal of a waiting claim does not make it active.
                    if event != IntentEventKind::Renewed || active.contains_key(&intent.id) {
                        active.insert(intent.id.clone(), intent.clone());
                    }
                }
                IntentEventKind::Released | IntentEventKind::Expired => {
                    active.remove(&intent.id);
                }
                IntentEventKind::Queued => {}
            }
        }
        let _ = self.changes.send(IntentChange {
            event,
            intent,
            position,
        });
    }

    /// Replaces what is known about one target with a server answer.
    fn seed(&self, target: &Target, intents: Vec<Intent>) {
        let mut active = lock(&self.active);
        active.retain(|_, i| !i.target.overlaps(target));
        for intent in intents {
            active.insert(intent.id.clone(), intent);
        }
    }

    fn on(&self, target: &Target) -> Vec<Intent> {
        let mut found: Vec<Intent> = lock(&self.active)
            .values()
            .filter(|i| i.target.overlaps(target))
            .cloned()
            .collect();
        found.sort_by(|a, b| a.id.cmp(&b.id));
        found
    }

    fn others_on(&self, target: &Target) -> Vec<Intent> {
        let own = lock(&self.own);
        self.on(target)
            .into_iter()
            .filter(|i| !own.contains(&i.id))
            .collect()
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<IntentChange> {
        self.changes.subscribe()
    }

    fn hold(&self, id: &str) {
        lock(&self.own).insert(id.to_owned());
    }

    fn forget(&self, id: &str) {
        lock(&self.own).remove(id);
        lock(&self.active).remove(id);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Intents of a client: [`Client::intents`].
///
/// ```no_run
/// use std::time::Duration;
/// use ablo_runtime::wire::Target;
/// # async fn run(client: ablo_runtime::client::Client) -> Result<(), ablo_runtime::Error> {
/// let task = Target { model: "tasks".into(), id: "t1".into(), field: None };
/// let intent = client.intents().create(task.clone()).action("update")
///     .ttl(Duration::from_secs(10)).await?;
/// // ... work on the row; the handle heartbeats in the background ...
/// intent.release().await?;
/// client.intents().wait_for(task, Duration::from_secs(5)).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Intents {
    client: Client,
}

impl Client {
    /// This client's intents: take, list and wait for them.
    ///
    /// ```no_run
    /// # fn run(client: ablo_runtime::client::Client) {
    /// let intents = client.intents();
    /// # }
    /// ```
    pub fn intents(&self) -> Intents {
        Intents {
            client: self.clone(),
        }
    }
}

impl Intents {
    /// Starts taking an intent on `target` (a row id, or a [`Target`]).
    ///
    /// ```no_run
    /// # async fn run(client: ablo_runtime::client::Client, t: ablo_runtime::wire::Target)
    /// # -> Result<(), ablo_runtime::Error> {
    /// let handle = client.intents().create(t).action("editing").await?;
    /// # Ok(()) }
    /// ```
    pub fn create(&self, target: impl Into<Target>) -> CreateIntent {
        CreateIntent {
            client: self.client.clone(),
            body: CreateIntentRequest {
                target: target.into(),
                action: "update".into(),
                ttl_ms: None,
                exclusive: false,
                wait: true,
            },
        }
    }

    /// The active intents on `target` known to this client (its own
    /// included), from the live stream; no request is made.
    ///
    /// ```no_run
    /// # fn run(client: ablo_runtime::client::Client, t: ablo_runtime::wire::Target) {
    /// for intent in client.intents().list(t) {
    ///     println!("{} is {} it", intent.participant.id, intent.action);
    /// }
    /// # }
    /// ```
    pub fn list(&self, target: impl Into<Target>) -> Vec<Intent> {
        self.client.shared().intents.on(&target.into())
    }

    /// Every intent event this client hears on the live stream from now
    /// on: created, renewed, released, expired, granted, queued.
    ///
    /// ```no_run
    /// use futures::StreamExt;
    /// # async fn run(client: ablo_runtime::client::Client) {
    /// let mut changes = Box::pin(client.intents().changes());
    /// while let Some(change) = changes.next().await {
    ///     println!("{:?} {}", change.event, change.intent.id);
    /// }
    /// # }
    /// ```
    pub fn changes(&self) -> impl futures::Stream<Item = IntentChange> + Send + 'static {
        let receiver = self.client.shared().intents.subscribe();
        super::broadcast_stream(receiver)
    }

    /// Asks the server for the active intents on `target` and refreshes the
    /// local view with them.
    ///
    /// ```no_run
    /// # async fn run(client: ablo_runtime::client::Client, t: ablo_runtime::wire::Target)
    /// # -> Result<(), ablo_runtime::Error> {
    /// let current = client.intents().fetch(t).await?;
    /// # Ok(()) }
    /// ```
    pub async fn fetch(&self, target: impl Into<Target>) -> Result<Vec<Intent>, Error> {
        let target = target.into();
        let shared = self.client.shared();
        let mut query = vec![
            ("model".to_owned(), target.model.clone()),
            ("id".to_owned(), target.id.clone()),
        ];
        if let Some(field) = &target.field {
            query.push(("field".to_owned(), field.clone()));
        }
        let request = Request::new(Method::GET, &["v1", "intents"]).query(query);
        let list: IntentList = shared.transport.call(&request, shared.timeout).await?;
        shared.intents.seed(&target, list.data.clone());
        Ok(list.data)
    }

    /// Waits until no other participant holds an intent on `target`, at
    /// most `timeout` (then fails with [`Error::Busy`] listing them). It
    /// asks the server once for the current intents, then is woken by the
    /// live stream.
    ///
    /// ```no_run
    /// # async fn run(client: ablo_runtime::client::Client, t: ablo_runtime::wire::Target)
    /// # -> Result<(), ablo_runtime::Error> {
    /// client.intents().wait_for(t, std::time::Duration::from_secs(30)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn wait_for(
        &self,
        target: impl Into<Target>,
        timeout: Duration,
    ) -> Result<(), Error> {
        let target = target.into();
        let shared = self.client.shared().clone();
        let mut changes = shared.intents.subscribe();
        self.fetch(target.clone()).await?;
        let wait = async {
            loop {
                if shared.intents.others_on(&target).is_empty() {
                    return;
                }
                match changes.recv().await {
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(()) => Ok(()),
            Err(_) => Err(Error::Busy {
                info: Box::new(crate::error::ErrorInfo::new(
                    crate::wire::codes::BUSY,
                    format!(
                        "{}/{} is still busy after {timeout:?}",
                        target.model, target.id
                    ),
                )),
                intents: shared
                    .intents
                    .others_on(&target)
                    .iter()
                    .map(|i| serde_json::to_value(i).expect("intents serialize"))
                    .collect(),
            }),
        }
    }
}

/// A request for an intent, sent when awaited.
///
/// ```no_run
/// use std::time::Duration;
/// # async fn run(client: ablo_runtime::client::Client, t: ablo_runtime::wire::Target)
/// # -> Result<(), ablo_runtime::Error> {
/// let handle = client.intents().create(t).action("review").ttl(Duration::from_secs(5)).await?;
/// handle.release().await?;
/// # Ok(()) }
/// ```
#[must_use = "an intent is only taken when awaited"]
#[derive(Debug)]
pub struct CreateIntent {
    client: Client,
    body: CreateIntentRequest,
}

impl CreateIntent {
    /// The verb others see, for example `update` (the default) or `editing`.
    ///
    /// ```no_run
    /// # fn f(c: ablo_runtime::client::CreateIntent) -> ablo_runtime::client::CreateIntent {
    /// c.action("editing")
    /// # }
    /// ```
    pub fn action(mut self, action: impl Into<String>) -> Self {
        self.body.action = action.into();
        self
    }

    /// The lease: the intent lapses if the handle stops heartbeating for
    /// this long (the handle heartbeats at a third of it).
    ///
    /// ```no_run
    /// # fn f(c: ablo_runtime::client::CreateIntent) -> ablo_runtime::client::CreateIntent {
    /// c.ttl(std::time::Duration::from_secs(10))
    /// # }
    /// ```
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.body.ttl_ms = Some(ttl.as_millis() as u64);
        self
    }

    pub(crate) fn exclusive(mut self, wait: bool) -> Self {
        self.body.exclusive = true;
        self.body.wait = wait;
        self
    }

    /// Sends the request; the answer may be a queued claim.
    pub(crate) async fn send(self) -> Result<(IntentHandle, IntentResponse), Error> {
        let shared = self.client.shared();
        shared.check_usable(&self.body.target.model)?;
        let body = serde_json::to_value(&self.body).expect("intent requests serialize");
        let request = Request::new(Method::POST, &["v1", "intents"]).body(body);
        let response: IntentResponse = shared.transport.call(&request, shared.timeout).await?;
        shared.intents.hold(&response.intent.id);
        if response.position.is_none() {
            shared
                .intents
                .apply(IntentEventKind::Created, response.intent.clone(), None);
        }
        // Without a requested lease the server's default applies: read it
        // off the intent rather than assuming one.
        let granted =
            response.intent.expires_at.as_millis() - response.intent.created_at.as_millis();
        let ttl = Duration::from_millis(
            self.body
                .ttl_ms
                .unwrap_or_else(|| u64::try_from(granted).unwrap_or(0).max(100)),
        );
        let handle = IntentHandle::start(self.client.clone(), response.intent.clone(), ttl);
        Ok((handle, response))
    }
}

impl IntoFuture for CreateIntent {
    type Output = Result<IntentHandle, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.send().await.map(|(handle, _)| handle) })
    }
}

/// A held intent. While it lives it heartbeats in the background; release
/// it with [`IntentHandle::release`] (dropping it stops the heartbeat and
/// releases it in the background).
///
/// ```no_run
/// # async fn run(handle: ablo_runtime::client::IntentHandle) -> Result<(), ablo_runtime::Error> {
/// println!("holding {}", handle.id());
/// handle.release().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct IntentHandle {
    client: Client,
    intent: Intent,
    heartbeat: Option<JoinHandle<()>>,
    released: bool,
}

impl IntentHandle {
    fn start(client: Client, intent: Intent, ttl: Duration) -> IntentHandle {
        let every = (ttl / 3).max(Duration::from_millis(20));
        let shared = client.shared().clone();
        let id = intent.id.clone();
        let heartbeat = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let request = Request::new(Method::POST, &["v1", "intents", &id, "heartbeat"]);
                let answer: Result<IntentResponse, Error> =
                    shared.transport.call(&request, every).await;
                if let Err(error) = answer
                    && error.code() == crate::wire::codes::INTENT_NOT_FOUND
                {
                    shared
                        .transport
                        .log
                        .warn(format!("intent {id} lapsed: {error}"));
                    return;
                }
            }
        });
        IntentHandle {
            client,
            intent,
            heartbeat: Some(heartbeat),
            released: false,
        }
    }

    /// The intent's id.
    ///
    /// ```no_run
    /// # fn f(h: &ablo_runtime::client::IntentHandle) -> &str {
    /// h.id()
    /// # }
    /// ```
    pub fn id(&self) -> &str {
        &self.intent.id
    }

    /// The intent as the server answered.
    ///
    /// ```no_run
    /// # fn f(h: &ablo_runtime::client::IntentHandle) {
    /// println!("expires at {}", h.intent().expires_at);
    /// # }
    /// ```
    pub fn intent(&self) -> &Intent {
        &self.intent
    }

    /// Stops heartbeating (the intent then lapses after its lease) without
    /// releasing it, as when a holder crashes. Dropping the handle later
    /// does not release it either.
    ///
    /// ```no_run
    /// # fn f(mut h: ablo_runtime::client::IntentHandle) {
    /// h.abandon();
    /// # }
    /// ```
    pub fn abandon(&mut self) {
        self.released = true;
        if let Some(task) = self.heartbeat.take() {
            task.abort();
        }
    }

    /// Releases the intent; releasing one that already lapsed succeeds.
    ///
    /// ```no_run
    /// # async fn f(h: ablo_runtime::client::IntentHandle) -> Result<(), ablo_runtime::Error> {
    /// h.release().await?;
    /// # Ok(()) }
    /// ```
    pub async fn release(mut self) -> Result<(), Error> {
        self.released = true;
        if let Some(task) = self.heartbeat.take() {
            task.abort();
        }
        release(&self.client, &self.intent.id).await
    }
}

async fn release(client: &Client, id: &str) -> Result<(), Error> {
    let shared = client.shared();
    let request = Request::new(Method::DELETE, &["v1", "intents", id]);
    let _: IntentReleased = shared.transport.call(&request, shared.timeout).await?;
    shared.intents.forget(id);
    Ok(())
}

impl Drop for IntentHandle {
    fn drop(&mut self) {
        if let Some(task) = self.heartbeat.take() {
            task.abort();
        }
        if !self.released
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let client = self.client.clone();
            let id = self.intent.id.clone();
            runtime.spawn(async move {
                let _ = release(&client, &id).await;
            });
        }
    }
}
