//! `LISTEN ablo_commits` on a connection of its own: tells a node that
//! another node committed, so it reads the log and fans the commits out.

use std::time::Duration;

use ablo_runtime::SyncId;
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};

use super::COMMITS_CHANNEL;
use crate::storage::{CommitFeed, StorageError};

/// The listening connection, opened (again) on demand.
pub(super) struct PgCommitFeed {
    config: postgres::Config,
    client: Option<Client>,
}

impl PgCommitFeed {
    pub(super) fn new(config: postgres::Config) -> PgCommitFeed {
        PgCommitFeed {
            config,
            client: None,
        }
    }

    fn listening(&mut self) -> Result<&mut Client, StorageError> {
        if self.client.is_none() {
            let mut client = self.config.connect(NoTls)?;
            client.batch_execute(&format!("LISTEN {COMMITS_CHANNEL}"))?;
            self.client = Some(client);
        }
        Ok(self.client.as_mut().expect("just connected"))
    }
}

impl CommitFeed for PgCommitFeed {
    fn wait(&mut self, timeout: Duration) -> Result<Option<SyncId>, StorageError> {
        let outcome = wait_on(self.listening()?, timeout);
        if outcome.is_err() {
            // A broken connection is opened again on the next call; what
            // it missed the caller reads from the log.
            self.client = None;
        }
        outcome
    }
}

fn wait_on(client: &mut Client, timeout: Duration) -> Result<Option<SyncId>, StorageError> {
    let mut notifications = client.notifications();
    let Some(first) = notifications.timeout_iter(timeout).next()? else {
        return Ok(None);
    };
    let mut newest = SyncId::ZERO;
    let mut note = |payload: &str| {
        if let Ok(head) = payload.parse::<u64>() {
            newest = newest.max(SyncId(head));
        }
    };
    note(first.payload());
    // Take whatever else is already here without waiting.
    let mut pending = notifications.iter();
    while let Some(more) = pending.next()? {
        note(more.payload());
    }
    Ok(Some(newest))
}
