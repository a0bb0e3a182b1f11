//! What a capability allows: operations (`tasks.read`, `tasks.update`, ...)
//! and sync groups (`org:org_1`, `deck:*`, ...).
//!
//! Operation patterns: `model.action` exactly, `model.*` (every action on a
//! model), `*.action` (one action on every model) or `*`. Actions are `read`,
//! `create`, `update` and `delete`; `read` covers retrieve, list, deltas and
//! subscriptions.
//!
//! Group patterns: a group exactly, `prefix:*` (every group starting with
//! `prefix:`) or `*`. A row is within scope only when **every** one of its
//! groups is allowed, for reads and writes alike: a row in `org:a` and
//! `project:x` is invisible to a capability for `org:a` alone, so no
//! response can name `project:x` to it. A write must be within scope both
//! before and after it, so a capability cannot move a row out of, or into,
//! groups it may not see.

use std::fmt;

/// An action on a model, as capabilities name it.
///
/// ```
/// use ablo_server::capability::Action;
/// assert_eq!(Action::Update.to_string(), "update");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Retrieve, list, deltas, subscriptions.
    Read,
    /// Insert rows.
    Create,
    /// Change rows.
    Update,
    /// Remove rows.
    Delete,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a scope refused something; the message names what was missing.
///
/// ```
/// use ablo_server::capability::ScopeDenied;
/// let denied = ScopeDenied::Operation { operation: "tasks.delete".into() };
/// assert!(denied.to_string().contains("tasks.delete"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScopeDenied {
    /// The operation is not among the capability's operations.
    #[error("the capability does not allow operation `{operation}`")]
    Operation {
        /// The operation asked for, `model.action`.
        operation: String,
    },
    /// A group of the row (or subscription) is not among the capability's
    /// sync groups.
    #[error("the capability does not allow sync group `{group}`")]
    SyncGroup {
        /// The first group of the row (or subscription) that was refused.
        group: String,
    },
}

/// A capability's operations and sync groups.
///
/// ```
/// use ablo_server::capability::{Action, Scope};
/// let scope = Scope::new(["tasks.read", "tasks.update"], ["org:org_1", "deck:*"]).unwrap();
/// assert!(scope.check_operation("tasks", Action::Update).is_ok());
/// assert!(scope.check_operation("tasks", Action::Delete).is_err());
/// assert!(scope.check_row_groups(&["deck:7".to_string()]).is_ok());
/// assert!(scope.check_row_groups(&["org:org_2".to_string()]).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    operations: Vec<String>,
    sync_groups: Vec<String>,
}

/// A malformed pattern in a capability request.
///
/// ```
/// use ablo_server::capability::Scope;
/// let err = Scope::new(["tasks"], ["*"]).unwrap_err();
/// assert!(err.to_string().contains("tasks"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} `{pattern}`: {hint}")]
pub struct InvalidPattern {
    /// `operation` or `sync group`.
    pub what: &'static str,
    /// The pattern as given.
    pub pattern: String,
    /// What a valid one looks like.
    pub hint: &'static str,
}

impl Scope {
    /// A scope from operation and group patterns, checked for shape.
    pub fn new<O, G>(
        operations: impl IntoIterator<Item = O>,
        sync_groups: impl IntoIterator<Item = G>,
    ) -> Result<Scope, InvalidPattern>
    where
        O: Into<String>,
        G: Into<String>,
    {
        let operations: Vec<String> = operations.into_iter().map(Into::into).collect();
        let sync_groups: Vec<String> = sync_groups.into_iter().map(Into::into).collect();
        for op in &operations {
            validate_operation(op)?;
        }
        for group in &sync_groups {
            validate_group(group)?;
        }
        Ok(Scope {
            operations,
            sync_groups,
        })
    }

    /// A scope that allows everything (API keys).
    ///
    /// ```
    /// use ablo_server::capability::{Action, Scope};
    /// assert!(Scope::unrestricted().check_operation("anything", Action::Delete).is_ok());
    /// ```
    pub fn unrestricted() -> Scope {
        Scope {
            operations: vec!["*".into()],
            sync_groups: vec!["*".into()],
        }
    }

    /// The operation patterns.
    pub fn operations(&self) -> &[String] {
        &self.operations
    }

    /// The sync-group patterns.
    pub fn sync_groups(&self) -> &[String] {
        &self.sync_groups
    }

    /// Whether `action` on `model` is allowed.
    pub fn check_operation(&self, model: &str, action: Action) -> Result<(), ScopeDenied> {
        let allowed = self.operations.iter().any(|pattern| {
            let (m, a) = pattern.split_once('.').unwrap_or((pattern.as_str(), "*"));
            (m == "*" || m == model) && (a == "*" || a == action.as_str())
        });
        if allowed {
            Ok(())
        } else {
            Err(ScopeDenied::Operation {
                operation: format!("{model}.{action}"),
            })
        }
    }

    /// Whether one group is allowed.
    pub fn allows_group(&self, group: &str) -> bool {
        self.sync_groups
            .iter()
            .any(|pattern| group_matches(pattern, group))
    }

    /// Whether a row in `groups` is within scope: every group allowed.
    ///
    /// ```
    /// use ablo_server::capability::Scope;
    /// let scope = Scope::new(["*"], ["org:a"]).unwrap();
    /// assert!(scope.allows_row(&["org:a".to_string()]));
    /// assert!(!scope.allows_row(&["org:a".to_string(), "project:x".to_string()]));
    /// ```
    pub fn allows_row(&self, groups: &[String]) -> bool {
        groups.iter().all(|g| self.allows_group(g))
    }

    /// Like [`Scope::allows_row`], naming the first group refused. Only for
    /// groups the caller itself wrote (a create's or update's new groups):
    /// a row the caller cannot see is answered as not found instead.
    pub fn check_row_groups(&self, groups: &[String]) -> Result<(), ScopeDenied> {
        match groups.iter().find(|g| !self.allows_group(g)) {
            None => Ok(()),
            Some(group) => Err(ScopeDenied::SyncGroup {
                group: group.clone(),
            }),
        }
    }

    /// Whether the scope allows every group (`*`), so no row is filtered.
    pub fn allows_every_group(&self) -> bool {
        self.sync_groups.iter().any(|p| p == "*")
    }

    /// The group patterns split into exact groups and prefixes (for
    /// filtering rows inside a storage query).
    pub fn group_filter(&self) -> GroupPatterns {
        let mut patterns = GroupPatterns::default();
        for pattern in &self.sync_groups {
            match pattern.strip_suffix('*') {
                Some(prefix) => patterns.prefixes.push(prefix.to_owned()),
                None => patterns.exact.push(pattern.clone()),
            }
        }
        patterns
    }

    /// Whether a subscription to exactly these groups is allowed (every one).
    pub fn check_subscription(&self, groups: &[String]) -> Result<(), ScopeDenied> {
        match groups.iter().find(|g| !self.allows_group(g)) {
            None => Ok(()),
            Some(group) => Err(ScopeDenied::SyncGroup {
                group: group.clone(),
            }),
        }
    }
}

/// Sync-group patterns as a storage query filters by them: a row passes when
/// each of its groups equals one of `exact` or starts with one of
/// `prefixes` (an empty prefix, from `*`, lets every group pass).
///
/// ```
/// use ablo_server::capability::Scope;
/// let patterns = Scope::new(["*"], ["org:a", "deck:*"]).unwrap().group_filter();
/// assert_eq!(patterns.exact, ["org:a"]);
/// assert_eq!(patterns.prefixes, ["deck:"]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupPatterns {
    /// Groups allowed exactly.
    pub exact: Vec<String>,
    /// Prefixes every group starting with which is allowed.
    pub prefixes: Vec<String>,
}

fn group_matches(pattern: &str, group: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => group.starts_with(prefix),
        None => pattern == group,
    }
}

fn validate_operation(op: &str) -> Result<(), InvalidPattern> {
    let invalid = || InvalidPattern {
        what: "operation",
        pattern: op.to_owned(),
        hint: "use `model.action` with action read, create, update, delete or `*` (or `*` alone)",
    };
    if op == "*" {
        return Ok(());
    }
    let (model, action) = op.split_once('.').ok_or_else(invalid)?;
    let action_ok = matches!(action, "read" | "create" | "update" | "delete" | "*");
    if model.is_empty() || !action_ok {
        return Err(invalid());
    }
    Ok(())
}

fn validate_group(group: &str) -> Result<(), InvalidPattern> {
    let star_only_at_end = group.find('*').is_none_or(|i| i == group.len() - 1);
    if group.is_empty() || !star_only_at_end {
        return Err(InvalidPattern {
            what: "sync group",
            pattern: group.to_owned(),
            hint: "use a group such as `org:org_1`, a prefix such as `deck:*`, or `*`",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(list: &[&str]) -> Vec<String> {
        list.iter().map(|g| g.to_string()).collect()
    }

    #[test]
    fn operation_patterns_match_models_and_actions() {
        let scope = Scope::new(["tasks.*", "*.read"], ["*"]).unwrap();
        assert!(scope.check_operation("tasks", Action::Delete).is_ok());
        assert!(scope.check_operation("projects", Action::Read).is_ok());
        assert_eq!(
            scope.check_operation("projects", Action::Update),
            Err(ScopeDenied::Operation {
                operation: "projects.update".into()
            })
        );
    }

    #[test]
    fn a_row_is_in_scope_only_when_every_group_is_allowed() {
        let scope = Scope::new(["*"], ["org:a", "deck:*"]).unwrap();
        assert!(scope.allows_row(&groups(&["org:a", "deck:1"])));
        assert!(!scope.allows_row(&groups(&["org:b", "deck:1"])));
        assert_eq!(
            scope.check_row_groups(&groups(&["deck:1", "org:b"])),
            Err(ScopeDenied::SyncGroup {
                group: "org:b".into()
            })
        );
        assert_eq!(
            scope.check_row_groups(&groups(&["org:b"])),
            Err(ScopeDenied::SyncGroup {
                group: "org:b".into()
            })
        );
        assert!(scope.check_row_groups(&groups(&["org:ab"])).is_err());
    }

    #[test]
    fn subscriptions_need_every_group() {
        let scope = Scope::new(["*"], ["org:a"]).unwrap();
        assert!(scope.check_subscription(&groups(&["org:a"])).is_ok());
        assert!(
            scope
                .check_subscription(&groups(&["org:a", "org:b"]))
                .is_err()
        );
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for op in ["tasks", "tasks.fly", ".read", ""] {
            assert!(Scope::new([op], ["*"]).is_err(), "{op}");
        }
        for group in ["", "org:*:x", "*org"] {
            assert!(Scope::new(["*"], [group]).is_err(), "{group}");
        }
    }
}
