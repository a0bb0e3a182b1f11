//! Presence: publish what this client is viewing or editing, and see who
//! else is here, live. Entries end when a connection closes.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::{broadcast, watch};

use super::Client;
use crate::wire::{ClientMessage, Presence, PresenceState, Target};

/// The client's presence: what it publishes and what it has heard.
pub(crate) struct LivePresence {
    /// What this client publishes; the live session sends the differences.
    published: watch::Sender<HashMap<Target, PresenceState>>,
    /// Everyone heard of, by participant and target.
    here: Mutex<HashMap<(String, Target), Presence>>,
    changes: broadcast::Sender<Presence>,
}

impl Default for LivePresence {
    fn default() -> Self {
        LivePresence {
            published: watch::channel(HashMap::new()).0,
            here: Mutex::new(HashMap::new()),
            changes: broadcast::channel(1024).0,
        }
    }
}

impl LivePresence {
    /// Applies a presence message from the live stream.
    pub(crate) fn apply(&self, presence: Presence) {
        {
            let key = (presence.participant.id.clone(), presence.target.clone());
            let mut here = self.here.lock().unwrap_or_else(|e| e.into_inner());
            if presence.state == PresenceState::Left {
                here.remove(&key);
            } else {
                here.insert(key, presence.clone());
            }
        }
        let _ = self.changes.send(presence);
    }

    /// What this client publishes, to be sent by the live session.
    pub(crate) fn published(&self) -> watch::Receiver<HashMap<Target, PresenceState>> {
        self.published.subscribe()
    }

    /// Forgets what was heard (a new session hears it again).
    pub(crate) fn reset_heard(&self) {
        self.here.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// The messages that bring the server from `sent` to `wanted`; `sent` is
/// updated.
pub(crate) fn presence_messages(
    sent: &mut HashMap<Target, PresenceState>,
    wanted: &HashMap<Target, PresenceState>,
) -> Vec<ClientMessage> {
    let mut messages = Vec::new();
    for (target, state) in wanted {
        if sent.get(target) != Some(state) {
            messages.push(ClientMessage::Presence {
                target: target.clone(),
                state: *state,
            });
        }
    }
    for target in sent.keys() {
        if !wanted.contains_key(target) {
            messages.push(ClientMessage::Presence {
                target: target.clone(),
                state: PresenceState::Left,
            });
        }
    }
    *sent = wanted.clone();
    messages
}

/// Presence of a client: [`Client::presence`].
///
/// ```no_run
/// use ablo_runtime::wire::Target;
/// # fn run(client: ablo_runtime::client::Client) {
/// let task = Target { model: "tasks".into(), id: "t1".into(), field: None };
/// client.presence().editing(task.clone());
/// for entry in client.presence().here(task.clone()) {
///     println!("{} ({:?}) is {:?}", entry.participant.id, entry.participant.kind, entry.state);
/// }
/// client.presence().leave(task);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct PresenceHandle {
    client: Client,
}

impl Client {
    /// This client's presence: publish what it views or edits, list who
    /// is here.
    ///
    /// ```no_run
    /// # fn run(client: ablo_runtime::client::Client) {
    /// let presence = client.presence();
    /// # }
    /// ```
    pub fn presence(&self) -> PresenceHandle {
        PresenceHandle {
            client: self.clone(),
        }
    }
}

impl PresenceHandle {
    fn set(&self, target: Target, state: Option<PresenceState>) {
        self.client
            .shared()
            .presence
            .published
            .send_modify(|map| match state {
                Some(state) => {
                    map.insert(target, state);
                }
                None => {
                    map.remove(&target);
                }
            });
    }

    /// Publishes that this client views `target` (sent on the live
    /// connection, and again after a reconnect).
    ///
    /// ```no_run
    /// # fn run(client: ablo_runtime::client::Client, t: ablo_runtime::wire::Target) {
    /// client.presence().viewing(t);
    /// # }
    /// ```
    pub fn viewing(&self, target: impl Into<Target>) {
        self.set(target.into(), Some(PresenceState::Viewing));
    }

    /// Publishes that this client edits `target`.
    ///
    /// ```no_run
    /// # fn run(client: ablo_runtime::client::Client, t: ablo_runtime::wire::Target) {
    /// client.presence().editing(t);
    /// # }
    /// ```
    pub fn editing(&self, target: impl Into<Target>) {
        self.set(target.into(), Some(PresenceState::Editing));
    }

    /// Withdraws this client's presence on `target`.
    ///
    /// ```no_run
    /// # fn run(client: ablo_runtime::client::Client, t: ablo_runtime::wire::Target) {
    /// client.presence().leave(t);
    /// # }
    /// ```
    pub fn leave(&self, target: impl Into<Target>) {
        self.set(target.into(), None);
    }

    /// Who is on `target` now (on the row, for a row target), this client
    /// included, as heard on the live stream.
    ///
    /// ```no_run
    /// # fn run(client: ablo_runtime::client::Client, t: ablo_runtime::wire::Target) {
    /// let count = client.presence().here(t).len();
    /// # }
    /// ```
    pub fn here(&self, target: impl Into<Target>) -> Vec<Presence> {
        let target = target.into();
        let here = self
            .client
            .shared()
            .presence
            .here
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut found: Vec<Presence> = here
            .values()
            .filter(|p| {
                p.target.model == target.model
                    && p.target.id == target.id
                    && (target.field.is_none() || p.target.field == target.field)
            })
            .cloned()
            .collect();
        found.sort_by(|a, b| a.participant.id.cmp(&b.participant.id));
        found
    }

    /// Every presence change heard from now on (`left` included).
    ///
    /// ```no_run
    /// use futures::StreamExt;
    /// # async fn run(client: ablo_runtime::client::Client) {
    /// let mut changes = Box::pin(client.presence().changes());
    /// while let Some(p) = changes.next().await {
    ///     println!("{} {:?} {}", p.participant.id, p.state, p.target.id);
    /// }
    /// # }
    /// ```
    pub fn changes(&self) -> impl futures::Stream<Item = Presence> + Send + 'static {
        let receiver = self.client.shared().presence.changes.subscribe();
        super::broadcast_stream(receiver)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: &str) -> Target {
        Target {
            model: "tasks".into(),
            id: id.into(),
            field: None,
        }
    }

    #[test]
    fn only_differences_are_sent_and_removed_targets_are_left() {
        let mut sent = HashMap::new();
        let mut wanted = HashMap::from([(t("a"), PresenceState::Viewing)]);
        assert_eq!(presence_messages(&mut sent, &wanted).len(), 1);
        assert!(presence_messages(&mut sent, &wanted).is_empty());
        wanted.remove(&t("a"));
        wanted.insert(t("b"), PresenceState::Editing);
        let mut messages = presence_messages(&mut sent, &wanted);
        messages.sort_by_key(|m| format!("{m:?}"));
        assert_eq!(
            messages,
            vec![
                ClientMessage::Presence {
                    target: t("a"),
                    state: PresenceState::Left
                },
                ClientMessage::Presence {
                    target: t("b"),
                    state: PresenceState::Editing
                },
            ]
        );
    }
}
