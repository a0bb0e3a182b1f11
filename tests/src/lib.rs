//! Shared helpers of Ablo's end-to-end tests (the tests live in `tests/`).

pub mod docs;

/// Pushes `schema` to the server at `url` with an API key, as a deployment
/// would before any client connects (connecting never pushes), and panics
/// if the server refuses it.
///
/// ```no_run
/// # async fn run(url: &str, schema: ablo::prelude::SchemaDescriptor) {
/// ablo_tests::push_schema(url, "sk_test_...", &schema).await;
/// # }
/// ```
pub async fn push_schema(url: &str, api_key: &str, schema: &ablo::prelude::SchemaDescriptor) {
    ablo::client::push_schema(url, api_key, schema, Default::default())
        .await
        .expect("the server accepts the schema");
}
