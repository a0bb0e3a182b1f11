//! The customer side of a Data Source, for Rust apps: implement
//! [`DataSource`] over your own database and answer the server's signed
//! requests with [`handle`], from any HTTP framework; report changes made
//! outside Ablo with [`push_events`].
//!
//! ```
//! use ablo_runtime::source::{DataSource, Reply, handle};
//! use ablo_runtime::wire::{JsonObject, SourceCommit};
//! use serde_json::json;
//!
//! struct Tasks;
//!
//! impl DataSource for Tasks {
//!     async fn commit(&self, commit: SourceCommit) -> Result<Vec<JsonObject>, Reply> {
//!         // Apply `commit.operations` in one transaction, deduped by
//!         // `commit.client_tx_id`, and return the rows as stored.
//!         Ok(commit.operations.iter().map(|op| {
//!             let mut row = op.input.clone();
//!             row.insert("id".into(), json!(op.id));
//!             row
//!         }).collect())
//!     }
//!     async fn load(&self, _model: &str, _id: &str) -> Result<Option<JsonObject>, Reply> {
//!         Ok(None)
//!     }
//!     async fn list(&self, _model: &str, _query: serde_json::Value) -> Result<Vec<JsonObject>, Reply> {
//!         Ok(vec![])
//!     }
//! }
//!
//! # tokio_test_block(async {
//! let body = br#"{"type":"load","model":"tasks","id":"t1"}"#;
//! let signed = ablo_runtime::signing::SignedHeaders::new("whsec_k", body, ablo_runtime::signing::now_ms());
//! let header = |name: &str| signed.pairs().iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string());
//! let (status, answer) = handle(&Tasks, "whsec_k", header, body).await;
//! assert_eq!((status, answer), (200, json!({"row": null})));
//! let (status, _) = handle(&Tasks, "whsec_other", header, body).await;
//! assert_eq!(status, 401);
//! # });
//! # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

use std::future::Future;

use serde_json::{Value, json};

use crate::error::Error;
use crate::signing::{self, SignedHeaders, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP};
use crate::types::Json;
use crate::wire::{
    EventsOutcome, JsonObject, SourceCommit, SourceEvent, SourceEvents, SourceRequest,
};

/// A refusal a [`DataSource`] answers with: an HTTP status (4xx to refuse
/// the request for good, 5xx for the server to retry) and a message.
///
/// ```
/// let reply = ablo_runtime::source::Reply::new(422, "status must be todo, doing or done");
/// assert_eq!(reply.status, 422);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// Sent as `{"detail": message}`, the shape the seed's Python route uses.
    pub message: String,
}

impl Reply {
    /// A refusal with `status` and `message`.
    pub fn new(status: u16, message: impl Into<String>) -> Reply {
        Reply {
            status,
            message: message.into(),
        }
    }
}

/// Your app's side of a Data Source. `events` is optional: without it the
/// server is told (400) and stops polling; push events instead.
pub trait DataSource: Send + Sync {
    /// Applies a commit in one transaction, deduplicated by
    /// `client_tx_id`, and returns every written row as stored (a deleted
    /// row may be left out).
    fn commit(
        &self,
        commit: SourceCommit,
    ) -> impl Future<Output = Result<Vec<JsonObject>, Reply>> + Send;

    /// One row, or `None`.
    fn load(
        &self,
        model: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<JsonObject>, Reply>> + Send;

    /// Rows matching `query` (`{where, limit}`).
    fn list(
        &self,
        model: &str,
        query: Json,
    ) -> impl Future<Output = Result<Vec<JsonObject>, Reply>> + Send;

    /// Changes made outside Ablo after `cursor`, oldest first.
    fn events(
        &self,
        _cursor: Json,
        _limit: usize,
    ) -> impl Future<Output = Result<SourceEvents, Reply>> + Send {
        async { Err(Reply::new(400, "unsupported request")) }
    }
}

/// Answers one request from the server: checks the signature with
/// `secret` (`header` looks a request header up by name), dispatches on
/// `type` and returns the HTTP status and JSON body to send back.
pub async fn handle<S: DataSource>(
    source: &S,
    secret: &str,
    header: impl Fn(&str) -> Option<String>,
    body: &[u8],
) -> (u16, Value) {
    let (id, timestamp, signature) = (
        header(WEBHOOK_ID),
        header(WEBHOOK_TIMESTAMP),
        header(WEBHOOK_SIGNATURE),
    );
    if let Err(err) = signing::verify(
        secret,
        id.as_deref(),
        timestamp.as_deref(),
        signature.as_deref(),
        body,
        signing::now_ms(),
    ) {
        return refusal(Reply::new(401, err.to_string()));
    }
    let request: SourceRequest = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(err) => return refusal(Reply::new(400, format!("unsupported request: {err}"))),
    };
    let answer = match request {
        SourceRequest::Commit(commit) => source
            .commit(commit)
            .await
            .map(|rows| json!({"rows": rows})),
        SourceRequest::Load { model, id } => source
            .load(&model, &id)
            .await
            .map(|row| json!({"row": row})),
        SourceRequest::List { model, query } => source
            .list(&model, query)
            .await
            .map(|rows| json!({"rows": rows})),
        SourceRequest::Events { cursor, limit } => source
            .events(cursor, limit)
            .await
            .map(|page| serde_json::to_value(page).expect("events serialize")),
    };
    match answer {
        Ok(body) => (200, body),
        Err(reply) => refusal(reply),
    }
}

fn refusal(reply: Reply) -> (u16, Value) {
    (reply.status, json!({"detail": reply.message}))
}

/// Pushes `events` to the server's push events URL for source `name`
/// (`{base_url}/v1/sources/{name}/events`), signed with `secret`.
///
/// ```no_run
/// # async fn run(events: Vec<ablo_runtime::wire::SourceEvent>) -> Result<(), ablo_runtime::Error> {
/// let outcome = ablo_runtime::source::push_events(
///     &reqwest::Client::new(), "http://127.0.0.1:7700", "app", "whsec_...", &events).await?;
/// println!("{} applied, {} duplicates", outcome.applied, outcome.duplicates);
/// # Ok(()) }
/// ```
pub async fn push_events(
    http: &reqwest::Client,
    base_url: &str,
    name: &str,
    secret: &str,
    events: &[SourceEvent],
) -> Result<EventsOutcome, Error> {
    let body = serde_json::to_vec(&json!({"events": events})).expect("events serialize");
    let signed = SignedHeaders::new(secret, &body, signing::now_ms());
    let mut request = http
        .post(format!(
            "{}/v1/sources/{name}/events",
            base_url.trim_end_matches('/')
        ))
        .header("content-type", "application/json")
        .body(body);
    for (header, value) in signed.pairs() {
        request = request.header(header, value);
    }
    let body = crate::client::read_response(request.send().await).await?;
    serde_json::from_slice(&body).map_err(|err| Error::invalid_response(err.to_string()))
}
