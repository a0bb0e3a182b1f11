//! [`ClientBuilder`]: the options of a client and the connect sequence.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, Url};
use tokio::sync::{broadcast, mpsc, watch};

use super::commit;
use super::log::{LogLevel, Logger};
use super::pool::Pool;
use super::retry::RetryPolicy;
use super::sync::{self, SyncStatus};
use super::transport::{Request, Transport};
use super::write::Wait;
use super::{Client, Shared};
use crate::error::Error;
use crate::schema::SchemaDescriptor;
use crate::types::SyncId;
use crate::wire::DeltasPage;

/// Options of a [`Client`], then [`ClientBuilder::connect`].
///
/// ```no_run
/// use std::time::Duration;
/// use ablo_runtime::client::{Client, LogLevel, RetryPolicy, Wait};
/// # async fn run(schema: ablo_runtime::SchemaDescriptor) -> Result<(), ablo_runtime::Error> {
/// let client = Client::builder("http://127.0.0.1:7700", "sk_test_123")
///     .schema(schema)
///     .timeout(Duration::from_secs(10))
///     .default_wait(Wait::Confirmed)
///     .retry(RetryPolicy::default().max_attempts(8))
///     .logger(|level, message| if level >= LogLevel::Warn { eprintln!("{message}") })
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
#[must_use = "a builder does nothing until `.connect().await`"]
pub struct ClientBuilder {
    url: String,
    api_key: String,
    schema: Option<SchemaDescriptor>,
    timeout: Duration,
    default_wait: Wait,
    retry: RetryPolicy,
    logger: Logger,
    live: bool,
    snapshot: bool,
    queue_dir: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for ClientBuilder {
    /// Shows every option but the API key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("url", &self.url)
            .field("schema", &self.schema.as_ref().map(|s| &s.name))
            .field("timeout", &self.timeout)
            .field("default_wait", &self.default_wait)
            .field("retry", &self.retry)
            .field("live", &self.live)
            .field("queue_dir", &self.queue_dir)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    pub(crate) fn new(url: String, api_key: String) -> Self {
        ClientBuilder {
            url,
            api_key,
            schema: None,
            timeout: Duration::from_secs(30),
            default_wait: Wait::Confirmed,
            retry: RetryPolicy::default(),
            logger: Logger::default(),
            live: true,
            snapshot: false,
            queue_dir: None,
        }
    }

    /// The application's schema: on connect the client reads the server's
    /// (`GET /v1/schema`) and fails with [`Error::SchemaMismatch`] unless it
    /// is the same or an additive evolution of this one
    /// ([`crate::schema::compatible`]); handles of models it lacks are
    /// refused. Connecting never pushes: see [`Client::push_schema`].
    ///
    /// ```
    /// use ablo_runtime::{SchemaDescriptor, TypeRegistry, client::Client};
    /// let schema = SchemaDescriptor::build("App", vec![], TypeRegistry::default());
    /// let builder = Client::builder("http://127.0.0.1:7700", "sk_test_1").schema(schema);
    /// ```
    pub fn schema(mut self, schema: SchemaDescriptor) -> Self {
        self.schema = Some(schema);
        self
    }

    /// How long one call may take, retries included (default 30 s). Also
    /// bounds [`Client::ready`] and [`Client::dispose`]. A write can set its
    /// own with `.timeout(..)`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let b = ablo_runtime::client::Client::builder("http://h", "k").timeout(Duration::from_secs(5));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// What writes wait for unless they say otherwise (default
    /// [`Wait::Confirmed`]).
    ///
    /// ```
    /// use ablo_runtime::client::{Client, Wait};
    /// let b = Client::builder("http://h", "k").default_wait(Wait::Queued);
    /// ```
    pub fn default_wait(mut self, wait: Wait) -> Self {
        self.default_wait = wait;
        self
    }

    /// How transient failures are retried (default: 5 attempts, 100 ms to
    /// 5 s apart). The same policy paces reconnects of the live
    /// subscription, which never gives up.
    ///
    /// ```
    /// use ablo_runtime::client::{Client, RetryPolicy};
    /// let b = Client::builder("http://h", "k").retry(RetryPolicy::none());
    /// ```
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Receives every client log record, in addition to `tracing` (target
    /// `ablo::client`).
    ///
    /// ```
    /// use ablo_runtime::client::{Client, LogLevel};
    /// let b = Client::builder("http://h", "k")
    ///     .logger(|level: LogLevel, message: &str| println!("[{level}] {message}"));
    /// ```
    pub fn logger(mut self, hook: impl Fn(LogLevel, &str) + Send + Sync + 'static) -> Self {
        self.logger = Logger::with_hook(Arc::new(hook));
        self
    }

    /// Whether to keep the local pool live over a WebSocket subscription
    /// (default `true`). Without it the pool holds only what the client
    /// loads and writes itself.
    ///
    /// ```
    /// let b = ablo_runtime::client::Client::builder("http://h", "k").live(false);
    /// ```
    pub fn live(mut self, live: bool) -> Self {
        self.live = live;
        self
    }

    /// Fills the pool on connect with every row the credential may see,
    /// from a snapshot the server streams (then live deltas after it),
    /// instead of starting empty at the server's head and holding only what
    /// queries load (the default). `ready()` resolves once the snapshot and
    /// the deltas after it are in.
    ///
    /// ```
    /// let b = ablo_runtime::client::Client::builder("http://h", "k").snapshot_on_connect(true);
    /// ```
    pub fn snapshot_on_connect(mut self, snapshot: bool) -> Self {
        self.snapshot = snapshot;
        self
    }

    /// Makes the write queue durable, for long-lived agents: every queued
    /// write ([`Wait::Queued`]) is written to a file in `dir` and fsynced
    /// before it is acknowledged, and removed once the server settled it.
    /// A client connecting with the same directory (after a crash or a
    /// restart) replays what is left first, in order, with the original
    /// `clientTxId`s, so each write lands exactly once; replayed writes the
    /// server refuses reach [`Client::rejections`]. A durable write that
    /// cannot be delivered (the server is down) is retried until it is,
    /// instead of being rolled back. One client at a time per directory.
    ///
    /// ```
    /// let b = ablo_runtime::client::Client::builder("http://h", "k").queue_dir("./agent-queue");
    /// ```
    pub fn queue_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.queue_dir = Some(dir.into());
        self
    }

    /// Checks the options, checks the schema (if one was given) against the
    /// server's, learns the server's newest sync id and starts the live
    /// subscription and the write queue. It works the same with an API key
    /// or a capability token, and never pushes a schema.
    ///
    /// Fails with [`Error::Configuration`] for a bad URL or an empty key,
    /// [`Error::Authentication`] for a key the server refuses,
    /// [`Error::SchemaMismatch`] when the server's schema does not fit the
    /// client's (or the server holds none), and
    /// [`Error::Connection`] when the server cannot be reached.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), ablo_runtime::Error> {
    /// let client = ablo_runtime::client::Client::builder("http://127.0.0.1:7700", "sk_test_1")
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(self) -> Result<Client, Error> {
        let base = parse_base_url(&self.url)?;
        if self.api_key.trim().is_empty() {
            return Err(Error::configuration(
                "missing_api_key",
                "the API key is empty; pass an `sk_...` key or a capability token",
            ));
        }
        if let Some(schema) = &self.schema
            && !schema.hash_is_valid()
        {
            return Err(Error::configuration(
                "invalid_schema",
                format!(
                    "the hash of schema `{}` does not match its content; rebuild it with SchemaDescriptor::build",
                    schema.name
                ),
            ));
        }
        let transport = Transport::new(
            base,
            self.api_key,
            self.retry,
            self.logger,
            self.timeout.min(Duration::from_secs(10)),
        )?;

        if let Some(schema) = &self.schema {
            super::schema_sync::check_against_server(&transport, schema, self.timeout).await?;
        }

        // From a snapshot the stream starts at nothing (no cursor sent).
        let head = if self.snapshot && self.live {
            SyncId::ZERO
        } else {
            server_head(&transport, self.timeout).await?
        };
        let (journal, replay) = match &self.queue_dir {
            Some(dir) => {
                let (journal, left) = super::journal::Journal::open(dir)?;
                if !left.is_empty() {
                    transport.log.info(format!(
                        "replaying {} queued write(s) from {}",
                        left.len(),
                        dir.display()
                    ));
                }
                (Some(journal), left)
            }
            None => (None, Vec::new()),
        };
        let (status, _) = watch::channel(if self.live {
            SyncStatus::Connecting
        } else {
            SyncStatus::Off
        });
        let (rejections, _) = broadcast::channel(256);
        let (queue, queue_rx) = mpsc::unbounded_channel();
        let (queued, _) = watch::channel(replay.len());
        let (shutdown, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            transport,
            pool: Pool::new(head, self.timeout * 2),
            schema: self.schema,
            timeout: self.timeout,
            default_wait: self.default_wait,
            rejections,
            queue,
            queued,
            status,
            closed: shutdown_rx.clone(),
            intents: Default::default(),
            presence: Default::default(),
            caused_by_task_id: Default::default(),
            journal,
            early_rejections: Default::default(),
        });
        let mut tasks = vec![tokio::spawn(commit::run_queue(
            shared.clone(),
            queue_rx,
            shutdown_rx.clone(),
            replay,
        ))];
        if self.live {
            tasks.push(tokio::spawn(sync::run(shared.clone(), shutdown_rx)));
        }
        Ok(Client::start(shared, shutdown, tasks))
    }
}

/// The server's newest sync id: where a new client's live stream starts.
async fn server_head(transport: &Transport, timeout: Duration) -> Result<SyncId, Error> {
    // Asked after the newest possible id: an empty page with the head,
    // whatever the log still keeps.
    let request = Request::new(Method::GET, &["v1", "sync", "deltas"]).query(vec![
        ("after".into(), i64::MAX.to_string()),
        ("limit".into(), "1".into()),
    ]);
    let page: DeltasPage = transport.call(&request, timeout).await?;
    Ok(page.stamp)
}

pub(crate) fn parse_base_url(url: &str) -> Result<Url, Error> {
    let parsed = Url::parse(url).map_err(|e| {
        Error::configuration(
            "invalid_url",
            format!("`{url}` is not a valid server URL: {e}"),
        )
    })?;
    match parsed.scheme() {
        "http" | "https" => Ok(parsed),
        other => Err(Error::configuration(
            "invalid_url",
            format!("`{url}` has scheme `{other}`; the server URL must be http:// or https://"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Client;

    #[tokio::test]
    async fn bad_urls_and_empty_keys_are_configuration_errors() {
        for url in ["not a url", "ftp://example.com", ""] {
            let err = Client::builder(url, "sk_test_1")
                .connect()
                .await
                .err()
                .unwrap();
            assert!(matches!(err, Error::Configuration(_)), "{url}: {err:?}");
            assert_eq!(err.code(), "invalid_url");
        }
        let err = Client::builder("http://127.0.0.1:1", "  ")
            .connect()
            .await
            .err()
            .unwrap();
        assert_eq!(err.code(), "missing_api_key");
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let builder = Client::builder("http://127.0.0.1:7700", "sk_test_secret_value");
        let text = format!("{builder:?}");
        assert!(text.contains("127.0.0.1:7700"), "{text}");
        assert!(!text.contains("sk_test_secret_value"), "{text}");
    }

    #[tokio::test]
    async fn a_schema_with_a_wrong_hash_is_refused_before_sending() {
        let mut schema =
            SchemaDescriptor::build("App", vec![], crate::model::TypeRegistry::default());
        schema.name = "Edited".into();
        let err = Client::builder("http://127.0.0.1:1", "sk_test_1")
            .schema(schema)
            .connect()
            .await
            .err()
            .unwrap();
        assert!(matches!(err, Error::Configuration(_)));
        assert_eq!(err.code(), "invalid_schema");
    }
}
