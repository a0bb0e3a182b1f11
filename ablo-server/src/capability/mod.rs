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

mod registry;
mod scope;

pub use registry::{Capabilities, CapabilityRejected, MintRequest, OnBehalfOf};
pub use scope::{Action, InvalidPattern, Scope, ScopeDenied};

use ablo_runtime::wire::ErrorType;
use axum::http::StatusCode;
use serde_json::json;

use crate::error::ApiError;

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

/// The 403 for a scope denial, naming what was missing in the message and
/// in `details` (`{"operation": "tasks.delete"}` or `{"syncGroup": "org:b"}`).
///
/// ```
/// use ablo_server::capability::{denied, ScopeDenied};
/// let err = denied(ScopeDenied::SyncGroup { group: "org:b".into() });
/// assert_eq!(err.status().as_u16(), 403);
/// assert_eq!(err.details().unwrap()["syncGroup"], "org:b");
/// ```
pub fn denied(reason: ScopeDenied) -> ApiError {
    let details = match &reason {
        ScopeDenied::Operation { operation } => json!({"operation": operation}),
        ScopeDenied::SyncGroup { group } => json!({"syncGroup": group}),
    };
    ApiError::new(
        ErrorType::Permission,
        StatusCode::FORBIDDEN,
        codes::CAPABILITY_SCOPE_DENIED,
        reason.to_string(),
    )
    .with_details(details)
}

/// The 403 for a call only an API key may make (`what` names it, e.g.
/// `schema.push`).
///
/// ```
/// let err = ablo_server::capability::api_key_required("schema.push");
/// assert_eq!(err.code(), "api_key_required");
/// ```
pub fn api_key_required(what: &str) -> ApiError {
    ApiError::new(
        ErrorType::Permission,
        StatusCode::FORBIDDEN,
        codes::API_KEY_REQUIRED,
        format!("`{what}` needs an API key; a capability cannot do it"),
    )
    .with_details(json!({"operation": what}))
}

/// Reads of `model` must be among the credential's operations.
pub(crate) fn authorize_read(
    principal: &crate::auth::Principal,
    model: &str,
) -> Result<(), ApiError> {
    if principal.is_api_key() {
        return Ok(());
    }
    principal
        .scope
        .check_operation(model, Action::Read)
        .map_err(denied)
}

/// A row read must be within the credential's sync groups.
pub(crate) fn authorize_row_read(
    principal: &crate::auth::Principal,
    groups: &[String],
) -> Result<(), ApiError> {
    if principal.is_api_key() {
        return Ok(());
    }
    principal.scope.check_row_groups(groups).map_err(denied)
}

/// What a subscriber receives of a delta: nothing, the delta itself, or,
/// when the row has left every group the subscriber sees, the delta as a
/// removal ([`Delta::as_removal`]), so that it drops the row without
/// learning its new content. A subscriber sees a group when it asked for it
/// (`asked`; `None` asks for every group) and its credential may read it
/// (`principal`; `None` for an API key).
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
    let sees = |group: &String| {
        asked.is_none_or(|asked| asked.contains(group))
            && principal.is_none_or(|p| p.scope.allows_group(group))
    };
    if delta.sync_groups.iter().any(sees) {
        Some(std::borrow::Cow::Borrowed(delta))
    } else if delta.left_sync_groups.iter().any(sees) {
        Some(std::borrow::Cow::Owned(delta.as_removal()))
    } else {
        None
    }
}
