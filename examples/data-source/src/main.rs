//! A Data Source: your app's own table stays canonical, Ablo coordinates
//! the writes to it.
//!
//! Starts, in this process, a sync server and a small "existing app" whose
//! invoices live in its own table, served as a Data Source with
//! `ablo::source`. A client writes through Ablo: the server checks the
//! write, calls the app with a signed request and fans out the row the app
//! stored. Then the app changes an invoice itself and pushes the event, and
//! a second client sees it live.
//!
//! ```sh
//! cargo run -p data-source
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ablo::client::{Query, RowChange};
use ablo::source::{DataSource, Reply, handle, push_events};
use ablo::wire::{JsonObject, SourceCommit, SourceConfig, SourceEvent};
use futures::StreamExt;
use serde_json::{Value, json};

/// An invoice of the existing billing app.
#[ablo::model]
pub struct Invoice {
    pub customer: String,
    /// Amount in cents.
    pub amount: i64,
    pub status: InvoiceStatus,
}

/// Where an invoice stands.
#[derive(ablo::Enum)]
pub enum InvoiceStatus {
    Draft,
    Sent,
    Paid,
}

ablo::schema! { pub struct Billing { invoices: Invoice } }

/// The billing app's own table, and the commits it applied (by
/// `clientTxId`, so a retried commit is applied once).
#[derive(Default)]
struct BillingTable {
    rows: Mutex<BTreeMap<String, JsonObject>>,
    applied: Mutex<BTreeMap<String, Vec<JsonObject>>>,
}

impl DataSource for BillingTable {
    async fn commit(&self, commit: SourceCommit) -> Result<Vec<JsonObject>, Reply> {
        let mut applied = self.applied.lock().expect("applied");
        if let Some(rows) = applied.get(&commit.client_tx_id) {
            return Ok(rows.clone());
        }
        let mut rows = self.rows.lock().expect("rows");
        let mut written = Vec::new();
        for op in &commit.operations {
            if op
                .input
                .get("amount")
                .and_then(Value::as_i64)
                .is_some_and(|a| a < 0)
            {
                return Err(Reply::new(422, "an invoice amount cannot be negative"));
            }
            if op.kind == "DELETE" {
                rows.remove(&op.id);
                continue;
            }
            let row = rows.entry(op.id.clone()).or_default();
            row.extend(op.input.clone());
            row.insert("id".into(), json!(op.id));
            written.push(row.clone());
        }
        applied.insert(commit.client_tx_id, written.clone());
        Ok(written)
    }

    async fn load(&self, _model: &str, id: &str) -> Result<Option<JsonObject>, Reply> {
        Ok(self.rows.lock().expect("rows").get(id).cloned())
    }

    async fn list(&self, _model: &str, _query: Value) -> Result<Vec<JsonObject>, Reply> {
        Ok(self.rows.lock().expect("rows").values().cloned().collect())
    }
}

/// Serves `table` as a Data Source on a free port; returns its URL.
async fn serve_billing_app(
    table: Arc<BillingTable>,
    secret: String,
) -> Result<String, Box<dyn std::error::Error>> {
    let route = move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
        let (table, secret) = (table.clone(), secret.clone());
        async move {
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let (status, answer) = handle(table.as_ref(), &secret, header, &body).await;
            let status = axum::http::StatusCode::from_u16(status)
                .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
            (status, axum::Json(answer))
        }
    };
    let app = axum::Router::new().route("/api/ablo/source", axum::routing::post(route));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/api/ablo/source", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    print!("{}", run().await?);
    Ok(())
}

/// Runs the walk-through and returns what it printed.
async fn run() -> Result<String, Box<dyn std::error::Error>> {
    let mut out = String::new();

    // 1. The sync server, and a signing secret shared with the app.
    let data = tempfile::tempdir()?;
    let config = ablo_server::ServerConfig::new(data.path()).with_addr("127.0.0.1:0".parse()?);
    let server = ablo_server::start(config).await?;
    let api_key = server
        .api_key()
        .expect("a new server creates a key")
        .to_owned();
    let secret = ablo::signing::new_secret();
    writeln!(out, "1. server on {}", server.url())?;

    // 2. The existing app, serving its table as a Data Source.
    let table = Arc::new(BillingTable::default());
    let source_url = serve_billing_app(table.clone(), secret.clone()).await?;
    writeln!(out, "2. billing app on {source_url}")?;

    // 3. Connect (this pushes the schema), then back `invoices` by the app.
    Billing::push_schema(server.url(), &api_key).await?;
    let billing = Billing::connect(server.url(), &api_key).await?;
    billing.ready().await?;
    let configured = billing
        .sources()
        .configure(
            "billing",
            &SourceConfig {
                url: source_url,
                models: vec!["invoices".into()],
                signing_secret: Some(secret.clone()),
            },
        )
        .await?;
    writeln!(
        out,
        "3. invoices backed by Data Source `{}`",
        configured.name
    )?;

    // 4. A second client watches invoices live.
    let watcher = Billing::connect(server.url(), &api_key).await?;
    watcher.ready().await?;
    let mut changes = watcher.invoices().watch(Query::new());
    writeln!(out, "4. a second client watches invoices")?;

    // 5. Write through Ablo: the app stores the row, Ablo stamps it.
    let invoices = billing.invoices();
    let invoice = invoices
        .create(Invoice {
            customer: "Acme GmbH".into(),
            amount: 120_000,
            status: InvoiceStatus::Draft,
        })
        .await?;
    let stored = table.rows.lock().expect("rows")[invoice.id.as_str()].clone();
    writeln!(
        out,
        "5. created {} (stamp {}); in the app's table: {}",
        invoice.id,
        invoice.stamp,
        Value::Object(stored)
    )?;

    // 6. The app refuses what its own rules refuse; the caller gets it typed.
    let refused = invoices
        .update(invoice.id.clone(), InvoicePatch::new().amount(-5))
        .await
        .expect_err("the app refuses a negative amount");
    writeln!(
        out,
        "6. refused by the app: {} ({})",
        refused.code(),
        refused.message()
    )?;

    // 7. The app marks the invoice paid itself (a payment webhook, say) and
    //    pushes the change, signed; the watcher sees it.
    let mut row = table.rows.lock().expect("rows")[invoice.id.as_str()].clone();
    row.insert("status".into(), json!("paid"));
    table
        .rows
        .lock()
        .expect("rows")
        .insert(invoice.id.to_string(), row.clone());
    let event = SourceEvent {
        id: "evt_payment_1".into(),
        model: "invoices".into(),
        entity_id: invoice.id.to_string(),
        kind: "update".into(),
        data: Value::Object(row),
        organization_id: None,
        client_tx_id: None,
        occurred_at: Some(ablo::signing::now_ms()),
    };
    let http = reqwest::Client::new();
    let outcome = push_events(&http, &server.url(), "billing", &secret, &[event]).await?;
    writeln!(out, "7. pushed the payment: {} applied", outcome.applied)?;
    loop {
        let change = tokio::time::timeout(Duration::from_secs(10), changes.next())
            .await?
            .ok_or("the watch ended")?;
        if let RowChange::Updated(row) | RowChange::Inserted(row) = change
            && row.status == InvoiceStatus::Paid
        {
            writeln!(out, "   watcher sees {} as {:?}", row.id, row.status)?;
            break;
        }
    }

    server.shutdown().await?;
    writeln!(out, "done")?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_walk_through_runs_and_shows_every_step() {
        let transcript = super::run().await.expect("the example runs");
        for step in ["1. ", "2. ", "3. ", "4. ", "5. ", "6. ", "7. ", "done"] {
            assert!(
                transcript.contains(step),
                "missing {step:?} in:\n{transcript}"
            );
        }
        assert!(
            transcript.contains("refused by the app: source_rejected")
                && transcript.contains("an invoice amount cannot be negative"),
            "{transcript}"
        );
        assert!(transcript.contains("as Paid"), "{transcript}");
    }
}
