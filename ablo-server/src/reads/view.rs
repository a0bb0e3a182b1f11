//! What one reader sees: the groups it asked for, narrowed by what its
//! credential may read. The same rules decide the deltas of a
//! `GET /v1/sync/deltas` page, a replay, a live commit and a snapshot, and
//! the intents and presence a subscriber hears of.

use std::borrow::Cow;
use std::collections::HashSet;

use ablo_runtime::wire::Delta;
use axum::extract::ws::Utf8Bytes;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::fanout::VisibilityClass;
use crate::scope::GroupPatterns;

/// The groups a reader asked for (`None` for every group) and the
/// credential that narrows them (`None` for an API key, which reads
/// everything).
#[derive(Clone)]
pub(crate) struct ReaderView {
    asked: Option<HashSet<String>>,
    reader: Option<Principal>,
}

impl ReaderView {
    /// The view of `principal` on `asked`, or the capability's
    /// `capability_scope_denied` when it asks for a group outside its scope.
    pub(crate) fn new(
        principal: &Principal,
        asked: Option<HashSet<String>>,
    ) -> Result<ReaderView, ApiError> {
        if principal.is_api_key() {
            return Ok(ReaderView {
                asked,
                reader: None,
            });
        }
        if let Some(groups) = &asked {
            let groups: Vec<String> = groups.iter().cloned().collect();
            principal
                .scope
                .check_subscription(&groups)
                .map_err(crate::capability::AccessError::from)?;
        }
        Ok(ReaderView {
            asked,
            reader: Some(principal.clone()),
        })
    }

    /// Whether every delta passes unchanged (no group list, API key).
    pub(crate) fn admits_all(&self) -> bool {
        self.asked.is_none() && self.reader.is_none()
    }

    /// Whether a row, an intent or presence on a row of `model` in `groups`
    /// is shown.
    pub(crate) fn admits(&self, model: &str, groups: &[String]) -> bool {
        let asked = match &self.asked {
            None => true,
            Some(allowed) => groups.iter().any(|g| allowed.contains(g)),
        };
        asked
            && self
                .reader
                .as_ref()
                .is_none_or(|principal| crate::capability::can_see(principal, model, groups))
    }

    /// The deltas shown of `deltas`, borrowed where shown as they are
    /// ([`crate::capability::delta_view`]).
    pub(crate) fn shown<'d>(&self, deltas: &'d [Delta]) -> Vec<Cow<'d, Delta>> {
        deltas
            .iter()
            .filter_map(|d| {
                crate::capability::delta_view(self.reader.as_ref(), self.asked.as_ref(), d)
            })
            .collect()
    }

    /// The `deltas` message shown of `deltas` (`None` when none is shown),
    /// serialized from borrows: only deltas shown differently (removals,
    /// fewer left groups) are copied.
    pub(crate) fn message(&self, deltas: &[Delta]) -> Option<Utf8Bytes> {
        self.message_text(deltas).map(Utf8Bytes::from)
    }

    /// [`ReaderView::message`] as a `String`.
    pub(crate) fn message_text(&self, deltas: &[Delta]) -> Option<String> {
        let shown = self.shown(deltas);
        (!shown.is_empty()).then(|| crate::fanout::deltas_text(&shown))
    }

    /// The class of readers that see every commit as this one does, so they
    /// share each commit's message.
    pub(crate) fn visibility_class(&self) -> VisibilityClass {
        VisibilityClass::new(self.reader.as_ref().map(|p| &*p.scope), self.asked.as_ref())
    }

    /// The groups storage may read rows from for this reader (`None` for
    /// every group).
    pub(super) fn visible_groups(&self) -> Option<GroupPatterns> {
        self.reader.as_ref().map(|p| p.scope.group_filter())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ablo_runtime::wire::{Actor, DeltaAction, ParticipantKind};
    use ablo_runtime::{SyncId, Timestamp};

    use super::*;
    use crate::auth::Grant;
    use crate::scope::Scope;

    fn capability(operations: &[&str], groups: &[&str]) -> Principal {
        Principal {
            actor: Actor {
                kind: ParticipantKind::Agent,
                id: "agent_1".into(),
            },
            on_behalf_of: None,
            grant: Some(Grant {
                id: "cap_1".into(),
                label: None,
                expires_at: Timestamp::now(),
            }),
            scope: Arc::new(Scope::new(operations.to_vec(), groups.to_vec()).unwrap()),
        }
    }

    /// A delta on a row now in `groups`; `moved_from` the groups it left
    /// (each group of `groups` is then one it entered).
    fn delta(model: &str, groups: &[&str], moved_from: &[&str]) -> Delta {
        let strings = |groups: &[&str]| groups.iter().map(|g| g.to_string()).collect();
        Delta {
            sync_id: SyncId(1),
            model: model.into(),
            id: "r1".into(),
            action: DeltaAction::Update,
            data: serde_json::json!({"id": "r1", "title": "secret"}),
            changed_fields: vec!["title".into()],
            client_tx_id: "tx_1".into(),
            actor: Actor {
                kind: ParticipantKind::System,
                id: "key".into(),
            },
            sync_groups: strings(groups),
            left_sync_groups: strings(moved_from),
            entered_sync_groups: if moved_from.is_empty() {
                vec![]
            } else {
                strings(groups)
            },
            flagged: false,
        }
    }

    fn asked(groups: &[&str]) -> Option<HashSet<String>> {
        Some(groups.iter().map(|g| g.to_string()).collect())
    }

    #[test]
    fn an_api_key_sees_everything_it_asks_for() {
        let key = Principal::api_key("key_1");
        let all = ReaderView::new(&key, None).unwrap();
        assert!(all.admits_all());
        assert!(all.visible_groups().is_none());
        assert!(all.admits("notes", &["team:blue".into()]));
        let red = ReaderView::new(&key, asked(&["team:red"])).unwrap();
        assert!(!red.admits_all());
        assert!(!red.admits("notes", &["team:blue".into()]));
        assert!(red.shown(&[delta("notes", &["team:blue"], &[])]).is_empty());
    }

    #[test]
    fn a_capability_may_not_ask_for_groups_outside_its_scope() {
        let reader = capability(&["tasks.read"], &["team:red"]);
        let err = ReaderView::new(&reader, asked(&["team:blue"]))
            .err()
            .expect("refused");
        assert_eq!(err.code(), "capability_scope_denied");
        assert!(ReaderView::new(&reader, asked(&["team:red"])).is_ok());
    }

    #[test]
    fn a_capability_sees_its_models_and_groups_and_removals_of_rows_it_saw() {
        let view = ReaderView::new(&capability(&["tasks.read"], &["team:red"]), None).unwrap();
        assert!(!view.admits_all());
        assert!(view.visible_groups().is_some());
        assert!(view.admits("tasks", &["team:red".into()]));
        assert!(!view.admits("tasks", &["team:blue".into()]));
        assert!(!view.admits("notes", &["team:red".into()]));
        let deltas = [
            delta("tasks", &["team:red"], &[]),
            delta("tasks", &["team:blue"], &[]),
            delta("notes", &["team:red"], &[]),
            delta("tasks", &["team:blue"], &["team:red"]),
        ];
        let shown = view.shown(&deltas);
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert_eq!(shown[0].as_ref(), &deltas[0]);
        assert_eq!(shown[1].as_ref(), &deltas[3].as_removal());
        let text = view.message_text(&deltas).unwrap();
        assert!(text.starts_with(r#"{"type":"deltas""#), "{text}");
        assert!(view.message(&deltas[1..3]).is_none());
    }
}
