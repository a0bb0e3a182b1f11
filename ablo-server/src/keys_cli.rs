//! `ablo-server keys create|list|revoke`: API keys in the store.
//! Only SHA-256 hashes are stored; a new key is printed once. A running
//! server picks up changes within a second.

use std::process::ExitCode;

use ablo_server::auth::{generate_key, generate_live_key, record_for};
use clap::Subcommand;

use crate::store_args::StoreArgs;

/// What to do with API keys.
#[derive(Subcommand)]
pub(crate) enum KeysAction {
    /// Create a key (`sk_test_...`, or `sk_live_...` with `--live`) and
    /// print it once.
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// A live key instead of a test key.
        #[arg(long)]
        live: bool,
        /// What the key is for.
        #[arg(long, default_value = "cli")]
        label: String,
    },
    /// List keys (ids and labels; keys themselves are never stored).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a key by id (`key_...`).
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
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

fn execute(action: KeysAction) -> Result<(), String> {
    match action {
        KeysAction::Create { store, live, label } => {
            let storage = store.open()?;
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
        KeysAction::List { store } => {
            let storage = store.open()?;
            for key in storage.list_api_keys().map_err(|e| e.to_string())? {
                println!("{}\t{}\t{}", key.id, key.created_at, key.label);
            }
        }
        KeysAction::Revoke { store, id } => {
            let storage = store.open()?;
            if !storage.delete_api_key(&id).map_err(|e| e.to_string())? {
                return Err(format!("no key `{id}`"));
            }
            println!("revoked {id}");
        }
    }
    Ok(())
}
