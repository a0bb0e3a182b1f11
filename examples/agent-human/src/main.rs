//! An agent and a human on the same task.
//!
//! Starts a sync server in this process, mints two capabilities with its API
//! key (a `user` for the person's app, an `agent` for the worker) and plays
//! two scenes:
//!
//! 1. the person is editing the task (an intent); the agent sees it, yields
//!    with `wait_for` (woken by the live stream when the person is done),
//!    then writes from a fresh snapshot;
//! 2. the agent reads the task and starts a long step; meanwhile the person
//!    changes the row; the agent's write, guarded by the stamp it read at,
//!    is rejected with `stale_context` instead of overwriting the change.
//!
//! ```sh
//! cargo run -p agent-human
//! ```

use std::fmt::Write as _;
use std::time::Duration;

use ablo::client::{Client, MintCapability};
use ablo::wire::Target;

/// Where a task stands.
#[derive(ablo::Enum)]
pub enum Status {
    Todo,
    Doing,
    Done,
}

/// A task people and agents work on.
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

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    print!("{}", run().await?);
    Ok(())
}

/// A client acting as the participant of a capability minted by `admin`.
async fn participant(
    url: &str,
    admin: &Client,
    capability: MintCapability,
) -> Result<Client, ablo::Error> {
    let minted = admin
        .capabilities()
        .mint(&capability.operations(["tasks.*"]).sync_groups(["*"]))
        .await?;
    let token = minted.token.expect("a new capability carries its token");
    let client = Client::builder(url, token).connect().await?;
    client.ready().await?;
    Ok(client)
}

/// Plays both scenes and returns what they printed.
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
    let admin = App::connect(server.url(), &api_key).await?;
    let human = participant(&server.url(), admin.client(), MintCapability::user("u_ada")).await?;
    let agent = participant(
        &server.url(),
        admin.client(),
        MintCapability::agent("agent_triage")
            .on_behalf_of(ablo::wire::ParticipantKind::User, "u_ada"),
    )
    .await?;
    let task = admin
        .tasks()
        .create(Task {
            title: "Write the launch notes".into(),
            status: Status::Todo,
            summary: None,
        })
        .await?;
    let target = Target::from(&task.id);

    // Scene 1: the person is editing; the agent yields until they are done.
    let editing = human
        .intents()
        .create(target.clone())
        .action("editing")
        .await?;
    let seen = agent.intents().fetch(target.clone()).await?;
    writeln!(
        out,
        "1. agent sees {} active intent(s): {} is {}",
        seen.len(),
        seen[0].participant.id,
        seen[0].action
    )?;
    let person = {
        let human = human.clone();
        let id = task.id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            human
                .model::<Task>()
                .update(id, TaskPatch::new().title("Write the launch notes (v2)"))
                .await?;
            editing.release().await
        })
    };
    agent
        .intents()
        .wait_for(target.clone(), Duration::from_secs(10))
        .await?;
    person.await??;
    writeln!(out, "2. the person released; the agent resumes")?;
    let stamp = agent.model::<Task>().snapshot(task.id.clone());
    let done = agent
        .model::<Task>()
        .update(task.id.clone(), TaskPatch::new().status(Status::Doing))
        .read_at(stamp)
        .await?;
    writeln!(
        out,
        "3. agent wrote status {:?} on top of the person's title {:?}",
        done.data.status, done.data.title
    )?;

    // Scene 2: the person changes the row while the agent is mid-run.
    let read = agent.model::<Task>().retrieve(task.id.clone()).await?;
    human
        .model::<Task>()
        .update(task.id.clone(), TaskPatch::new().status(Status::Todo))
        .await?;
    writeln!(out, "4. the person moved the task back to todo mid-run")?;
    let stale = agent
        .model::<Task>()
        .update(
            task.id.clone(),
            TaskPatch::new()
                .status(Status::Done)
                .summary("Notes written"),
        )
        .read_at(read.stamp)
        .await;
    match stale {
        Err(error @ ablo::Error::StaleContext { .. }) => {
            writeln!(out, "5. agent's write rejected: {}", error.code())?;
        }
        Err(other) => return Err(other.into()),
        Ok(_) => return Err("the stale write was accepted".into()),
    }
    let current = admin.tasks().retrieve(task.id.clone()).await?;
    writeln!(
        out,
        "6. the row keeps the person's change: status {:?}",
        current.data.data.status
    )?;

    for client in [&agent, &human] {
        client.dispose().await;
    }
    admin.dispose().await;
    server.shutdown().await?;
    writeln!(out, "done")?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_agent_yields_and_its_stale_write_is_rejected() {
        let transcript = super::run().await.expect("the example runs");
        assert!(
            transcript.contains("1. agent sees 1 active intent(s): u_ada is editing"),
            "{transcript}"
        );
        assert!(
            transcript.contains(
                "status Doing on top of the person's title \"Write the launch notes (v2)\""
            ),
            "{transcript}"
        );
        assert!(
            transcript.contains("5. agent's write rejected: stale_context"),
            "{transcript}"
        );
        assert!(transcript.contains("status Todo"), "{transcript}");
        assert!(transcript.ends_with("done\n"), "{transcript}");
    }
}
