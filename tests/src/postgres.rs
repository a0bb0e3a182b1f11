//! PostgreSQL for the tests: `ABLO_TEST_POSTGRES_URL` names a role that may
//! create databases (`.ci/run` starts the machine's PostgreSQL and sets it);
//! each test gets a database of its own. Without the variable the
//! PostgreSQL tests are skipped with a printed notice.

use std::sync::atomic::{AtomicU32, Ordering};

/// The variable naming the test server.
pub const URL_VARIABLE: &str = "ABLO_TEST_POSTGRES_URL";

/// The administrative URL, or `None` (with a notice on stderr) when the
/// variable is not set.
///
/// ```
/// if let Some(url) = ablo_tests::postgres::admin_url("doc example") {
///     assert!(url.starts_with("postgres"));
/// }
/// ```
pub fn admin_url(test: &str) -> Option<String> {
    match std::env::var(URL_VARIABLE) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipped on PostgreSQL ({test}): set {URL_VARIABLE} to run it");
            None
        }
    }
}

/// Creates an empty database for one test and returns its URL; `None`
/// when PostgreSQL tests are not configured. Panics if the server refuses.
///
/// ```no_run
/// if let Some(url) = ablo_tests::postgres::fresh_database("my test") {
///     println!("{url}");
/// }
/// ```
pub fn fresh_database(test: &str) -> Option<String> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let admin = admin_url(test)?;
    let name = format!(
        "ablo_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    // The sync driver runs its own runtime; keep it off the caller's.
    let admin_for_thread = admin.clone();
    let create = format!("CREATE DATABASE {name}");
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&admin_for_thread, postgres::NoTls)
            .expect("connect to ABLO_TEST_POSTGRES_URL");
        client
            .batch_execute(&create)
            .expect("create a test database");
    })
    .join()
    .expect("creating the test database");
    Some(with_database(&admin, &name))
}

/// `url` with its database name replaced by `name`.
///
/// ```
/// let url = ablo_tests::postgres::with_database("postgres://u:p@h:5432/ablo?sslmode=disable", "t1");
/// assert_eq!(url, "postgres://u:p@h:5432/t1?sslmode=disable");
/// ```
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_end = base
        .find("://")
        .map(|i| i + 3)
        .and_then(|start| base[start..].find('/').map(|i| start + i))
        .unwrap_or(base.len());
    let mut out = format!("{}/{name}", &base[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}
