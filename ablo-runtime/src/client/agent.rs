//! Agent runs: [`Client::agent`](super::Client::agent) gives an [`Agent`]
//! whose [`run`](Agent::run) mints a capability, opens a task, runs the
//! handler with a client scoped to that capability (every commit names the
//! task), closes the task with the outcome, and revokes the capability
//! whatever happened: success, error, panic, timeout or the run future
//! being dropped.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use tokio::task::AbortHandle;

use super::capability::MintCapability;
use super::transport::Request;
use super::{Client, Shared};
use crate::error::Error;
use crate::types::Json;
use crate::wire::ParticipantKind;

/// What an agent may do and what its run is about.
///
/// ```
/// use ablo_runtime::client::AgentSpec;
/// use ablo_runtime::wire::ParticipantKind;
/// let spec = AgentSpec::new("triage-bot")
///     .operations(["tasks.read", "tasks.update"])
///     .sync_groups(["org:org_1"])
///     .on_behalf_of(ParticipantKind::User, "u_1")
///     .prompt("triage the inbox")
///     .timeout(std::time::Duration::from_secs(60));
/// assert_eq!(spec.capability().participant_id, "triage-bot");
/// ```
#[derive(Clone, Debug)]
pub struct AgentSpec {
    capability: MintCapability,
    prompt: Option<String>,
    surface: Option<String>,
    parent_task_id: Option<String>,
    metadata: Option<Json>,
    timeout: Option<Duration>,
    live: bool,
}

impl AgentSpec {
    /// An agent with participant id `id`, allowed nothing until operations
    /// and groups are added.
    pub fn new(id: impl Into<String>) -> Self {
        AgentSpec {
            capability: MintCapability::agent(id).label("agent run"),
            prompt: None,
            surface: None,
            parent_task_id: None,
            metadata: None,
            timeout: None,
            live: false,
        }
    }

    /// The operation patterns of its capability.
    pub fn operations<S: Into<String>>(mut self, patterns: impl IntoIterator<Item = S>) -> Self {
        self.capability = self.capability.operations(patterns);
        self
    }

    /// The sync-group patterns of its capability.
    pub fn sync_groups<S: Into<String>>(mut self, patterns: impl IntoIterator<Item = S>) -> Self {
        self.capability = self.capability.sync_groups(patterns);
        self
    }

    /// For whom the agent acts.
    pub fn on_behalf_of(mut self, kind: ParticipantKind, id: impl Into<String>) -> Self {
        self.capability = self.capability.on_behalf_of(kind, id);
        self
    }

    /// The capability's label (default `agent run`).
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.capability = self.capability.label(label);
        self
    }

    /// The task's prompt.
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = Some(prompt.into());
        self
    }

    /// Where the run was started.
    pub fn surface(mut self, surface: impl Into<String>) -> Self {
        self.surface = Some(surface.into());
        self
    }

    /// The run that started this one.
    pub fn parent_task(mut self, task_id: impl Into<String>) -> Self {
        self.parent_task_id = Some(task_id.into());
        self
    }

    /// Free-form JSON stored with the task.
    pub fn metadata(mut self, metadata: Json) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Cancels the handler after `timeout` (the capability also expires
    /// one minute after it).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Gives the handler's client a live stream (off by default: agents
    /// read and write over HTTP).
    pub fn live(mut self, live: bool) -> Self {
        self.live = live;
        self
    }

    /// The capability request the run mints.
    pub fn capability(&self) -> MintCapability {
        let mut capability = self.capability.clone();
        if let Some(timeout) = self.timeout {
            capability = capability.ttl(timeout + Duration::from_secs(60));
        }
        capability
    }
}

/// How a run ended.
///
/// ```
/// use ablo_runtime::client::RunOutcome;
/// let outcome: RunOutcome<u32, String> = RunOutcome::Done(3);
/// assert_eq!(outcome.status(), "done");
/// ```
#[derive(Debug)]
pub enum RunOutcome<T, E> {
    /// The handler returned `Ok`.
    Done(T),
    /// The handler returned `Err` or panicked.
    Failed(RunFailure<E>),
    /// The handler ran past the spec's timeout.
    Cancelled,
}

impl<T, E> RunOutcome<T, E> {
    /// The task status it was closed with: `done`, `failed` or `cancelled`.
    pub fn status(&self) -> &'static str {
        match self {
            RunOutcome::Done(_) => "done",
            RunOutcome::Failed(_) => "failed",
            RunOutcome::Cancelled => "cancelled",
        }
    }
}

/// Why a run failed.
///
/// ```
/// use ablo_runtime::client::RunFailure;
/// let failure: RunFailure<String> = RunFailure::Panicked("boom".into());
/// assert!(matches!(failure, RunFailure::Panicked(_)));
/// ```
#[derive(Debug)]
pub enum RunFailure<E> {
    /// The handler's error.
    Handler(E),
    /// The handler panicked, with the panic message.
    Panicked(String),
}

/// What the handler gets: a client acting as the agent, and its task.
#[derive(Clone)]
pub struct AgentContext {
    /// A client authenticated by the run's capability; its commits name the
    /// task (`causedByTaskId`).
    pub client: Client,
    /// The task id.
    pub task_id: String,
    /// The capability id.
    pub capability_id: String,
    costs: Arc<Costs>,
}

#[derive(Default)]
struct Costs {
    input_tokens: AtomicU64,
    output_tokens: AtomicU64,
}

impl AgentContext {
    /// Adds model token usage, reported when the task is closed.
    pub fn add_tokens(&self, input: u64, output: u64) {
        self.costs.input_tokens.fetch_add(input, Ordering::Relaxed);
        self.costs
            .output_tokens
            .fetch_add(output, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for AgentContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentContext")
            .field("task_id", &self.task_id)
            .field("capability_id", &self.capability_id)
            .finish_non_exhaustive()
    }
}

/// An agent ready to run: [`Client::agent`](super::Client::agent).
///
/// ```no_run
/// use ablo_runtime::client::{AgentSpec, RunOutcome};
/// # async fn run(client: ablo_runtime::client::Client) -> Result<(), ablo_runtime::Error> {
/// let outcome = client
///     .agent(AgentSpec::new("triage-bot").operations(["tasks.*"]).sync_groups(["*"]))
///     .run(|ctx| async move {
///         let _ = ctx.task_id;
///         Ok::<_, ablo_runtime::Error>(42)
///     })
///     .await?;
/// assert!(matches!(outcome, RunOutcome::Done(42)));
/// # Ok(()) }
/// ```
pub struct Agent {
    pub(crate) parent: Arc<Shared>,
    pub(crate) spec: AgentSpec,
}

#[derive(Deserialize)]
struct Opened {
    id: String,
}

/// Closes the task and revokes the capability, once, even if the run's
/// future is dropped half-way.
struct Envelope {
    parent: Arc<Shared>,
    capability_id: String,
    scoped: Option<Client>,
    task_id: Option<String>,
    handler: Option<AbortHandle>,
    costs: Arc<Costs>,
    started: Instant,
    done: bool,
}

impl Envelope {
    async fn finish(mut self, status: &'static str) {
        self.done = true;
        finish(
            self.parent.clone(),
            self.scoped.take(),
            self.task_id.take(),
            self.capability_id.clone(),
            self.costs.clone(),
            self.started,
            status,
        )
        .await;
    }
}

impl Drop for Envelope {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let Some(handler) = self.handler.take() {
            handler.abort();
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(finish(
            self.parent.clone(),
            self.scoped.take(),
            self.task_id.take(),
            self.capability_id.clone(),
            self.costs.clone(),
            self.started,
            "cancelled",
        ));
    }
}

async fn finish(
    parent: Arc<Shared>,
    scoped: Option<Client>,
    task_id: Option<String>,
    capability_id: String,
    costs: Arc<Costs>,
    started: Instant,
    status: &'static str,
) {
    if let Some(task_id) = task_id {
        let body = json!({
            "status": status,
            "costInputTokens": costs.input_tokens.load(Ordering::Relaxed),
            "costOutputTokens": costs.output_tokens.load(Ordering::Relaxed),
            "costComputeMs": started.elapsed().as_millis() as u64,
        });
        let close = Request::new(Method::POST, &["v1", "tasks", &task_id, "close"]).body(body);
        let closed: Result<Json, Error> = parent.transport.call(&close, parent.timeout).await;
        if let Err(err) = closed {
            parent
                .transport
                .log
                .warn(format!("closing task {task_id} as {status} failed: {err}"));
        }
    }
    if let Some(scoped) = scoped {
        scoped.dispose().await;
    }
    let capabilities = super::Capabilities {
        shared: parent.clone(),
    };
    if let Err(err) = capabilities.revoke(&capability_id).await {
        parent
            .transport
            .log
            .warn(format!("revoking capability {capability_id} failed: {err}"));
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "the handler panicked".into())
}

impl Agent {
    /// Runs `handler` inside the envelope. `Err` only when the envelope
    /// could not start (minting, connecting or opening the task failed;
    /// anything already minted is revoked).
    pub async fn run<T, E, F, Fut>(self, handler: F) -> Result<RunOutcome<T, E>, Error>
    where
        F: FnOnce(AgentContext) -> Fut,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let minted = self
            .parent_capabilities()
            .mint(&self.spec.capability())
            .await?;
        let token = minted
            .token
            .clone()
            .ok_or_else(|| Error::invalid_response("the mint answer has no token"))?;
        let mut envelope = Envelope {
            parent: self.parent.clone(),
            capability_id: minted.id.clone(),
            scoped: None,
            task_id: None,
            handler: None,
            costs: Arc::default(),
            started: Instant::now(),
            done: false,
        };
        let base = self.parent.transport.url(&[]);
        let scoped = Client::builder(base.as_str(), token)
            .timeout(self.parent.timeout)
            .retry(self.parent.transport.retry.clone())
            .live(self.spec.live)
            .connect()
            .await?;
        envelope.scoped = Some(scoped.clone());
        let open = Request::new(Method::POST, &["v1", "tasks"]).body(json!({
            "prompt": self.spec.prompt,
            "surface": self.spec.surface,
            "parentTaskId": self.spec.parent_task_id,
            "metadata": self.spec.metadata,
        }));
        let opened: Opened = scoped
            .shared()
            .transport
            .call(&open, self.parent.timeout)
            .await?;
        let _ = scoped.shared().caused_by_task_id.set(opened.id.clone());
        envelope.task_id = Some(opened.id.clone());
        let context = AgentContext {
            client: scoped,
            task_id: opened.id,
            capability_id: minted.id,
            costs: envelope.costs.clone(),
        };
        let task = tokio::spawn(handler(context));
        envelope.handler = Some(task.abort_handle());
        let joined = match self.spec.timeout {
            Some(limit) => match tokio::time::timeout(limit, task).await {
                Ok(joined) => Some(joined),
                Err(_) => {
                    if let Some(handler) = envelope.handler.take() {
                        handler.abort();
                    }
                    None
                }
            },
            None => Some(task.await),
        };
        let outcome = match joined {
            None => RunOutcome::Cancelled,
            Some(Ok(Ok(value))) => RunOutcome::Done(value),
            Some(Ok(Err(err))) => RunOutcome::Failed(RunFailure::Handler(err)),
            Some(Err(join)) if join.is_panic() => {
                RunOutcome::Failed(RunFailure::Panicked(panic_message(join.into_panic())))
            }
            Some(Err(_)) => RunOutcome::Cancelled,
        };
        envelope.finish(outcome.status()).await;
        Ok(outcome)
    }

    fn parent_capabilities(&self) -> super::Capabilities {
        super::Capabilities {
            shared: self.parent.clone(),
        }
    }
}
