//! The naming rules of a schema, in one place: which names a model, field,
//! enum or object may have, and which field names every row already
//! carries. The macros (at compile time), the server (on push) and code
//! generation (before rendering) all apply these.
//!
//! This file uses the standard library only, so the proc-macro crate can
//! compile it without depending on the runtime's client stack.

/// Wire names of the row envelope: every row carries these beside its
/// model's fields, so a model field may not use them.
///
/// ```
/// use ablo_runtime::schema::rules::RESERVED_ROW_FIELDS;
/// assert_eq!(RESERVED_ROW_FIELDS, ["id", "stamp", "createdAt", "updatedAt"]);
/// ```
pub const RESERVED_ROW_FIELDS: [&str; 4] = ["id", "stamp", "createdAt", "updatedAt"];

/// The longest name a model, field, enum or object may have, in bytes.
///
/// ```
/// assert_eq!(ablo_runtime::schema::rules::MAX_NAME_LEN, 64);
/// ```
pub const MAX_NAME_LEN: usize = 64;

/// Whether `name` may name a model or field on the wire: ASCII letters,
/// digits and `_`, not starting with a digit, at most [`MAX_NAME_LEN`]
/// bytes. Such a name is safe in URL paths, JSON keys, TypeScript
/// properties and sync-group templates.
///
/// ```
/// use ablo_runtime::schema::rules::is_wire_name;
/// assert!(is_wire_name("taskLists"));
/// assert!(is_wire_name("_x1"));
/// assert!(!is_wire_name(""));
/// assert!(!is_wire_name("1st"));
/// assert!(!is_wire_name("task-lists"));
/// assert!(!is_wire_name(&"a".repeat(65)));
/// ```
pub fn is_wire_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= MAX_NAME_LEN
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `name` may name a type (a model's Rust type, an enum, an object
/// or the schema itself): the same characters as a wire name, since the
/// name becomes a Rust, TypeScript and JSON Schema identifier.
///
/// ```
/// use ablo_runtime::schema::rules::is_type_name;
/// assert!(is_type_name("TaskStatus"));
/// assert!(!is_type_name("Task Item"));
/// assert!(!is_type_name("task-status"));
/// ```
pub fn is_type_name(name: &str) -> bool {
    is_wire_name(name)
}

/// Whether a model field with this wire name would clash with the row
/// envelope ([`RESERVED_ROW_FIELDS`]).
///
/// ```
/// use ablo_runtime::schema::rules::is_reserved_row_field;
/// assert!(is_reserved_row_field("stamp"));
/// assert!(!is_reserved_row_field("title"));
/// ```
pub fn is_reserved_row_field(name: &str) -> bool {
    RESERVED_ROW_FIELDS.contains(&name)
}

/// The field names a sync-group template uses: `org:{orgId}` → `orgId`.
///
/// ```
/// use ablo_runtime::schema::rules::placeholders;
/// let names: Vec<_> = placeholders("org:{orgId}:team:{teamId}").collect();
/// assert_eq!(names, ["orgId", "teamId"]);
/// ```
pub fn placeholders(template: &str) -> impl Iterator<Item = &str> {
    template
        .split('{')
        .skip(1)
        .filter_map(|part| part.split_once('}').map(|(name, _)| name))
}

/// The reserved names as a readable list: `` `id`, `stamp`, `createdAt` and
/// `updatedAt` ``.
///
/// ```
/// let text = ablo_runtime::schema::rules::reserved_row_fields_text();
/// assert_eq!(text, "`id`, `stamp`, `createdAt` and `updatedAt`");
/// ```
pub fn reserved_row_fields_text() -> String {
    let quoted: Vec<String> = RESERVED_ROW_FIELDS
        .iter()
        .map(|name| format!("`{name}`"))
        .collect();
    let (last, rest) = quoted.split_last().expect("four names");
    format!("{} and {last}", rest.join(", "))
}
