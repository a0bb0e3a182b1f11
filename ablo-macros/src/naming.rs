//! Wire names derived from Rust names: model names (plural camelCase of the
//! type), field names (camelCase, `Id` suffix for references) and enum values
//! (snake_case of the variant).

use heck::{ToLowerCamelCase, ToSnakeCase};

/// The default wire name of a model: the camelCase type name with its last
/// word made plural (`Task` → `tasks`, `TaskList` → `taskLists`).
pub fn model_wire_name(type_name: &str) -> String {
    pluralize(&type_name.to_lower_camel_case())
}

/// English plural by a small, predictable rule (irregular words need an
/// explicit `name = "..."`):
/// - after `s`, `x`, `z`, `ch` or `sh`: add `es` (`box` → `boxes`);
/// - after a consonant followed by `y`: `y` becomes `ies`
///   (`category` → `categories`, but `day` → `days`);
/// - otherwise add `s`.
pub fn pluralize(word: &str) -> String {
    let lower = word.to_ascii_lowercase();
    if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|end| lower.ends_with(end))
    {
        return format!("{word}es");
    }
    if let Some(stem) = word.strip_suffix('y') {
        let before = stem.chars().last().map(|c| c.to_ascii_lowercase());
        if before.is_some_and(|c| c.is_ascii_alphabetic() && !"aeiou".contains(c)) {
            return format!("{stem}ies");
        }
    }
    format!("{word}s")
}

/// The wire name of a field: camelCase of the Rust name, plus `Id` for a
/// `Ref<T>` or `Option<Ref<T>>` field (`project` → `projectId`).
pub fn field_wire_name(rust_name: &str, is_ref: bool) -> String {
    let camel = rust_name.to_lower_camel_case();
    if is_ref { format!("{camel}Id") } else { camel }
}

/// The wire value of an enum variant: snake_case (`InProgress` → `in_progress`).
pub fn variant_wire_value(variant: &str) -> String {
    variant.to_snake_case()
}

/// Whether a user-given wire name is usable everywhere the name travels: URL
/// paths, JSON keys, TypeScript properties and sync-group templates (the
/// shared rule, `schema::rules::is_wire_name`).
pub fn is_valid_wire_name(name: &str) -> bool {
    crate::rules::is_wire_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_are_plural_camel_case() {
        let cases = [
            ("Task", "tasks"),
            ("TaskList", "taskLists"),
            ("Category", "categories"),
            ("Box", "boxes"),
            ("Day", "days"),
            ("Address", "addresses"),
            ("Match", "matches"),
            ("Wish", "wishes"),
            ("HTTPRequest", "httpRequests"),
            ("Y", "ys"),
        ];
        for (rust, wire) in cases {
            assert_eq!(model_wire_name(rust), wire, "{rust}");
        }
    }

    #[test]
    fn field_names_are_camel_case_with_ref_suffix() {
        assert_eq!(field_wire_name("org_id", false), "orgId");
        assert_eq!(field_wire_name("project", true), "projectId");
        assert_eq!(field_wire_name("parent_task", true), "parentTaskId");
    }

    #[test]
    fn variant_values_are_snake_case() {
        assert_eq!(variant_wire_value("Todo"), "todo");
        assert_eq!(variant_wire_value("InProgress"), "in_progress");
    }

    #[test]
    fn wire_names_must_be_identifiers() {
        assert!(is_valid_wire_name("taskLists"));
        assert!(is_valid_wire_name("_x1"));
        assert!(!is_valid_wire_name(""));
        assert!(!is_valid_wire_name("1st"));
        assert!(!is_valid_wire_name("a-b"));
        assert!(!is_valid_wire_name("a b"));
    }
}
