//! `ablo-server migrate`: brings the store's tables up to this version and
//! exits, for deployments that migrate before rolling nodes.

use std::process::ExitCode;

use ablo_server::storage::{PostgresStorage, StorageLocation};

use crate::store_args::StoreArgs;

pub(crate) fn run(store: &StoreArgs) -> ExitCode {
    let outcome = store.location().and_then(|location| match &location {
        StorageLocation::Postgres(url) => PostgresStorage::migrate(url)
            .map(|applied| {
                if applied.is_empty() {
                    println!("{}: up to date", location.display_safe());
                } else {
                    println!(
                        "{}: applied migrations {applied:?}",
                        location.display_safe()
                    );
                }
            })
            .map_err(|e| format!("{}: {e}", location.display_safe())),
        StorageLocation::Directory(_) => store.open().map(|_| {
            println!("{}: up to date", location.display_safe());
        }),
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ablo-server migrate: {message}");
            ExitCode::FAILURE
        }
    }
}
