//! One signed request to a Data Source, retried with exponential backoff
//! on network errors and 5xx answers; every attempt is counted in the
//! source's status.

use std::time::Duration;

use crate::error::Refusal;
use ablo_runtime::Timestamp;
use ablo_runtime::signing::{SignedHeaders, now_ms};
use ablo_runtime::wire::{ErrorType, SourceFailure, SourceRequest, codes};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::{Source, SourceContext};
use crate::error::ApiError;

/// How Data Source requests are retried.
///
/// ```
/// let retry = ablo_server::SourceRetry::default();
/// assert_eq!(retry.attempts, 4);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceRetry {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// Wait before the second attempt; doubled each time.
    pub initial_delay: Duration,
    /// Longest wait between attempts.
    pub max_delay: Duration,
    /// Time limit of one attempt.
    pub timeout: Duration,
}

impl Default for SourceRetry {
    fn default() -> Self {
        SourceRetry {
            attempts: 4,
            initial_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Why a Data Source request failed, after retries.
#[derive(Debug)]
pub(crate) enum SourceError {
    /// The source answered 4xx: it refused the request.
    Rejected {
        status: u16,
        body: serde_json::Value,
    },
    /// Network errors or 5xx on every attempt.
    Unavailable(String),
    /// A 2xx answer of the wrong shape.
    InvalidResponse(String),
}

impl SourceError {
    /// The error a client of the server gets.
    pub(crate) fn into_api_error(self, source: &str) -> ApiError {
        match self {
            SourceError::Rejected { status, body } => ApiError::unprocessable(
                codes::SOURCE_REJECTED,
                match reason(&body) {
                    Some(reason) => {
                        format!(
                            "Data Source `{source}` refused the request (HTTP {status}): {reason}"
                        )
                    }
                    None => format!("Data Source `{source}` refused the request (HTTP {status})"),
                },
            )
            .with_details(json!({"source": source, "status": status, "body": body})),
            SourceError::Unavailable(message) => ApiError::new(
                ErrorType::Server,
                Refusal::SourceFailed,
                codes::SOURCE_UNAVAILABLE,
                format!("Data Source `{source}` is unavailable: {message}"),
            )
            .with_details(json!({"source": source})),
            SourceError::InvalidResponse(message) => ApiError::new(
                ErrorType::Server,
                Refusal::SourceFailed,
                codes::SOURCE_INVALID_RESPONSE,
                format!("Data Source `{source}` answered with an invalid body: {message}"),
            )
            .with_details(json!({"source": source})),
        }
    }
}

/// The reason in a refusal's body: `detail` (FastAPI's shape, the seed's
/// Python route) or `message`, when it is a string.
fn reason(body: &serde_json::Value) -> Option<&str> {
    body.get("detail")
        .or_else(|| body.get("message"))
        .and_then(serde_json::Value::as_str)
}

/// [`send`] with the server's retry settings, failing with the error the
/// server's caller gets.
pub(crate) async fn ask<T: DeserializeOwned>(
    cx: &SourceContext,
    source: &Source,
    request: &SourceRequest,
) -> Result<T, ApiError> {
    let answer = send(&cx.http, &cx.retry, source, request).await;
    let result = if answer.is_ok() { "ok" } else { "error" };
    cx.calls
        .with_label_values(&[source.name.as_str(), result])
        .inc();
    answer.map_err(|err| err.into_api_error(&source.name))
}

/// Sends `request` to `source`, signed, and reads the answer as `T`.
pub(crate) async fn send<T: DeserializeOwned>(
    http: &reqwest::Client,
    retry: &SourceRetry,
    source: &Source,
    request: &SourceRequest,
) -> Result<T, SourceError> {
    let kind = request_kind(request);
    let body = serde_json::to_vec(request).expect("requests serialize");
    let record = source.record();
    let mut delay = retry.initial_delay;
    let mut last_problem = String::new();
    for attempt in 1..=retry.attempts.max(1) {
        if attempt > 1 {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(retry.max_delay);
        }
        let signed = SignedHeaders::new(&record.secret, &body, now_ms());
        let mut call = http
            .post(&record.url)
            .timeout(retry.timeout)
            .header("content-type", "application/json")
            .body(body.clone());
        for (name, value) in signed.pairs() {
            call = call.header(name, value);
        }
        let answer = match call.send().await {
            Ok(response) => response,
            Err(err) => {
                last_problem = format!("request failed: {}", plain_error(&err));
                source.record_attempt(Err(failure(kind, &last_problem)));
                continue;
            }
        };
        let status = answer.status();
        let text = match read_limited(answer, MAX_RESPONSE_BYTES).await {
            Ok(text) => text,
            Err(problem) => {
                source.record_attempt(Err(failure(kind, &problem)));
                return Err(SourceError::InvalidResponse(problem));
            }
        };
        if status.is_server_error() {
            last_problem = format!("HTTP {}", status.as_u16());
            source.record_attempt(Err(failure(kind, &format!("{last_problem}: {text}"))));
            continue;
        }
        if !status.is_success() {
            let message = format!("HTTP {}: {text}", status.as_u16());
            source.record_attempt(Err(failure(kind, &message)));
            let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
            return Err(SourceError::Rejected {
                status: status.as_u16(),
                body,
            });
        }
        return match serde_json::from_str::<T>(&text) {
            Ok(value) => {
                source.record_attempt(Ok(()));
                Ok(value)
            }
            Err(err) => {
                let message = format!("`{kind}` answer: {err}");
                source.record_attempt(Err(failure(kind, &message)));
                Err(SourceError::InvalidResponse(message))
            }
        };
    }
    Err(SourceError::Unavailable(format!(
        "{last_problem} ({} attempts)",
        retry.attempts.max(1)
    )))
}

/// The largest answer a source may send (16 MiB): a bigger one is refused
/// with `source_invalid_response` before it is all read.
pub(crate) const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

async fn read_limited(mut answer: reqwest::Response, limit: usize) -> Result<String, String> {
    if answer.content_length().is_some_and(|n| n > limit as u64) {
        return Err(format!("the answer is larger than {limit} bytes"));
    }
    let mut body = Vec::new();
    loop {
        match answer.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(format!("the answer is larger than {limit} bytes"));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(err) => return Err(format!("reading the answer failed: {}", plain_error(&err))),
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

fn request_kind(request: &SourceRequest) -> &'static str {
    match request {
        SourceRequest::Commit(_) => "commit",
        SourceRequest::Load { .. } => "load",
        SourceRequest::List { .. } => "list",
        SourceRequest::Events { .. } => "events",
    }
}

fn failure(kind: &str, message: &str) -> SourceFailure {
    SourceFailure {
        at: Timestamp::now(),
        request: kind.to_owned(),
        message: message.to_owned(),
    }
}

/// A reqwest error with its causes.
fn plain_error(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut cause = std::error::Error::source(err);
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}
