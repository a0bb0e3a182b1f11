//! The `--data` / `--database` options every command that opens the store
//! takes.

use std::path::PathBuf;
use std::sync::Arc;

use ablo_server::storage::{Storage, StorageLocation};

/// Where the store is: `--data <dir>` (embedded SQLite, the default) or
/// `--database postgres://...` (PostgreSQL, shared by several nodes).
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct StoreArgs {
    /// Data directory of the embedded store, created on first start.
    #[arg(long, default_value = "./ablo-data", conflicts_with = "database")]
    pub data: PathBuf,
    /// A PostgreSQL URL (`postgres://user:password@host/db`) instead of a
    /// data directory; several nodes may share it.
    #[arg(long, env = "ABLO_DATABASE_URL", hide_env_values = true)]
    pub database: Option<String>,
}

impl StoreArgs {
    pub(crate) fn location(&self) -> Result<StorageLocation, String> {
        match &self.database {
            Some(url) => match StorageLocation::parse(url).map_err(|e| e.to_string())? {
                StorageLocation::Directory(_) => Err(format!(
                    "--database takes a postgres:// URL; for a directory use --data {url}"
                )),
                location => Ok(location),
            },
            None => Ok(StorageLocation::Directory(self.data.clone())),
        }
    }

    pub(crate) fn open(&self) -> Result<Arc<dyn Storage>, String> {
        let location = self.location()?;
        ablo_server::storage::open(&location)
            .map_err(|e| format!("{}: {e}", location.display_safe()))
    }
}
