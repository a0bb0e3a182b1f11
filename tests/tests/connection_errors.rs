//! What connecting says when there is no server: the failure (`refused`),
//! the address, and what to check, as structured fields of
//! `Error::Connection` rather than the HTTP library's text alone.

use std::time::Duration;

use ablo::client::{Client, RetryPolicy};

#[ablo::model]
pub struct Note {
    pub text: String,
}

ablo::schema! { pub struct App { notes: Note } }

/// A loopback port nothing listens on: bound, read, released.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

fn assert_refused(err: &ablo::Error, port: u16) {
    assert!(matches!(err, ablo::Error::Connection(_)), "{err:?}");
    assert_eq!(err.code(), "connect_failed");
    let details = err.info().details.clone().expect("details");
    assert_eq!(details["reason"], "refused", "{details}");
    assert_eq!(details["address"], format!("127.0.0.1:{port}"));
    assert!(
        details["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("http://127.0.0.1:{port}/")),
        "{details}"
    );
    let message = err.message();
    assert!(
        message.starts_with(&format!("connection to 127.0.0.1:{port} refused")),
        "{message}"
    );
    assert!(
        message.contains("check that the Ablo server is running"),
        "{message}"
    );
}

#[tokio::test]
async fn connecting_to_a_closed_port_says_refused_where_and_what_to_check() {
    let port = closed_port();
    let url = format!("http://127.0.0.1:{port}");
    let err = match App::connect_with(
        Client::builder(&url, "sk_test_x")
            .retry(RetryPolicy::none())
            .timeout(Duration::from_secs(5)),
    )
    .await
    {
        Ok(_) => panic!("connected to a closed port"),
        Err(err) => err,
    };
    assert_refused(&err, port);
}

#[tokio::test]
async fn pushing_to_a_closed_port_says_the_same() {
    let port = closed_port();
    let err = App::push_schema(&format!("http://127.0.0.1:{port}"), "sk_test_x")
        .await
        .unwrap_err();
    assert_refused(&err, port);
}
