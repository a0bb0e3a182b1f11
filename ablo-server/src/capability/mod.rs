//! Capabilities: scoped, expiring, revocable credentials minted with an API
//! key for an `agent`, `user` or `system` participant, optionally acting on
//! behalf of another participant.
//!
//! A token is `cap_` and 64 hex digits from the operating system's random
//! source; only its SHA-256 hash is stored. The table of capabilities lives
//! in memory (loaded at start, written through to storage), so checking a
//! token costs one hash and one map lookup, and a revocation holds for the
//! very next request. Open WebSocket sessions of a revoked capability are
//! told through [`Capabilities::ended`].

mod error;
mod registry;

pub use crate::scope::{Action, GroupPatterns, InvalidPattern, Scope, ScopeDenied};
pub use error::AccessError;
pub use registry::{Capabilities, CapabilityRejected, MintRequest, OnBehalfOf};

/// Error codes of the authority path (`authentication` 401, `permission`
/// 403, `not_found` 404, `validation` 422, `rate_limit` 429).
///
/// ```
/// assert_eq!(ablo_server::capability::codes::CAPABILITY_SCOPE_DENIED, "capability_scope_denied");
/// ```
pub mod codes {
    /// 401: the capability's expiry has passed.
    pub const CAPABILITY_EXPIRED: &str = "capability_expired";
    /// 401: the capability was revoked.
    pub const CAPABILITY_REVOKED: &str = "capability_revoked";
    /// 403: the credential does not allow the operation or sync group named
    /// in `details`.
    pub const CAPABILITY_SCOPE_DENIED: &str = "capability_scope_denied";
    /// 403: the call needs an API key; a capability cannot make it.
    pub const API_KEY_REQUIRED: &str = "api_key_required";
    /// 422: a capability request is not valid.
    pub const INVALID_CAPABILITY: &str = "invalid_capability";
    /// 404: no capability with that id.
    pub const CAPABILITY_NOT_FOUND: &str = "capability_not_found";
    /// 404: no agent run (task) with that id.
    pub const TASK_NOT_FOUND: &str = "task_not_found";
    /// 409: the agent run is already closed.
    pub const TASK_CLOSED: &str = "task_closed";
    /// 429: too many requests with this credential; see `Retry-After`.
    pub const RATE_LIMITED: &str = "rate_limited";
}

/// Reads of `model` must be among the credential's operations.
pub(crate) fn authorize_read(
    principal: &crate::auth::Principal,
    model: &str,
) -> Result<(), AccessError> {
    if principal.is_api_key() {
        return Ok(());
    }
    principal
        .scope
        .check_operation(model, Action::Read)
        .map_err(AccessError::from)
}

/// A claim is a promise to write: it needs a write operation (`create`,
/// `update` or `delete`) on the model besides `read`.
pub(crate) fn authorize_claim(
    principal: &crate::auth::Principal,
    model: &str,
) -> Result<(), AccessError> {
    if principal.is_api_key() {
        return Ok(());
    }
    let scope = &principal.scope;
    let writes = [Action::Update, Action::Delete, Action::Create]
        .into_iter()
        .any(|action| scope.check_operation(model, action).is_ok());
    if writes {
        Ok(())
    } else {
        Err(AccessError::ScopeDenied(ScopeDenied::Operation {
            operation: format!("{model}.update"),
        }))
    }
}

/// Whether a row in `groups` is within the credential's sync groups
/// (every group allowed). A row outside them is answered as not found.
pub(crate) fn can_read_row(principal: &crate::auth::Principal, groups: &[String]) -> bool {
    principal.is_api_key() || principal.scope.allows_row(groups)
}

/// Whether the credential may read `model` and a row of it in `groups`:
/// what decides whether an intent, a claim or presence on the row reaches a
/// subscriber.
pub(crate) fn can_see(principal: &crate::auth::Principal, model: &str, groups: &[String]) -> bool {
    principal.is_api_key()
        || (principal.scope.check_operation(model, Action::Read).is_ok()
            && principal.scope.allows_row(groups))
}

/// What a subscriber receives of a delta: nothing, the delta itself, or,
/// when the row has left its view, the delta as a removal
/// ([`Delta::as_removal`]), so that it drops the row without learning its
/// new content. A subscriber sees a row when it asked for one of the row's
/// groups (`asked`; `None` asks for every group) and its credential may
/// read the model and every group of the row (`principal`; `None` for an
/// API key). A removal goes only to subscribers that saw the row before the
/// change.
///
/// [`Delta::as_removal`]: ablo_runtime::wire::Delta::as_removal
pub(crate) fn delta_view<'d>(
    principal: Option<&crate::auth::Principal>,
    asked: Option<&std::collections::HashSet<String>>,
    delta: &'d ablo_runtime::wire::Delta,
) -> Option<std::borrow::Cow<'d, ablo_runtime::wire::Delta>> {
    let principal = principal.filter(|p| !p.is_api_key());
    if let Some(principal) = principal
        && principal
            .scope
            .check_operation(&delta.model, Action::Read)
            .is_err()
    {
        return None;
    }
    let sees = |groups: &[String]| {
        asked.is_none_or(|asked| groups.iter().any(|g| asked.contains(g)))
            && principal.is_none_or(|p| p.scope.allows_row(groups))
    };
    if sees(&delta.sync_groups) {
        // The groups it left may be ones this subscriber never saw.
        return match principal {
            Some(p)
                if delta
                    .left_sync_groups
                    .iter()
                    .any(|g| !p.scope.allows_group(g)) =>
            {
                let mut shown = delta.clone();
                shown.left_sync_groups.retain(|g| p.scope.allows_group(g));
                Some(std::borrow::Cow::Owned(shown))
            }
            _ => Some(std::borrow::Cow::Borrowed(delta)),
        };
    }
    if delta.left_sync_groups.is_empty() && delta.entered_sync_groups.is_empty() {
        return None;
    }
    let before: Vec<String> = delta
        .sync_groups
        .iter()
        .filter(|g| !delta.entered_sync_groups.contains(g))
        .chain(&delta.left_sync_groups)
        .cloned()
        .collect();
    sees(&before).then(|| std::borrow::Cow::Owned(delta.as_removal()))
}
