//! Ablo inside an AI tool.
//!
//! The model loop belongs to your AI framework; Ablo is the state boundary
//! inside the tool. The `update_task` tool here follows the seed's flow:
//! load the task, wait if someone is working on it, snapshot, claim it,
//! write with a stale guard and a confirmed wait, and release the claim
//! whatever happens. A scripted stand-in plays the model, so the example
//! runs offline; swap [`ScriptedModel`] for a real model client.
//!
//! ```sh
//! cargo run -p ai-tool
//! ```

use std::fmt::Write as _;
use std::time::Duration;

use ablo::client::{Client, OnStale, Wait};
use ablo::wire::Target;

/// Where a task stands.
#[derive(ablo::Enum)]
pub enum Status {
    Todo,
    Doing,
    Done,
}

/// A task the assistant may update.
#[ablo::model]
pub struct Task {
    pub title: String,
    pub status: Status,
    pub summary: Option<String>,
}

ablo::schema! {
    pub struct App {
        tasks: Task,
    }
}

/// The arguments of the `update_task` tool, as a model would send them.
#[derive(Clone, Debug)]
pub struct UpdateTask {
    pub task_id: String,
    pub status: Option<Status>,
    pub summary: Option<String>,
}

/// What the tool answers to the model.
#[derive(Debug, PartialEq)]
pub enum ToolResult {
    /// The task as written.
    Updated {
        status: Status,
        summary: Option<String>,
    },
    /// No such task.
    NotFound,
    /// The write was refused (for example the row changed under the tool).
    Refused { code: String },
}

/// The tool: load, wait if busy, snapshot, claim, guarded confirmed
/// update, release.
pub async fn update_task(client: &Client, args: UpdateTask) -> Result<ToolResult, ablo::Error> {
    client.ready().await?;
    let tasks = client.model::<Task>();
    let id = ablo::types::Id::<Task>::new(args.task_id.clone());
    let loaded = match tasks.retrieve(id.clone()).await {
        Ok(loaded) => loaded,
        Err(ablo::Error::NotFound(_)) => return Ok(ToolResult::NotFound),
        Err(other) => return Err(other),
    };
    let task = loaded.data;
    let target = Target::from(&id);
    if !client.intents().list(target.clone()).is_empty() {
        client
            .intents()
            .wait_for(target, Duration::from_secs(30))
            .await?;
    }
    // The stamp of the read: a change after it makes the write stale.
    let snapshot = loaded.stamp;
    tasks
        .claim_with(id.clone(), |_fresh| async {
            let mut patch = TaskPatch::new().status(args.status.unwrap_or(task.data.status));
            if let Some(summary) = args.summary.clone() {
                patch = patch.summary(summary);
            }
            let written = tasks
                .update(id.clone(), patch)
                .read_at(snapshot)
                .on_stale(OnStale::Reject)
                .wait(Wait::Confirmed)
                .await;
            match written {
                Ok(row) => Ok(ToolResult::Updated {
                    status: row.data.status,
                    summary: row.data.summary,
                }),
                Err(
                    error @ (ablo::Error::StaleContext { .. } | ablo::Error::EntityClaimed { .. }),
                ) => Ok(ToolResult::Refused {
                    code: error.code().to_owned(),
                }),
                Err(other) => Err(other),
            }
        })
        .await
}

/// A stand-in for the model: it asks for one tool call, then answers with
/// text built from the tool's result.
pub struct ScriptedModel {
    task_id: String,
}

impl ScriptedModel {
    /// The tool call the model makes for "mark the launch task done".
    pub fn tool_call(&self) -> UpdateTask {
        UpdateTask {
            task_id: self.task_id.clone(),
            status: Some(Status::Done),
            summary: Some("Launch notes written and reviewed".into()),
        }
    }

    /// The model's final answer.
    pub fn answer(&self, result: &ToolResult) -> String {
        match result {
            ToolResult::Updated { status, .. } => format!("Done: the task is now {status:?}."),
            ToolResult::NotFound => "I could not find that task.".into(),
            ToolResult::Refused { code } => format!("Someone changed the task first ({code})."),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    print!("{}", run().await?);
    Ok(())
}

/// Runs the conversation against a server in this process and returns the
/// transcript.
async fn run() -> Result<String, Box<dyn std::error::Error>> {
    let mut out = String::new();
    let data = tempfile::tempdir()?;
    let config = ablo_server::ServerConfig::new(data.path()).with_addr("127.0.0.1:0".parse()?);
    let server = ablo_server::start(config).await?;
    let api_key = server
        .api_key()
        .expect("a new server creates a key")
        .to_owned();
    App::push_schema(server.url(), &api_key).await?;
    let app = App::connect(server.url(), &api_key).await?;
    let task = app
        .tasks()
        .create(Task {
            title: "Launch notes".into(),
            status: Status::Doing,
            summary: None,
        })
        .await?;

    // A person is editing the task when the tool starts; they finish 200 ms
    // later. The person's app has its own capability.
    let minted = app
        .client()
        .capabilities()
        .mint(
            &ablo::client::MintCapability::user("u_ada")
                .operations(["tasks.*"])
                .sync_groups(["*"]),
        )
        .await?;
    let person = Client::builder(server.url(), minted.token.expect("token"))
        .connect()
        .await?;
    person.ready().await?;
    let editing = person
        .intents()
        .create(Target::from(&task.id))
        .action("editing")
        .await?;
    let tool_client = App::connect(server.url(), &api_key).await?;
    tool_client
        .client()
        .intents()
        .fetch(Target::from(&task.id))
        .await?;
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _ = editing.release().await;
    });

    let model = ScriptedModel {
        task_id: task.id.to_string(),
    };
    let call = model.tool_call();
    writeln!(
        out,
        "model> update_task({}, {:?})",
        call.task_id, call.status
    )?;
    let started = std::time::Instant::now();
    let result = update_task(tool_client.client(), call).await?;
    writeln!(
        out,
        "tool waited for the person's intent: {}",
        started.elapsed() >= Duration::from_millis(150)
    )?;
    writeln!(out, "tool> {result:?}")?;
    writeln!(out, "model> {}", model.answer(&result))?;
    let claims = tool_client
        .client()
        .intents()
        .fetch(Target::from(&task.id))
        .await?;
    writeln!(out, "active intents after the tool: {}", claims.len())?;

    person.dispose().await;
    tool_client.dispose().await;
    app.dispose().await;
    server.shutdown().await?;
    writeln!(out, "done")?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_tool_waits_claims_writes_and_releases() {
        let transcript = super::run().await.expect("the example runs");
        assert!(
            transcript.contains("tool> Updated { status: Done, summary: Some(\"Launch notes written and reviewed\") }"),
            "{transcript}"
        );
        assert!(
            transcript.contains("tool waited for the person's intent: true"),
            "{transcript}"
        );
        assert!(
            transcript.contains("model> Done: the task is now Done."),
            "{transcript}"
        );
        assert!(
            transcript.contains("active intents after the tool: 0"),
            "{transcript}"
        );
        assert!(transcript.ends_with("done\n"), "{transcript}");
    }
}
