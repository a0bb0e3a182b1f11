//! [`Api`]: the few HTTP calls the tools make, with the server's error
//! envelope turned into [`ablo_runtime::Error`].

use ablo_runtime::Error;
use reqwest::Method;
use serde_json::Value;

/// An authenticated connection to an Ablo server's HTTP API.
///
/// ```
/// let api = ablo_mcp::Api::new("http://127.0.0.1:7700", "sk_test_123").unwrap();
/// assert_eq!(api.base(), "http://127.0.0.1:7700");
/// ```
#[derive(Clone)]
pub struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for Api {
    /// Shows the URL, never the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Api {
    /// A connection to the server at `url` with an API key or capability
    /// token. Fails with `Error::Configuration` for an empty token or a URL
    /// that is not `http(s)://`.
    ///
    /// ```
    /// assert!(ablo_mcp::Api::new("ftp://x", "sk_test_1").is_err());
    /// assert!(ablo_mcp::Api::new("http://127.0.0.1:7700", " ").is_err());
    /// ```
    pub fn new(url: &str, token: &str) -> Result<Api, Error> {
        if token.trim().is_empty() {
            return Err(Error::configuration(
                "missing_api_key",
                "set ABLO_API_KEY to an API key or a capability token",
            ));
        }
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::configuration(
                "invalid_url",
                format!("`{url}` is not an http:// or https:// URL"),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| Error::configuration("invalid_configuration", e.to_string()))?;
        Ok(Api {
            base: url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            http,
        })
    }

    /// The server's base URL.
    ///
    /// ```
    /// let api = ablo_mcp::Api::new("http://127.0.0.1:7700/", "sk_test_1").unwrap();
    /// assert_eq!(api.base(), "http://127.0.0.1:7700");
    /// ```
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends one request: `path` below the base URL (segments already
    /// escaped), `query` pairs, an optional JSON body. Answers the JSON
    /// body of a success, or the typed error of the envelope.
    ///
    /// ```no_run
    /// # async fn run(api: ablo_mcp::Api) -> Result<(), ablo_runtime::Error> {
    /// let schema = api.send(reqwest::Method::GET, "/v1/schema", &[], None).await?;
    /// # let _ = schema; Ok(()) }
    /// ```
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<Value>,
    ) -> Result<Value, Error> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .query(query);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| Error::connection("connect_failed", e.to_string()))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Error::connection("read_failed", e.to_string()))?;
        if !(200..300).contains(&status) {
            return Err(Error::from_response(status, &bytes, retry_after.as_deref()));
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| Error::invalid_response(e.to_string()))
    }
}

/// One path segment, percent-encoded.
pub(crate) fn segment(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn segments_are_escaped() {
        assert_eq!(super::segment("t-1_a.b"), "t-1_a.b");
        assert_eq!(super::segment("a/b c"), "a%2Fb%20c");
    }
}
