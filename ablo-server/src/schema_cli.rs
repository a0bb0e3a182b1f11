//! `ablo-server schema push|show`: push a schema file to a running server
//! (the only way a schema reaches a server besides `Client::push_schema`),
//! or print the one it holds.

use std::path::PathBuf;
use std::process::ExitCode;

use ablo_runtime::SchemaDescriptor;
use ablo_runtime::client::{PushOptions, fetch_schema, push_schema};
use clap::Subcommand;

/// What to do with the server's schema.
#[derive(Subcommand)]
pub(crate) enum SchemaAction {
    /// Push a schema file (`ablo.schema.json`). A change that would break
    /// clients of the schema the server holds is refused (exit 1) unless
    /// `--allow-breaking` is given.
    Push {
        /// The schema file, as written by `App::descriptor().to_json_pretty()`.
        #[arg(default_value = "ablo.schema.json")]
        file: PathBuf,
        /// The server's URL.
        #[arg(long, env = "ABLO_URL", default_value = "http://127.0.0.1:7700")]
        url: String,
        /// An API key (capabilities may not push).
        #[arg(long, env = "ABLO_API_KEY", hide_env_values = true)]
        api_key: String,
        /// Accept a breaking change: the migration is meant.
        #[arg(long)]
        allow_breaking: bool,
    },
    /// Print the schema the server holds.
    Show {
        /// The server's URL.
        #[arg(long, env = "ABLO_URL", default_value = "http://127.0.0.1:7700")]
        url: String,
        /// An API key or capability token.
        #[arg(long, env = "ABLO_API_KEY", hide_env_values = true)]
        api_key: String,
    },
}

/// Runs the action. Exit codes: 0 done; 1 a breaking change refused; 2 any
/// other failure (unreadable file, unreachable server, refused schema).
pub(crate) async fn run(action: SchemaAction) -> ExitCode {
    match action {
        SchemaAction::Push {
            file,
            url,
            api_key,
            allow_breaking,
        } => {
            let text = match std::fs::read_to_string(&file) {
                Ok(text) => text,
                Err(err) => return fail(format!("cannot read {}: {err}", file.display())),
            };
            let schema: SchemaDescriptor = match serde_json::from_str(&text) {
                Ok(schema) => schema,
                Err(err) => return fail(format!("{} is not a schema: {err}", file.display())),
            };
            let options = PushOptions { allow_breaking };
            match push_schema(&url, &api_key, &schema, options).await {
                Ok(pushed) => {
                    for change in &pushed.changes {
                        println!("{change}");
                    }
                    let what = if pushed.changed {
                        "pushed"
                    } else {
                        "unchanged"
                    };
                    println!("schema `{}` {what} (hash {})", schema.name, pushed.hash);
                    ExitCode::SUCCESS
                }
                Err(ablo_runtime::Error::SchemaMismatch { info, changes }) => {
                    for change in &changes {
                        eprintln!("{change}");
                    }
                    eprintln!("refused: {info}");
                    eprintln!("push again with --allow-breaking if the change is meant");
                    ExitCode::from(1)
                }
                Err(err) => fail(err.to_string()),
            }
        }
        SchemaAction::Show { url, api_key } => match fetch_schema(&url, &api_key).await {
            Ok(schema) => {
                print!("{}", schema.to_json_pretty());
                ExitCode::SUCCESS
            }
            Err(err) => fail(err.to_string()),
        },
    }
}

fn fail(message: String) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}
