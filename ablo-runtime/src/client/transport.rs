//! HTTP transport: one place that builds URLs, authenticates, sends, retries
//! transient failures and turns error answers into [`Error`]s.

use std::time::Duration;

use reqwest::{Method, Url};
use serde::de::DeserializeOwned;

use super::log::Logger;
use super::retry::RetryPolicy;
use crate::error::{Error, ErrorInfo};
use crate::types::Json;

/// One HTTP request, kept whole so it can be sent again unchanged.
pub(crate) struct Request {
    pub method: Method,
    pub segments: Vec<String>,
    pub query: Vec<(String, String)>,
    pub body: Option<Json>,
    pub idempotency_key: Option<String>,
}

impl Request {
    pub(crate) fn new(method: Method, segments: &[&str]) -> Self {
        Request {
            method,
            segments: segments.iter().map(|s| (*s).to_owned()).collect(),
            query: Vec::new(),
            body: None,
            idempotency_key: None,
        }
    }

    pub(crate) fn query(mut self, params: Vec<(String, String)>) -> Self {
        self.query = params;
        self
    }

    pub(crate) fn body(mut self, body: Json) -> Self {
        self.body = Some(body);
        self
    }
}

pub(crate) struct Transport {
    base: Url,
    api_key: String,
    http: reqwest::Client,
    pub(crate) retry: RetryPolicy,
    pub(crate) log: Logger,
}

impl Transport {
    pub(crate) fn new(
        base: Url,
        api_key: String,
        retry: RetryPolicy,
        log: Logger,
        connect_timeout: Duration,
    ) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .user_agent(concat!("ablo-rust/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                Error::configuration("http_client", format!("cannot build the HTTP client: {e}"))
            })?;
        Ok(Transport {
            base,
            api_key,
            http,
            retry,
            log,
        })
    }

    pub(crate) fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The URL of `segments` under the base URL, each segment escaped.
    pub(crate) fn url(&self, segments: &[String]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Sends `request`, retrying transient failures under the retry policy,
    /// all within `deadline`; decodes the answer as `T`.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        request: &Request,
        deadline: Duration,
    ) -> Result<T, Error> {
        let attempts = async {
            let mut retry = 1;
            loop {
                match self.send_once(request, deadline).await {
                    Ok(body) => return Ok(body),
                    Err(error) => match self.retry.delay_after(retry, &error) {
                        Some(delay) => {
                            self.log.warn(format!(
                                "{} {} failed ({error}); retry {retry} in {delay:?}",
                                request.method,
                                request.segments.join("/")
                            ));
                            tokio::time::sleep(delay).await;
                            retry += 1;
                        }
                        None => return Err(error),
                    },
                }
            }
        };
        let body = tokio::time::timeout(deadline, attempts)
            .await
            .map_err(|_| {
                Error::connection(
                    "timeout",
                    format!(
                        "{} {} got no answer within {deadline:?}",
                        request.method,
                        request.segments.join("/")
                    ),
                )
            })??;
        serde_json::from_slice(&body).map_err(|e| {
            Error::invalid_response(format!(
                "cannot read the answer to {} {}: {e}",
                request.method,
                request.segments.join("/")
            ))
        })
    }

    async fn send_once(&self, request: &Request, timeout: Duration) -> Result<Vec<u8>, Error> {
        let url = self.url(&request.segments);
        let mut builder = self
            .http
            .request(request.method.clone(), url.clone())
            .bearer_auth(&self.api_key)
            .timeout(timeout);
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        if let Some(key) = &request.idempotency_key {
            builder = builder.header(crate::wire::IDEMPOTENCY_KEY_HEADER, key);
        }
        self.log.debug(format!("{} {url}", request.method));
        read_response(builder.send().await).await
    }
}

/// The body of a 2xx answer; any other answer as the error its envelope
/// describes, and no answer as a connection error.
pub(crate) async fn read_response(
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<Vec<u8>, Error> {
    let response = sent.map_err(transport_error)?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.bytes().await.map_err(transport_error)?;
    if (200..300).contains(&status) {
        Ok(body.to_vec())
    } else {
        Err(Error::from_response(status, &body, retry_after.as_deref()))
    }
}

/// A failure below HTTP: no answer at all. The error says what failed
/// (`details.reason`: `refused`, `timed_out`, `dns`, `tls` or `other`), at
/// which address (`details.address`, `details.url`) and what to check.
fn transport_error(error: reqwest::Error) -> Error {
    let code = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect_failed"
    } else {
        "connection_lost"
    };
    let url = error.url().map(|u| u.to_string());
    let address = error.url().map(|u| {
        let host = u.host_str().unwrap_or("?");
        match u.port_or_known_default() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    });
    let reason = failure_reason(&error);
    let address_text = address.as_deref().unwrap_or("the server");
    let (what, check) = match reason {
        "refused" => (
            format!("connection to {address_text} refused"),
            "nothing listens there: check that the Ablo server is running (`ablo-server serve --addr ...`) and that the URL's host and port are the ones it listens on",
        ),
        "timed_out" => (
            format!("no answer from {address_text} in time"),
            "check that the host is reachable from here (firewall, VPN, proxy) and that the server is not overloaded; the client's `.timeout(..)` sets the limit",
        ),
        "dns" => (
            format!("the host of {address_text} could not be resolved"),
            "check the spelling of the URL's host name and this machine's DNS",
        ),
        "tls" => (
            format!("the TLS handshake with {address_text} failed"),
            "check the URL's scheme (`http://` for a server without TLS) and the server's certificate",
        ),
        _ if code == "connection_lost" => (
            format!("the connection to {address_text} broke before an answer"),
            "check the server's log and any proxy in between; the client retries transient failures",
        ),
        _ => (
            format!("could not reach {address_text}"),
            "check the URL and that the server is running",
        ),
    };
    let mut info = ErrorInfo::new(
        code,
        format!(
            "{what} ({error_chain}); {check}",
            error_chain = chain(&error)
        ),
    );
    info.details = Some(serde_json::json!({
        "reason": reason,
        "address": address,
        "url": url,
    }));
    Error::Connection(Box::new(info))
}

/// What failed under a request: `refused`, `timed_out`, `dns`, `tls` or
/// `other`, read from the error's source chain (io error kinds where they
/// exist, the connector's wording for DNS and TLS).
fn failure_reason(error: &reqwest::Error) -> &'static str {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut text = String::new();
    while let Some(current) = source {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return "refused",
                std::io::ErrorKind::TimedOut => return "timed_out",
                _ => {}
            }
        }
        text.push_str(&current.to_string().to_lowercase());
        text.push(' ');
        source = current.source();
    }
    if error.is_timeout() {
        "timed_out"
    } else if text.contains("dns error") || text.contains("failed to lookup address") {
        "dns"
    } else if text.contains("tls") || text.contains("certificate") || text.contains("ssl") {
        "tls"
    } else if text.contains("connection refused") {
        "refused"
    } else {
        "other"
    }
}

/// The error and its sources, joined with `: `.
fn chain(error: &reqwest::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = std::error::Error::source(error);
    while let Some(current) = source {
        let text = current.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = current.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(base: &str) -> Transport {
        Transport::new(
            Url::parse(base).unwrap(),
            "sk_test_x".into(),
            RetryPolicy::none(),
            Logger::default(),
            Duration::from_secs(1),
        )
        .unwrap()
    }

    #[test]
    fn urls_escape_segments_and_keep_a_base_path() {
        let t = transport("http://localhost:7700");
        let url = t.url(&["v1".into(), "models".into(), "tasks".into(), "a/b c".into()]);
        assert_eq!(
            url.as_str(),
            "http://localhost:7700/v1/models/tasks/a%2Fb%20c"
        );
        let t = transport("http://localhost:7700/ablo/");
        let url = t.url(&["v1".into(), "health".into()]);
        assert_eq!(url.as_str(), "http://localhost:7700/ablo/v1/health");
    }

    #[tokio::test]
    async fn an_unreachable_server_is_a_connection_error() {
        // A port that was just free: nothing listens, so the connection is
        // refused, which maps to `connect_failed`.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let t = transport(&format!("http://127.0.0.1:{port}"));
        let err = t
            .call::<Json>(
                &Request::new(Method::GET, &["v1", "health"]),
                Duration::from_secs(5),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Connection(_)), "{err:?}");
        assert_eq!(err.code(), "connect_failed");
        let details = err.info().details.clone().expect("details");
        assert_eq!(details["reason"], "refused");
        assert_eq!(details["address"], format!("127.0.0.1:{port}"));
        assert!(
            err.message().contains(&format!("127.0.0.1:{port}")),
            "{}",
            err.message()
        );
        assert!(
            err.message().contains("ablo-server serve"),
            "{}",
            err.message()
        );
    }
}
