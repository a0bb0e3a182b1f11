//! Pretty JSON with a chosen order of top-level keys (header first, then the
//! keys a reader looks for), nested keys sorted, and a final newline.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

struct Ordered<'a>(&'a [(&'a str, Value)]);

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// Renders an object whose top-level keys appear in the given order.
pub(crate) fn pretty_ordered(entries: &[(&str, Value)]) -> String {
    let mut out = serde_json::to_string_pretty(&Ordered(entries)).expect("JSON values serialize");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_top_level_order_and_sorts_nested_keys() {
        let text = pretty_ordered(&[
            ("z", Value::from(1)),
            ("a", serde_json::json!({"y": 1, "b": 2})),
        ]);
        assert_eq!(
            text,
            "{\n  \"z\": 1,\n  \"a\": {\n    \"b\": 2,\n    \"y\": 1\n  }\n}\n"
        );
    }
}
