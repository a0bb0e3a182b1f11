//! The schema on the server: reading it, checking a client against it on
//! connect, and pushing one, which is always an explicit call.

use std::time::Duration;

use reqwest::Method;

use super::Client;
use super::log::Logger;
use super::retry::RetryPolicy;
use super::transport::{Request, Transport};
use crate::error::Error;
use crate::schema::{SchemaDescriptor, compatible};
use crate::wire::{SchemaPushResponse, codes};

/// How a schema push treats breaking changes.
///
/// ```
/// use ablo_runtime::client::PushOptions;
/// assert!(!PushOptions::default().allow_breaking);
/// assert!(PushOptions::allowing_breaking().allow_breaking);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PushOptions {
    /// Accept a push that would break clients of the schema the server
    /// holds (`allowBreaking=true`). Without it the server refuses such a
    /// push with [`Error::SchemaMismatch`] (`breaking_schema_change`).
    pub allow_breaking: bool,
}

impl PushOptions {
    /// Options that let a breaking change through: for a migration that is
    /// meant, once every client is ready for the new schema.
    ///
    /// ```
    /// let options = ablo_runtime::client::PushOptions::allowing_breaking();
    /// assert!(options.allow_breaking);
    /// ```
    pub fn allowing_breaking() -> Self {
        PushOptions {
            allow_breaking: true,
        }
    }
}

/// Pushes `schema` to the server at `url` with an API key
/// (`PUT /v1/schema`), without connecting a client. Capabilities may not
/// push ([`Error::Permission`], `api_key_required`); an inconsistent schema
/// is [`Error::Validation`] (`invalid_schema`); a breaking change against
/// the schema the server holds is [`Error::SchemaMismatch`]
/// (`breaking_schema_change`, its changes listed) unless `options` allow it.
///
/// ```no_run
/// use ablo_runtime::client::{PushOptions, push_schema};
/// # async fn run(schema: ablo_runtime::SchemaDescriptor) -> Result<(), ablo_runtime::Error> {
/// let pushed = push_schema("http://127.0.0.1:7700", "sk_test_123", &schema, PushOptions::default()).await?;
/// println!("schema {} ({})", pushed.hash, if pushed.changed { "changed" } else { "unchanged" });
/// # Ok(()) }
/// ```
pub async fn push_schema(
    url: &str,
    api_key: &str,
    schema: &SchemaDescriptor,
    options: PushOptions,
) -> Result<SchemaPushResponse, Error> {
    let transport = one_off_transport(url, api_key)?;
    push_with(&transport, schema, options, Duration::from_secs(30)).await
}

/// Reads the schema the server at `url` holds (`GET /v1/schema`), with an
/// API key or a capability token. [`Error::NotFound`] (`schema_not_found`)
/// when none was pushed.
///
/// ```no_run
/// # async fn run() -> Result<(), ablo_runtime::Error> {
/// let schema = ablo_runtime::client::fetch_schema("http://127.0.0.1:7700", "sk_test_123").await?;
/// println!("{} models", schema.models.len());
/// # Ok(()) }
/// ```
pub async fn fetch_schema(url: &str, api_key: &str) -> Result<SchemaDescriptor, Error> {
    let transport = one_off_transport(url, api_key)?;
    fetch_with(&transport, Duration::from_secs(30)).await
}

fn one_off_transport(url: &str, api_key: &str) -> Result<Transport, Error> {
    if api_key.trim().is_empty() {
        return Err(Error::configuration(
            "missing_api_key",
            "the API key is empty; pass an `sk_...` key",
        ));
    }
    Transport::new(
        super::builder::parse_base_url(url)?,
        api_key.to_owned(),
        RetryPolicy::default(),
        Logger::default(),
        Duration::from_secs(10),
    )
}

pub(crate) async fn push_with(
    transport: &Transport,
    schema: &SchemaDescriptor,
    options: PushOptions,
    timeout: Duration,
) -> Result<SchemaPushResponse, Error> {
    if !schema.hash_is_valid() {
        return Err(Error::configuration(
            codes::INVALID_SCHEMA,
            format!(
                "the hash of schema `{}` does not match its content; rebuild it with SchemaDescriptor::build",
                schema.name
            ),
        ));
    }
    let body = serde_json::to_value(schema).map_err(|e| {
        Error::configuration(
            codes::INVALID_SCHEMA,
            format!("schema does not serialize: {e}"),
        )
    })?;
    let mut request = Request::new(Method::PUT, &["v1", "schema"]).body(body);
    if options.allow_breaking {
        request = request.query(vec![("allowBreaking".into(), "true".into())]);
    }
    let pushed: SchemaPushResponse = transport.call(&request, timeout).await?;
    transport.log.info(format!(
        "schema `{}` {} (hash {})",
        schema.name,
        if pushed.changed {
            "pushed"
        } else {
            "unchanged"
        },
        pushed.hash
    ));
    Ok(pushed)
}

pub(crate) async fn fetch_with(
    transport: &Transport,
    timeout: Duration,
) -> Result<SchemaDescriptor, Error> {
    transport
        .call(&Request::new(Method::GET, &["v1", "schema"]), timeout)
        .await
}

/// The connect-time check: the server's schema must be the client's or an
/// additive evolution of it ([`compatible`]).
pub(crate) async fn check_against_server(
    transport: &Transport,
    schema: &SchemaDescriptor,
    timeout: Duration,
) -> Result<(), Error> {
    let server = match fetch_with(transport, timeout).await {
        Ok(server) => server,
        Err(Error::NotFound(info)) if info.code == codes::SCHEMA_NOT_FOUND => {
            return Err(Error::schema_mismatch(
                codes::SCHEMA_NOT_FOUND,
                format!(
                    "the server holds no schema yet, so schema `{}` cannot be checked; push it first (`ablo-server schema push`, `App::push_schema` or `Client::push_schema`)",
                    schema.name
                ),
                Vec::new(),
            ));
        }
        Err(other) => return Err(other),
    };
    match compatible(schema, &server) {
        Ok(()) => {
            transport.log.info(format!(
                "schema `{}` matches the server's (hash {})",
                schema.name, server.hash
            ));
            Ok(())
        }
        Err(diff) => {
            let list: Vec<String> = diff.changes.iter().map(ToString::to_string).collect();
            Err(Error::schema_mismatch(
                codes::SCHEMA_MISMATCH,
                format!(
                    "this client's schema `{}` (hash {}) does not match the server's (hash {}): {}; push the new schema or rebuild the client",
                    schema.name,
                    schema.hash,
                    server.hash,
                    list.join("; ")
                ),
                diff.changes,
            ))
        }
    }
}

impl Client {
    /// Pushes `schema` with this client's API key (`PUT /v1/schema`); see
    /// [`push_schema`] for the errors. The client keeps checking handles
    /// against the schema it connected with.
    ///
    /// ```no_run
    /// use ablo_runtime::client::{Client, PushOptions};
    /// # async fn run(schema: ablo_runtime::SchemaDescriptor) -> Result<(), ablo_runtime::Error> {
    /// let admin = Client::builder("http://127.0.0.1:7700", "sk_test_123").connect().await?;
    /// let pushed = admin.push_schema(&schema, PushOptions::default()).await?;
    /// assert!(pushed.changes.iter().all(|c| !c.breaking));
    /// # Ok(()) }
    /// ```
    pub async fn push_schema(
        &self,
        schema: &SchemaDescriptor,
        options: PushOptions,
    ) -> Result<SchemaPushResponse, Error> {
        push_with(
            &self.shared().transport,
            schema,
            options,
            self.shared().timeout,
        )
        .await
    }

    /// The schema the server holds now (`GET /v1/schema`).
    ///
    /// ```no_run
    /// # async fn run(client: ablo_runtime::client::Client) -> Result<(), ablo_runtime::Error> {
    /// let schema = client.server_schema().await?;
    /// println!("server schema {}", schema.hash);
    /// # Ok(()) }
    /// ```
    pub async fn server_schema(&self) -> Result<SchemaDescriptor, Error> {
        fetch_with(&self.shared().transport, self.shared().timeout).await
    }
}
