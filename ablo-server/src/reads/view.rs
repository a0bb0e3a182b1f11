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
                .map_err(crate::capability::denied)?;
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
