//! Shared helpers of Ablo's end-to-end tests (the tests live in `tests/`).

pub mod docs;
pub mod postgres;

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

/// Serves a Data Source written with `ablo::source` on a free loopback port
/// (axum, route `/ablo`, requests verified with `secret`); returns its URL.
///
/// ```no_run
/// # async fn run<S: ablo::source::DataSource + 'static>(source: std::sync::Arc<S>) {
/// let url = ablo_tests::serve_data_source(source, "whsec_0123456789abcdef").await;
/// # let _ = url;
/// # }
/// ```
pub async fn serve_data_source<S: ablo::source::DataSource + 'static>(
    source: std::sync::Arc<S>,
    secret: &'static str,
) -> String {
    use axum::body::Bytes;
    use axum::http::HeaderMap;
    let app = axum::Router::new().route(
        "/ablo",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let source = source.clone();
            async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let (status, answer) =
                    ablo::source::handle(source.as_ref(), secret, header, &body).await;
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    axum::Json(answer),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ablo", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}
