//! A snapshot's `rows` messages parsed on a blocking thread while the
//! socket keeps reading: at a million rows, parsing is as much work as
//! receiving, and in the read loop it would hold the socket (and so the
//! server) back for all of it.

use std::sync::mpsc;

use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::error::Error;
use crate::types::Json;

/// A `rows` message ([`crate::wire::ServerMessage::Rows`]) read on its own
/// (a tagged enum would buffer every row first).
#[derive(serde::Deserialize)]
struct RowsMessage {
    model: String,
    rows: Vec<Json>,
}

/// Rows of one model, in the order they came.
pub(super) type Page = (String, Vec<Json>);

/// The parser of one snapshot; dropping it discards what it parsed.
pub(super) struct RowsParser {
    texts: mpsc::Sender<Utf8Bytes>,
    done: tokio::task::JoinHandle<Result<Vec<Page>, String>>,
}

impl RowsParser {
    pub(super) fn start() -> RowsParser {
        let (texts, received) = mpsc::channel::<Utf8Bytes>();
        let done = tokio::task::spawn_blocking(move || {
            let mut pages = Vec::new();
            for text in received {
                let message: RowsMessage = serde_json::from_str(text.as_str())
                    .map_err(|e| format!("unreadable rows message: {e}"))?;
                pages.push((message.model, message.rows));
            }
            Ok(pages)
        });
        RowsParser { texts, done }
    }

    /// Hands over the text of a `rows` message.
    pub(super) fn push(&self, text: Utf8Bytes) {
        // A parser that stopped on an error reports it from `finish`.
        let _ = self.texts.send(text);
    }

    /// Every page, in order, once the last message is parsed.
    pub(super) async fn finish(self) -> Result<Vec<Page>, Error> {
        drop(self.texts);
        match self.done.await {
            Ok(Ok(pages)) => Ok(pages),
            Ok(Err(message)) => Err(Error::invalid_response(message)),
            Err(e) => Err(Error::invalid_response(format!(
                "the rows parser stopped: {e}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pages_come_back_in_order_and_a_bad_message_is_an_error() {
        let parser = RowsParser::start();
        parser.push(r#"{"type":"rows","model":"a","rows":[{"id":"1"}]}"#.into());
        parser.push(r#"{"type":"rows","model":"b","rows":[]}"#.into());
        let pages = parser.finish().await.unwrap();
        let models: Vec<&str> = pages.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(models, ["a", "b"]);
        let parser = RowsParser::start();
        parser.push(r#"{"type":"rows","model":"a""#.into());
        assert!(parser.finish().await.is_err());
    }
}
