//! Where a deployment's data lives, and opening the backend it names: a
//! directory for the embedded SQLite store, a `postgres://` (or
//! `postgresql://`) URL for PostgreSQL.

use std::path::PathBuf;
use std::sync::Arc;

use super::{PostgresStorage, SqliteStorage, Storage, StorageError};

/// A backend and where it keeps its data.
///
/// ```
/// use ablo_server::storage::StorageLocation;
/// let pg = StorageLocation::parse("postgres://ablo@localhost/ablo").unwrap();
/// assert_eq!(pg.backend(), "postgres");
/// let dir = StorageLocation::parse("./ablo-data").unwrap();
/// assert_eq!(dir.backend(), "sqlite");
/// assert!(StorageLocation::parse("mysql://localhost/db").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageLocation {
    /// The embedded SQLite store in this directory.
    Directory(PathBuf),
    /// A PostgreSQL database, by connection URL.
    Postgres(String),
}

impl StorageLocation {
    /// Reads a location: a URL with the `postgres` or `postgresql` scheme,
    /// or a directory path. Another URL scheme is refused.
    ///
    /// ```
    /// use ablo_server::storage::StorageLocation;
    /// assert!(matches!(StorageLocation::parse("postgresql://h/db"), Ok(StorageLocation::Postgres(_))));
    /// ```
    pub fn parse(text: &str) -> Result<StorageLocation, StorageError> {
        match text.split_once("://") {
            Some(("postgres" | "postgresql", _)) => Ok(StorageLocation::Postgres(text.to_owned())),
            Some((scheme, _))
                if scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '+') =>
            {
                Err(StorageError::Location(format!(
                    "`{scheme}://` is not a backend this server has; use a directory or a postgres:// URL"
                )))
            }
            _ => Ok(StorageLocation::Directory(PathBuf::from(text))),
        }
    }

    /// The backend's name, as [`Storage::backend`] gives it.
    ///
    /// ```
    /// use ablo_server::storage::StorageLocation;
    /// assert_eq!(StorageLocation::Directory("d".into()).backend(), "sqlite");
    /// ```
    pub fn backend(&self) -> &'static str {
        match self {
            StorageLocation::Directory(_) => "sqlite",
            StorageLocation::Postgres(_) => "postgres",
        }
    }

    /// The location for logs and messages, without a password.
    ///
    /// ```
    /// use ablo_server::storage::StorageLocation;
    /// let pg = StorageLocation::parse("postgres://ablo:secret@db/ablo").unwrap();
    /// assert!(!pg.display_safe().contains("secret"));
    /// ```
    pub fn display_safe(&self) -> String {
        match self {
            StorageLocation::Directory(dir) => dir.display().to_string(),
            StorageLocation::Postgres(url) => match url.split_once("://") {
                Some((scheme, rest)) => match rest.split_once('@') {
                    Some((user, host)) => {
                        let user = user.split(':').next().unwrap_or_default();
                        format!("{scheme}://{user}@{host}")
                    }
                    None => url.clone(),
                },
                None => url.clone(),
            },
        }
    }
}

/// Opens (creating and migrating on first use) the store at `location`.
/// Blocks; call it from a blocking thread.
///
/// ```no_run
/// use ablo_server::storage::{StorageLocation, open};
/// let storage = open(&StorageLocation::parse("./ablo-data").unwrap()).unwrap();
/// println!("{} head {}", storage.backend(), storage.head().unwrap());
/// ```
pub fn open(location: &StorageLocation) -> Result<Arc<dyn Storage>, StorageError> {
    Ok(match location {
        StorageLocation::Directory(dir) => Arc::new(SqliteStorage::open(dir)?),
        StorageLocation::Postgres(url) => Arc::new(PostgresStorage::open(url)?),
    })
}
