//! The flat wire row (`StoredRow::to_wire`) built from stored JSON text
//! without parsing it: a snapshot of a million rows costs a copy per row,
//! not a parse and an encode.

use super::StorageError;

/// `{fields…,"id":…,"stamp":…,"createdAt":…,"updatedAt":…}` from the stored
/// `data` object text and the row's columns. `id`, `stamp` and the
/// timestamps are reserved names (never fields), so no key repeats.
pub(super) fn wire_row(
    data: &str,
    id: &str,
    stamp: i64,
    created_at: &str,
    updated_at: &str,
) -> Result<String, StorageError> {
    let fields = data
        .trim()
        .strip_prefix('{')
        .and_then(|d| d.strip_suffix('}'))
        .ok_or_else(|| StorageError::Corrupt(format!("row data is not an object: {data}")))?;
    let mut wire = String::with_capacity(data.len() + 40 + id.len() + 2 * created_at.len());
    wire.push('{');
    wire.push_str(fields);
    if !fields.trim().is_empty() {
        wire.push(',');
    }
    wire.push_str("\"id\":");
    push_json_str(&mut wire, id);
    wire.push_str(",\"stamp\":");
    wire.push_str(&stamp.to_string());
    wire.push_str(",\"createdAt\":");
    push_json_str(&mut wire, created_at);
    wire.push_str(",\"updatedAt\":");
    push_json_str(&mut wire, updated_at);
    wire.push('}');
    Ok(wire)
}

/// Appends `text` as a JSON string.
fn push_json_str(out: &mut String, text: &str) {
    if text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(&serde_json::Value::String(text.to_owned()).to_string());
    } else {
        out.push('"');
        out.push_str(text);
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_text_is_the_wire_row() {
        let wire = wire_row(
            r#"{"title":"a \"b\"","n":1}"#,
            "t\"1",
            7,
            "2026-01-01T00:00:00.000Z",
            "2026-01-02T00:00:00.000Z",
        )
        .unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&wire).unwrap();
        assert_eq!(
            parsed,
            json!({"title": "a \"b\"", "n": 1, "id": "t\"1", "stamp": 7,
                   "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-02T00:00:00.000Z"})
        );
        let empty: serde_json::Value =
            serde_json::from_str(&wire_row("{}", "x", 1, "a", "b").unwrap()).unwrap();
        assert_eq!(
            empty,
            json!({"id": "x", "stamp": 1, "createdAt": "a", "updatedAt": "b"})
        );
        assert!(wire_row("[1]", "x", 1, "a", "b").is_err());
    }
}
