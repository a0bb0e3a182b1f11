//! The live fan-out hub: every durable commit is published once, in sync-id
//! order, on one bounded broadcast channel; each WebSocket subscriber keeps
//! the deltas of its groups. The channel's ring is the only queue: a
//! subscriber that falls more than its capacity behind is detected (lagged)
//! and told to resync, so memory stays bounded whatever clients do. A commit
//! whose message is larger than the inline limit travels as its sync id
//! alone and subscribers read its deltas from the log, so the ring holds at
//! most `capacity × inline limit` bytes of deltas.
//!
//! A commit's message is serialized once for every subscriber that receives
//! all groups, and once per [`VisibilityClass`] (credential scope and asked
//! groups) for the others: the first subscriber of a class to reach a
//! commit selects and serializes its view, and the others of that class
//! share the text ([`InlineDeltas::view`]). The cached views of a commit
//! are bounded by the inline limit in bytes, so the ring holds at most
//! three times `capacity × inline limit`.
//!
//! The hub publishes in sync-id order whoever committed: a commit of this
//! node whose predecessor it has not published yet (another node took it)
//! waits, and the log follower ([`crate::log_follower`]) reads the missing
//! commits from the log and publishes them first.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use ablo_runtime::SyncId;
use ablo_runtime::wire::Delta;
use axum::extract::ws::Utf8Bytes;
use tokio::sync::broadcast;

/// One durable commit: its sync id and, unless it is large, its deltas.
pub(crate) struct CommitEvent {
    pub sync_id: SyncId,
    /// When the commit was published (durable), for the fan-out lag.
    pub published: std::time::Instant,
    /// `None` for a commit whose message is over the inline limit: read its
    /// deltas from the log.
    pub inline: Option<InlineDeltas>,
}

/// A commit's deltas, with the WebSocket message carrying all of them
/// serialized once for every subscriber that receives all groups, and the
/// messages of the visibility classes that received it so far.
pub(crate) struct InlineDeltas {
    pub deltas: Vec<Delta>,
    pub message: Utf8Bytes,
    views: Mutex<Views>,
    /// Most bytes the cached views may hold.
    budget: usize,
}

/// The cached messages of one commit by visibility class (`None`: nothing
/// of the commit is visible to the class), and the bytes they hold.
#[derive(Default)]
struct Views {
    by_class: HashMap<Arc<VisibilityClass>, Option<Utf8Bytes>>,
    bytes: usize,
}

/// Bytes counted for a cached view besides its text (the entry and key).
const VIEW_OVERHEAD: usize = 64;

/// What decides which deltas of a commit a subscriber receives, and how:
/// the capability's operations and sync groups (`None` for an API key)
/// and the groups it subscribed to (sorted; `None` for every group).
/// Subscribers with equal classes receive the same message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct VisibilityClass {
    /// The hash of the rest, computed once: a lookup hashes only this.
    hash: u64,
    scope: Option<(Vec<String>, Vec<String>)>,
    asked: Option<Vec<String>>,
}

impl std::hash::Hash for VisibilityClass {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl VisibilityClass {
    /// The class of a subscriber with these capability patterns (`None`
    /// for an API key) that asked for these groups (`None`: every group).
    pub(crate) fn new<'g>(
        scope: Option<&crate::capability::Scope>,
        asked: Option<impl IntoIterator<Item = &'g String>>,
    ) -> VisibilityClass {
        let asked = asked.map(|groups| {
            let mut groups: Vec<String> = groups.into_iter().cloned().collect();
            groups.sort_unstable();
            groups.dedup();
            groups
        });
        let scope = scope.map(|s| (s.operations().to_vec(), s.sync_groups().to_vec()));
        // Fixed keys: equal classes of different sessions hash alike.
        let hash = std::hash::BuildHasher::hash_one(
            &std::hash::BuildHasherDefault::<std::hash::DefaultHasher>::default(),
            (&scope, &asked),
        );
        VisibilityClass { hash, scope, asked }
    }
}

impl InlineDeltas {
    /// The message a subscriber of `class` receives of this commit (`None`:
    /// nothing), made by `select` from the deltas only for the first
    /// subscriber of the class to ask; later ones share its text. Past the
    /// byte budget a view is made for each subscriber and not kept.
    pub(crate) fn view(
        &self,
        class: &Arc<VisibilityClass>,
        select: impl FnOnce(&[Delta]) -> Option<Utf8Bytes>,
    ) -> Option<Utf8Bytes> {
        if let Some(view) = self.lock_views().by_class.get(class) {
            return view.clone();
        }
        // Made outside the lock: subscribers of other classes do not wait.
        let view = select(&self.deltas);
        let cost = VIEW_OVERHEAD + view.as_ref().map_or(0, |text| text.len());
        let mut views = self.lock_views();
        if let Some(made) = views.by_class.get(class) {
            return made.clone();
        }
        if views.bytes + cost <= self.budget {
            views.bytes += cost;
            views.by_class.insert(class.clone(), view.clone());
        }
        view
    }

    fn lock_views(&self) -> std::sync::MutexGuard<'_, Views> {
        self.views.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many visibility classes have a cached view (for tests).
    #[cfg(test)]
    fn cached_views(&self) -> usize {
        self.lock_views().by_class.len()
    }
}

/// A `deltas` message, serialized from borrowed deltas: the same text as
/// [`ServerMessage::Deltas`] without copying them into one.
///
/// [`ServerMessage::Deltas`]: ablo_runtime::wire::ServerMessage::Deltas
#[derive(serde::Serialize)]
#[serde(tag = "type", rename = "deltas")]
struct DeltasMessage<'d, D: serde::Serialize> {
    deltas: &'d [D],
}

/// The text of a `deltas` message carrying `deltas` (each a [`Delta`] or a
/// borrow of one).
pub(crate) fn deltas_text<D: serde::Serialize>(deltas: &[D]) -> String {
    serde_json::to_string(&DeltasMessage { deltas }).expect("deltas serialize")
}

/// Publishes commits to subscribers.
#[derive(Clone)]
pub(crate) struct Hub {
    sender: broadcast::Sender<Arc<CommitEvent>>,
    inline_limit: usize,
    order: Arc<Mutex<Order>>,
    gap: Arc<tokio::sync::Notify>,
}

/// What has been published, and commits waiting for a predecessor.
struct Order {
    published: SyncId,
    waiting: BTreeMap<SyncId, Vec<Delta>>,
}

/// At most this many commits wait for a predecessor; past it the oldest
/// are dropped (the log follower publishes them from the log anyway).
const MAX_WAITING: usize = 4096;

impl Hub {
    /// A hub keeping at most `capacity` commits for slow subscribers, each
    /// with its deltas when their message is at most `inline_limit` bytes;
    /// `head` is the newest commit already durable (not to be published).
    pub(crate) fn new(capacity: usize, inline_limit: usize, head: SyncId) -> Hub {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Hub {
            sender,
            inline_limit,
            order: Arc::new(Mutex::new(Order {
                published: head,
                waiting: BTreeMap::new(),
            })),
            gap: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// The newest sync id published.
    pub(crate) fn published(&self) -> SyncId {
        self.order.lock().expect("hub order").published
    }

    /// Resolves when a commit waits for a predecessor the hub has not seen.
    pub(crate) async fn gap(&self) {
        self.gap.notified().await
    }

    /// Publishes a durable commit of this node. A commit whose predecessor
    /// has not been published yet waits for it.
    pub(crate) fn publish(&self, sync_id: SyncId, deltas: Vec<Delta>) {
        let mut order = self.order.lock().expect("hub order");
        if sync_id <= order.published {
            return;
        }
        if sync_id != order.published.next() {
            order.waiting.insert(sync_id, deltas);
            while order.waiting.len() > MAX_WAITING {
                order.waiting.pop_first();
            }
            drop(order);
            self.gap.notify_one();
            return;
        }
        self.send(sync_id, deltas);
        order.published = sync_id;
        self.release_waiting(&mut order);
    }

    /// Publishes commits read from the log, in order (commits already
    /// published are skipped). The log is the truth: a sync id missing from
    /// it is passed over.
    pub(crate) fn publish_from_log(&self, deltas: Vec<Delta>) {
        let mut order = self.order.lock().expect("hub order");
        let mut commits: Vec<(SyncId, Vec<Delta>)> = Vec::new();
        for delta in deltas {
            match commits.last_mut() {
                Some((id, group)) if *id == delta.sync_id => group.push(delta),
                _ => commits.push((delta.sync_id, vec![delta])),
            }
        }
        for (sync_id, deltas) in commits {
            if sync_id <= order.published {
                continue;
            }
            order.waiting.remove(&sync_id);
            self.send(sync_id, deltas);
            order.published = sync_id;
        }
        let first_unpublished = order.published.next();
        order.waiting = order.waiting.split_off(&first_unpublished);
        self.release_waiting(&mut order);
    }

    /// Passes the published mark over ids the log does not have (a commit
    /// of another node rolled back before it was durable cannot happen, so
    /// this only follows the log's head when it has no deltas after it).
    pub(crate) fn skip_to(&self, head: SyncId) {
        let mut order = self.order.lock().expect("hub order");
        if head > order.published && order.waiting.is_empty() {
            order.published = head;
        }
    }

    fn release_waiting(&self, order: &mut Order) {
        while let Some(entry) = order.waiting.first_entry() {
            if *entry.key() != order.published.next() {
                break;
            }
            let (sync_id, deltas) = entry.remove_entry();
            self.send(sync_id, deltas);
            order.published = sync_id;
        }
    }

    fn send(&self, sync_id: SyncId, deltas: Vec<Delta>) {
        if self.sender.receiver_count() == 0 {
            return;
        }
        let message = deltas_text(&deltas);
        let inline = (message.len() <= self.inline_limit).then(|| InlineDeltas {
            deltas,
            message: message.into(),
            views: Mutex::default(),
            budget: self.inline_limit,
        });
        let _ = self.sender.send(Arc::new(CommitEvent {
            sync_id,
            published: std::time::Instant::now(),
            inline,
        }));
    }

    /// A receiver of every commit published from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<CommitEvent>> {
        self.sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ablo_runtime::wire::{Actor, DeltaAction, ParticipantKind};

    fn delta(text: &str) -> Delta {
        Delta {
            sync_id: SyncId(1),
            model: "tasks".into(),
            id: "t1".into(),
            action: DeltaAction::Insert,
            data: serde_json::json!({"id": "t1", "title": text}),
            changed_fields: vec!["title".into()],
            client_tx_id: "tx_1".into(),
            actor: Actor {
                kind: ParticipantKind::System,
                id: "key".into(),
            },
            sync_groups: vec!["default".into()],
            left_sync_groups: vec![],
            entered_sync_groups: vec![],
            flagged: false,
        }
    }

    #[test]
    fn large_commits_travel_as_their_sync_id() {
        let hub = Hub::new(4, 1024, SyncId::ZERO);
        let mut receiver = hub.subscribe();
        hub.publish(SyncId(1), vec![delta("small")]);
        hub.publish(SyncId(2), vec![delta(&"x".repeat(2000))]);
        let small = receiver.try_recv().unwrap();
        assert!(
            small
                .inline
                .as_ref()
                .unwrap()
                .message
                .as_str()
                .contains("small")
        );
        let large = receiver.try_recv().unwrap();
        assert_eq!(large.sync_id, SyncId(2));
        assert!(large.inline.is_none());
    }

    #[test]
    fn a_borrowed_deltas_message_is_the_wire_message() {
        let deltas = vec![delta("a"), delta_at(2)];
        let wire = ablo_runtime::wire::ServerMessage::Deltas {
            deltas: deltas.clone(),
        };
        let borrowed: Vec<std::borrow::Cow<'_, Delta>> =
            deltas.iter().map(std::borrow::Cow::Borrowed).collect();
        assert_eq!(
            deltas_text(&borrowed),
            serde_json::to_string(&wire).unwrap()
        );
        assert_eq!(deltas_text(&deltas), serde_json::to_string(&wire).unwrap());
    }

    #[test]
    fn a_view_is_made_once_per_class_within_the_budget() {
        let hub = Hub::new(4, 1024, SyncId::ZERO);
        let mut receiver = hub.subscribe();
        hub.publish(SyncId(1), vec![delta("shared")]);
        let event = receiver.try_recv().unwrap();
        let inline = event.inline.as_ref().unwrap();
        let groups = |g: &[&str]| g.iter().map(|g| g.to_string()).collect::<Vec<_>>();
        let org_a = Arc::new(VisibilityClass::new(None, Some(&groups(&["org:a"]))));
        let org_a_again = Arc::new(VisibilityClass::new(None, Some(&groups(&["org:a"]))));
        let org_b = Arc::new(VisibilityClass::new(None, Some(&groups(&["org:b"]))));
        let made = std::sync::atomic::AtomicUsize::new(0);
        let select = |text: &'static str| {
            let made = &made;
            move |_: &[Delta]| {
                made.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Some(Utf8Bytes::from_static(text))
            }
        };
        assert_eq!(inline.view(&org_a, select("a")).unwrap().as_str(), "a");
        assert_eq!(
            inline.view(&org_a_again, select("x")).unwrap().as_str(),
            "a"
        );
        assert_eq!(inline.view(&org_b, select("b")).unwrap().as_str(), "b");
        assert_eq!(made.load(std::sync::atomic::Ordering::Relaxed), 2);
        // Past the budget (1024 bytes) views are made each time, not kept.
        for i in 0..40 {
            let class = Arc::new(VisibilityClass::new(None, Some(&groups(&[&i.to_string()]))));
            inline.view(&class, select("many"));
        }
        assert!(inline.cached_views() <= 1024 / VIEW_OVERHEAD);
        let last = Arc::new(VisibilityClass::new(None, Some(&groups(&["39"]))));
        let before = made.load(std::sync::atomic::Ordering::Relaxed);
        inline.view(&last, select("many"));
        assert_eq!(made.load(std::sync::atomic::Ordering::Relaxed), before + 1);
    }

    fn delta_at(sync_id: u64) -> Delta {
        Delta {
            sync_id: SyncId(sync_id),
            ..delta("x")
        }
    }

    #[test]
    fn a_commit_waits_for_its_predecessor_from_another_node() {
        let hub = Hub::new(16, 1024, SyncId(1));
        let mut receiver = hub.subscribe();
        hub.publish(SyncId(3), vec![delta_at(3)]);
        assert!(receiver.try_recv().is_err(), "3 must wait for 2");
        hub.publish_from_log(vec![delta_at(2), delta_at(2), delta_at(3)]);
        let order: Vec<u64> = std::iter::from_fn(|| receiver.try_recv().ok())
            .map(|e| e.sync_id.0)
            .collect();
        assert_eq!(order, vec![2, 3], "each commit once, in order");
        hub.publish(SyncId(3), vec![delta_at(3)]);
        hub.publish(SyncId(4), vec![delta_at(4)]);
        assert_eq!(receiver.try_recv().unwrap().sync_id, SyncId(4));
        assert!(receiver.try_recv().is_err());
        assert_eq!(hub.published(), SyncId(4));
    }
}
