//! The agent of the React task board (`examples/react-tasks`).
//!
//! Connects to a running server with a capability (or an API key), finds a
//! task by its title, takes an `update` intent on it (the board shows
//! "agent is editing" in every open page), works for a moment, then marks
//! the task done with a write guarded by the snapshot it took, and releases
//! the intent.
//!
//! ```sh
//! ABLO_URL=http://127.0.0.1:7700 ABLO_TOKEN=cap_... TASK_TITLE="Write docs" cargo run -p board-agent
//! ```
//!
//! `HOLD_MS` (default 1500) is how long the agent works under its intent.

use std::time::Duration;

use ablo::client::{Client, Query};
use ablo::wire::Target;

/// Where a task stands (the board's `Status`).
#[derive(ablo::Enum)]
pub enum Status {
    Todo,
    Doing,
    Done,
}

/// A task of the board: the same model as `ts/client/test/fixtures/board.rs`.
#[ablo::model(sync_groups = ["team:{team}"])]
pub struct Task {
    pub title: String,
    pub status: Status,
    pub summary: Option<String>,
    pub team: Option<String>,
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = env("ABLO_URL")?;
    let token = env("ABLO_TOKEN")?;
    let title = env("TASK_TITLE")?;
    let hold = Duration::from_millis(
        env("HOLD_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1500),
    );

    let client = Client::builder(url, token).connect().await?;
    client.ready().await?;
    let tasks = client.model::<Task>();
    let found = tasks.load(Query::new().where_eq("title", &title)).await?;
    let task = found
        .into_iter()
        .next()
        .ok_or_else(|| format!("no task titled {title:?}"))?;

    let intent = client
        .intents()
        .create(Target::from(&task.id))
        .action("update")
        .await?;
    println!("intent {} on {}", intent.id(), task.id);
    tokio::time::sleep(hold).await;

    let stamp = tasks.snapshot(task.id.clone());
    let done = tasks
        .update(
            task.id.clone(),
            TaskPatch::new()
                .status(Status::Done)
                .summary("checked by the agent"),
        )
        .read_at(stamp)
        .await?;
    intent.release().await?;
    println!("done {} at stamp {}", done.id, done.stamp);
    client.dispose().await;
    Ok(())
}
