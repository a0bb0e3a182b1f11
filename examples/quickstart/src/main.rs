//! The Ablo quickstart: weather reports.
//!
//! Starts a sync server inside this process (temporary data directory, free
//! port), connects a client, creates a report, updates it guarded by a
//! snapshot stamp, and shows a second writer's stale update rejected with
//! `stale_context` and retried from the row the error carries.
//!
//! ```sh
//! cargo run -p quickstart
//! ```
//!
//! Against a server you started yourself (`ablo-server serve`), push the
//! schema once (`App::push_schema` or `ablo-server schema push`) and connect
//! the same way with its URL and API key.

use std::fmt::Write as _;

use ablo::client::{Client, Query, RowChange};
use ablo::prelude::*;
use futures::StreamExt;

/// Weather conditions at observation time.
#[derive(ablo::Enum)]
pub enum Conditions {
    Sunny,
    Cloudy,
    Rain,
    Snow,
    Storm,
}

/// One observation of the weather in a city.
#[ablo::model]
pub struct WeatherReport {
    pub city: String,
    /// Degrees Celsius.
    pub temperature: f64,
    pub conditions: Conditions,
    pub notes: Option<String>,
    pub observed_at: Timestamp,
}

ablo::schema! {
    pub struct App {
        weather_reports: WeatherReport,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let transcript = run().await?;
    print!("{transcript}");
    Ok(())
}

/// Runs the whole walk-through and returns what it printed.
async fn run() -> Result<String, Box<dyn std::error::Error>> {
    let mut out = String::new();

    // 1. A server in this process: temporary directory, free port, a fresh
    //    API key.
    let data = tempfile::tempdir()?;
    let config = ablo_server::ServerConfig::new(data.path()).with_addr("127.0.0.1:0".parse()?);
    let server = ablo_server::start(config).await?;
    let api_key = server
        .api_key()
        .expect("a new server creates a key")
        .to_owned();
    writeln!(out, "1. server listening on {}", server.url())?;

    // 2. Push the schema (an explicit step, once per deploy; the server
    //    enforces it), then connect: connecting checks that the server's
    //    schema matches this client's and never pushes.
    App::push_schema(server.url(), &api_key).await?;
    let station = App::connect(server.url(), &api_key).await?;
    station.ready().await?;
    let reports = station.weather_reports();
    writeln!(
        out,
        "2. connected; schema hash {}",
        &App::descriptor().hash[..12]
    )?;

    // 3. Create a report; the server stamps it with a sync id.
    let created = reports
        .create(WeatherReport {
            city: "Berlin".into(),
            temperature: 18.5,
            conditions: Conditions::Cloudy,
            notes: None,
            observed_at: Timestamp::now(),
        })
        .await?;
    writeln!(
        out,
        "3. created report {} for {}: {} °C, {:?} (stamp {})",
        created.id, created.city, created.temperature, created.conditions, created.stamp
    )?;

    // 4. Update it, guarded: take a snapshot stamp of what this client
    //    holds, and write with `read_at`, so the write fails instead of
    //    overwriting a change this client has not seen.
    let stamp = station.snapshot([&created]);
    let updated = reports
        .update(
            created.id.clone(),
            WeatherReportPatch::new()
                .temperature(21.0)
                .conditions(Conditions::Sunny)
                .notes("clouds cleared at noon"),
        )
        .read_at(stamp)
        .await?;
    writeln!(
        out,
        "4. updated at snapshot {stamp}: {} °C, {:?}, notes {:?} (stamp {})",
        updated.temperature, updated.conditions, updated.notes, updated.stamp
    )?;

    // 5. A second writer read the report before that update and now writes
    //    from its stale read: the server rejects it with `stale_context`
    //    and sends the current row along.
    let field_agent = App::connect_with(
        Client::builder(server.url(), &api_key).timeout(std::time::Duration::from_secs(5)),
    )
    .await?;
    let stale_write = field_agent
        .weather_reports()
        .update(
            created.id.clone(),
            WeatherReportPatch::new().conditions(Conditions::Rain),
        )
        .read_at(created.stamp)
        .await;
    let error = stale_write.expect_err("a write from a stale read is rejected");
    let current: Row<WeatherReport> = error.current_row().expect("stale errors carry the row");
    writeln!(
        out,
        "5. second writer rejected: {} ({}); current row is {:?} at stamp {}",
        error.code(),
        error.message(),
        current.conditions,
        current.stamp
    )?;
    if !matches!(error, ablo::Error::StaleContext { .. }) {
        return Err(format!("expected stale_context, got {error}").into());
    }

    // The first client watches Berlin's reports from here on.
    let mut berlin = reports.watch(Query::new().where_eq("city", "Berlin"));
    let first = berlin.next().await;
    if !matches!(first, Some(RowChange::Inserted(_))) {
        return Err("a watch starts with the rows that match".into());
    }

    // 6. The second writer looks at the current row, decides, and retries
    //    from its stamp.
    let retried = field_agent
        .weather_reports()
        .update(
            created.id.clone(),
            WeatherReportPatch::new()
                .conditions(Conditions::Rain)
                .notes("shower at 14:05"),
        )
        .read_at(current.stamp)
        .await?;
    writeln!(
        out,
        "6. second writer retried from stamp {}: {:?}, notes {:?} (stamp {})",
        current.stamp, retried.conditions, retried.notes, retried.stamp
    )?;

    // 7. The first client's watch reports the second writer's change live.
    let change = tokio::time::timeout(std::time::Duration::from_secs(5), berlin.next()).await;
    let Ok(Some(RowChange::Updated(live))) = change else {
        return Err("the live stream did not deliver the second writer's update".into());
    };
    writeln!(
        out,
        "7. first client sees it live: {:?}, notes {:?} (stamp {}, cursor {})",
        live.conditions,
        live.notes,
        live.stamp,
        station.cursor()
    )?;

    station.dispose().await;
    field_agent.dispose().await;
    server.shutdown().await?;
    writeln!(out, "done")?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_walk_through_runs_and_shows_every_step() {
        let transcript = super::run().await.expect("quickstart runs");
        for step in ["1. ", "2. ", "3. ", "4. ", "5. ", "6. ", "7. ", "done"] {
            assert!(
                transcript.contains(step),
                "missing {step:?} in:\n{transcript}"
            );
        }
        assert!(
            transcript.contains("second writer rejected: stale_context"),
            "{transcript}"
        );
        assert!(transcript.contains("Rain"), "{transcript}");
    }
}
