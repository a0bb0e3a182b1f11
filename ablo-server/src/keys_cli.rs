//! `ablo-server keys create|list|revoke`: API keys in the data directory.
//! Only SHA-256 hashes are stored; a new key is printed once. A running
//! server picks up changes within a second.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ablo_server::auth::{generate_key, generate_live_key, record_for};
use ablo_server::storage::{AuthzStorage, SqliteStorage, Storage};
use clap::Subcommand;

/// What to do with API keys.
#[derive(Subcommand)]
pub(crate) enum KeysAction {
    /// Create a key (`sk_test_...`, or `sk_live_...` with `--live`) and
    /// print it once.
    Create {
        /// Data directory of the server.
        #[arg(long, default_value = "./ablo-data")]
        data: PathBuf,
        /// A live key instead of a test key.
        #[arg(long)]
        live: bool,
        /// What the key is for.
        #[arg(long, default_value = "cli")]
        label: String,
    },
    /// List keys (ids and labels; keys themselves are never stored).
    List {
        /// Data directory of the server.
        #[arg(long, default_value = "./ablo-data")]
        data: PathBuf,
    },
    /// Revoke a key by id (`key_...`).
    Revoke {
        /// Data directory of the server.
        #[arg(long, default_value = "./ablo-data")]
        data: PathBuf,
        /// The key's id, as `keys list` shows it.
        id: String,
    },
}

pub(crate) fn run(action: KeysAction) -> ExitCode {
    match execute(action) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ablo-server keys: {message}");
            ExitCode::FAILURE
        }
    }
}

fn open(data: &Path) -> Result<SqliteStorage, String> {
    SqliteStorage::open(data).map_err(|e| format!("{}: {e}", data.display()))
}

fn execute(action: KeysAction) -> Result<(), String> {
    match action {
        KeysAction::Create { data, live, label } => {
            let storage = open(&data)?;
            let key = if live {
                generate_live_key()
            } else {
                generate_key()
            };
            let record = record_for(&key, &label);
            storage.put_api_key(&record).map_err(|e| e.to_string())?;
            println!("{}\t{key}", record.id);
            eprintln!("store the key now: it is not shown again");
        }
        KeysAction::List { data } => {
            let storage = open(&data)?;
            for key in storage.list_api_keys().map_err(|e| e.to_string())? {
                println!("{}\t{}\t{}", key.id, key.created_at, key.label);
            }
        }
        KeysAction::Revoke { data, id } => {
            let storage = open(&data)?;
            if !storage.delete_api_key(&id).map_err(|e| e.to_string())? {
                return Err(format!("no key `{id}`"));
            }
            println!("revoked {id}");
        }
    }
    Ok(())
}
