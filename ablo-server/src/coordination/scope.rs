//! Which part of a row a write or an intent covers.

use ablo_runtime::wire::Target;

/// The part of a row a write touches: all of it (create, delete) or some of
/// its fields (update).
///
/// ```
/// use ablo_server::coordination::WriteScope;
/// let scope = WriteScope::fields(["status"]);
/// assert!(scope.touches_field("status"));
/// assert!(!scope.touches_field("title"));
/// assert!(WriteScope::Row.touches_field("title"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteScope {
    /// Every field of the row.
    Row,
    /// Only these fields (wire names).
    Fields(Vec<String>),
}

impl WriteScope {
    /// A scope over the given fields.
    pub fn fields<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        WriteScope::Fields(names.into_iter().map(Into::into).collect())
    }

    /// Whether the write touches this field.
    pub fn touches_field(&self, field: &str) -> bool {
        match self {
            WriteScope::Row => true,
            WriteScope::Fields(fields) => fields.iter().any(|f| f == field),
        }
    }

    /// Whether an intent on `target` covers part of what this write touches:
    /// a whole-row intent covers every write; a field intent covers writes
    /// that touch its field.
    pub(crate) fn is_covered_by(&self, target: &Target) -> bool {
        match &target.field {
            None => true,
            Some(field) => self.touches_field(field),
        }
    }
}

/// Whether two targets name the same row.
pub(crate) fn same_row(a: &Target, b: &Target) -> bool {
    a.model == b.model && a.id == b.id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(field: Option<&str>) -> Target {
        Target {
            model: "tasks".into(),
            id: "t1".into(),
            field: field.map(str::to_owned),
        }
    }

    #[test]
    fn field_targets_overlap_only_on_the_same_field() {
        assert!(target(None).overlaps(&target(Some("status"))));
        assert!(target(Some("status")).overlaps(&target(Some("status"))));
        assert!(!target(Some("status")).overlaps(&target(Some("title"))));
        let other_row = Target {
            id: "t2".into(),
            ..target(None)
        };
        assert!(!target(None).overlaps(&other_row));
    }

    #[test]
    fn writes_are_covered_by_row_intents_and_matching_field_intents() {
        let write = WriteScope::fields(["title"]);
        assert!(write.is_covered_by(&target(None)));
        assert!(write.is_covered_by(&target(Some("title"))));
        assert!(!write.is_covered_by(&target(Some("status"))));
        assert!(WriteScope::Row.is_covered_by(&target(Some("status"))));
    }
}
