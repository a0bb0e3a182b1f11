//! Configuring Data Sources from a client holding an API key:
//! [`Client::sources`](super::Client::sources).

use std::sync::Arc;

use reqwest::Method;

use super::Shared;
use super::transport::Request;
use crate::error::Error;
use crate::wire::{SourceConfig, SourceInfo, SourceStatus};

/// `PUT /v1/sources/{name}` and `GET /v1/sources/{name}/status`.
///
/// ```no_run
/// # async fn run(client: ablo_runtime::client::Client) -> Result<(), ablo_runtime::Error> {
/// use ablo_runtime::wire::SourceConfig;
/// let info = client.sources().configure("app", &SourceConfig {
///     url: "https://api.example.com/api/ablo/source".into(),
///     models: vec!["tasks".into()],
///     signing_secret: None,
/// }).await?;
/// println!("store {} as ABLO_DATA_SOURCE_SIGNING_SECRET", info.signing_secret);
/// let status = client.sources().status("app").await?;
/// println!("{} requests, {} failed", status.attempts, status.failures);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Sources {
    pub(crate) shared: Arc<Shared>,
}

impl Sources {
    /// Creates or changes the Data Source `name` (needs an API key).
    pub async fn configure(&self, name: &str, config: &SourceConfig) -> Result<SourceInfo, Error> {
        let body = serde_json::to_value(config)
            .map_err(|e| Error::validation("invalid_source", e.to_string()))?;
        let request = Request::new(Method::PUT, &["v1", "sources", name]).body(body);
        self.shared
            .transport
            .call(&request, self.shared.timeout)
            .await
    }

    /// The status of the Data Source `name` (needs an API key).
    pub async fn status(&self, name: &str) -> Result<SourceStatus, Error> {
        let request = Request::new(Method::GET, &["v1", "sources", name, "status"]);
        self.shared
            .transport
            .call(&request, self.shared.timeout)
            .await
    }
}
