//! [`FieldPatch`]: one field of a generated patch type such as `TaskPatch`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A field of a patch: left alone, or set to a value.
///
/// For an optional model field the value is an `Option`, which gives the
/// three states the server tells apart: absent from the JSON (unchanged),
/// `null` (`Set(None)`), or a value (`Set(Some(v))`).
///
/// ```
/// use ablo_runtime::FieldPatch;
/// #[derive(serde::Serialize, serde::Deserialize, Default)]
/// struct NotePatch {
///     #[serde(default, skip_serializing_if = "FieldPatch::is_unchanged")]
///     summary: FieldPatch<Option<String>>,
/// }
/// let cleared = NotePatch { summary: FieldPatch::Set(None) };
/// assert_eq!(serde_json::to_string(&cleared).unwrap(), r#"{"summary":null}"#);
/// assert_eq!(serde_json::to_string(&NotePatch::default()).unwrap(), "{}");
/// let back: NotePatch = serde_json::from_str("{}").unwrap();
/// assert!(back.summary.is_unchanged());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum FieldPatch<T> {
    /// The field keeps its current value.
    #[default]
    Unchanged,
    /// The field takes this value.
    Set(T),
}

impl<T> FieldPatch<T> {
    /// Whether the field is left alone.
    pub fn is_unchanged(&self) -> bool {
        matches!(self, FieldPatch::Unchanged)
    }

    /// The new value, if one is set.
    ///
    /// ```
    /// use ablo_runtime::FieldPatch;
    /// assert_eq!(FieldPatch::Set(3).value(), Some(&3));
    /// assert_eq!(FieldPatch::<i32>::Unchanged.value(), None);
    /// ```
    pub fn value(&self) -> Option<&T> {
        match self {
            FieldPatch::Unchanged => None,
            FieldPatch::Set(value) => Some(value),
        }
    }
}

impl<T: Serialize> Serialize for FieldPatch<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            // Patch structs skip unchanged fields; reaching here means the
            // field was serialized on its own, where "nothing" is the best fit.
            FieldPatch::Unchanged => serializer.serialize_unit(),
            FieldPatch::Set(value) => value.serialize(serializer),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for FieldPatch<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(FieldPatch::Set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, Default, Debug)]
    struct TaskPatch {
        #[serde(default, skip_serializing_if = "FieldPatch::is_unchanged")]
        title: FieldPatch<String>,
        #[serde(default, skip_serializing_if = "FieldPatch::is_unchanged")]
        summary: FieldPatch<Option<String>>,
    }

    #[test]
    fn three_states_round_trip() {
        let patch: TaskPatch = serde_json::from_str(r#"{"summary": null}"#).unwrap();
        assert!(patch.title.is_unchanged());
        assert_eq!(patch.summary, FieldPatch::Set(None));
        let patch: TaskPatch = serde_json::from_str(r#"{"summary": "s"}"#).unwrap();
        assert_eq!(patch.summary, FieldPatch::Set(Some("s".into())));
    }

    #[test]
    fn required_fields_refuse_null() {
        let err = serde_json::from_str::<TaskPatch>(r#"{"title": null}"#).unwrap_err();
        assert!(err.to_string().contains("invalid type: null"), "{err}");
    }
}
