//! The listening connection of the coordination feed.

use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};

use super::{CHANGES_CHANNEL, PRESENCE_CHANNEL};
use crate::storage::{CoordinationFeed, CoordinationNotice, StorageError};

/// `LISTEN` on both coordination channels, on a connection of its own.
pub(super) struct PgCoordinationFeed {
    pub(super) config: postgres::Config,
    pub(super) client: Option<Client>,
}

impl CoordinationFeed for PgCoordinationFeed {
    fn listen(&mut self) -> Result<(), StorageError> {
        if self.client.is_none() {
            let mut client = self.config.connect(NoTls)?;
            client.batch_execute(&format!(
                "LISTEN {CHANGES_CHANNEL}; LISTEN {PRESENCE_CHANNEL}"
            ))?;
            self.client = Some(client);
        }
        Ok(())
    }

    fn wait(&mut self, timeout: Duration) -> Result<Vec<CoordinationNotice>, StorageError> {
        self.listen()?;
        let client = self.client.as_mut().expect("just connected");
        let outcome = wait_on(client, timeout);
        if outcome.is_err() {
            // Listen again on the next call; the caller reads what it
            // missed from the store.
            self.client = None;
        }
        outcome
    }
}

fn wait_on(
    client: &mut Client,
    timeout: Duration,
) -> Result<Vec<CoordinationNotice>, StorageError> {
    let mut notifications = client.notifications();
    let Some(first) = notifications.timeout_iter(timeout).next()? else {
        return Ok(Vec::new());
    };
    let mut notices = Vec::new();
    let mut changed = false;
    let mut note = |n: &postgres::Notification| {
        if n.channel() == PRESENCE_CHANNEL {
            notices.push(CoordinationNotice::Presence(n.payload().to_owned()));
        } else {
            changed = true;
        }
    };
    note(&first);
    let mut pending = notifications.iter();
    while let Some(more) = pending.next()? {
        note(&more);
    }
    if changed {
        notices.push(CoordinationNotice::Changed);
    }
    Ok(notices)
}
