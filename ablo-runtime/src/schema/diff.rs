//! [`diff`]: every change between two descriptors, each marked breaking or
//! not for clients built against the old one.
//!
//! A change is breaking when a client generated from the old schema can stop
//! working against a server running the new one:
//!
//! | change | breaking | why |
//! |---|---|---|
//! | model, enum or object removed | yes | its endpoints or types disappear |
//! | model wire name changed (same Rust type) | yes | its URL changes |
//! | model Rust type renamed (same wire name) | yes | the TypeScript names change |
//! | field removed | yes | readers lose it, writers' data is refused |
//! | field wire name changed (same Rust field) | yes | a removal plus an addition on the wire |
//! | field type changed | yes | values no longer fit the old type |
//! | optional field made required | yes | old creates that leave it out are refused |
//! | required field made optional | yes | readers may now get `null` |
//! | required field added | yes | old creates leave it out |
//! | enum variant removed | yes | old writers may send it |
//! | model, enum, object, optional field or enum variant added | no | old clients ignore it |
//! | index, sync groups, doc comment or schema name changed | no | the wire format is the same |

use std::fmt;

use super::{FieldDescriptor, FieldType, ModelDescriptor, SchemaDescriptor};

/// One difference between two descriptors.
///
/// ```
/// let change = ablo_runtime::schema::SchemaChange {
///     subject: "tasks.title".into(),
///     description: "field removed".into(),
///     breaking: true,
/// };
/// assert_eq!(change.to_string(), "BREAKING tasks.title: field removed");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SchemaChange {
    /// What changed: `tasks`, `tasks.title`, `enum TaskStatus`,
    /// `object Address.city`.
    pub subject: String,
    /// What happened to it, in words.
    pub description: String,
    /// Whether clients built against the old schema can break.
    pub breaking: bool,
}

impl fmt::Display for SchemaChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = if self.breaking { "BREAKING" } else { "ok" };
        write!(f, "{mark} {}: {}", self.subject, self.description)
    }
}

/// Every change between two descriptors, in a stable order (schema, models,
/// enums, objects).
///
/// ```
/// # use ablo_runtime::{SchemaDescriptor, TypeRegistry};
/// let a = SchemaDescriptor::build("App", vec![], TypeRegistry::default());
/// let diff = ablo_runtime::schema::diff(&a, &a);
/// assert!(diff.changes.is_empty());
/// assert!(!diff.is_breaking());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaDiff {
    /// The changes.
    pub changes: Vec<SchemaChange>,
}

impl SchemaDiff {
    /// Whether any change is breaking.
    ///
    /// ```
    /// use ablo_runtime::schema::{SchemaChange, SchemaDiff};
    /// let change = |breaking| SchemaChange { subject: "tasks".into(), description: "d".into(), breaking };
    /// assert!(!SchemaDiff { changes: vec![change(false)] }.is_breaking());
    /// assert!(SchemaDiff { changes: vec![change(false), change(true)] }.is_breaking());
    /// ```
    pub fn is_breaking(&self) -> bool {
        self.changes.iter().any(|c| c.breaking)
    }

    /// The breaking changes only.
    ///
    /// ```
    /// let diff = ablo_runtime::schema::SchemaDiff::default();
    /// assert_eq!(diff.breaking().count(), 0);
    /// ```
    pub fn breaking(&self) -> impl Iterator<Item = &SchemaChange> {
        self.changes.iter().filter(|c| c.breaking)
    }

    fn push(&mut self, subject: impl Into<String>, description: impl Into<String>, breaking: bool) {
        self.changes.push(SchemaChange {
            subject: subject.into(),
            description: description.into(),
            breaking,
        });
    }
}

impl fmt::Display for SchemaDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.changes.is_empty() {
            return writeln!(f, "no changes");
        }
        for change in &self.changes {
            writeln!(f, "{change}")?;
        }
        let breaking = self.breaking().count();
        writeln!(f, "{} change(s), {breaking} breaking", self.changes.len())
    }
}

/// Lists every change from `old` to `new`, marking breaking ones (see the
/// module documentation for the rules).
///
/// ```
/// use ablo_runtime::{FieldDescriptor, FieldType, ModelDescriptor, SchemaDescriptor, TypeRegistry};
/// let model = |fields| ModelDescriptor { name: "tasks".into(), type_name: "Task".into(),
///     doc: None, fields, sync_groups: vec![], ts: String::new(), json_schema: serde_json::json!({}) };
/// let title = FieldDescriptor::new("title", "title", FieldType::String);
/// let note = FieldDescriptor::new("note", "note", FieldType::optional(FieldType::String));
/// let old = SchemaDescriptor::build("App", vec![model(vec![title.clone()])], TypeRegistry::default());
/// let added = SchemaDescriptor::build("App", vec![model(vec![title, note])], TypeRegistry::default());
/// assert!(!ablo_runtime::schema::diff(&old, &added).is_breaking());
/// assert!(ablo_runtime::schema::diff(&added, &old).is_breaking());
/// ```
pub fn diff(old: &SchemaDescriptor, new: &SchemaDescriptor) -> SchemaDiff {
    let mut out = SchemaDiff::default();
    if old.name != new.name {
        out.push(
            "schema",
            format!("renamed from `{}` to `{}`", old.name, new.name),
            false,
        );
    }
    diff_models(old, new, &mut out);
    diff_enums(old, new, &mut out);
    diff_objects(old, new, &mut out);
    out
}

/// Whether a client built with `client` may work against a server holding
/// `server`: the two are the same schema (equal hashes), or the server's is
/// an additive evolution of the client's, that is [`diff`]`(client, server)`
/// has no breaking change. The server may then hold more models, optional
/// fields and enum variants than the client knows, and differ in indexes,
/// sync groups and doc comments. On failure, the breaking changes.
///
/// ```
/// use ablo_runtime::{FieldDescriptor, FieldType, ModelDescriptor, SchemaDescriptor, TypeRegistry};
/// use ablo_runtime::schema::compatible;
/// let model = |fields| ModelDescriptor { name: "tasks".into(), type_name: "Task".into(),
///     doc: None, fields, sync_groups: vec![], ts: String::new(), json_schema: serde_json::json!({}) };
/// let title = FieldDescriptor::new("title", "title", FieldType::String);
/// let note = FieldDescriptor::new("note", "note", FieldType::optional(FieldType::String));
/// let client = SchemaDescriptor::build("App", vec![model(vec![title.clone()])], TypeRegistry::default());
/// let server = SchemaDescriptor::build("App", vec![model(vec![title, note])], TypeRegistry::default());
/// assert!(compatible(&client, &server).is_ok());
/// let breaking = compatible(&server, &client).unwrap_err();
/// assert_eq!(breaking.changes[0].subject, "tasks.note");
/// ```
pub fn compatible(client: &SchemaDescriptor, server: &SchemaDescriptor) -> Result<(), SchemaDiff> {
    if client.hash == server.hash {
        return Ok(());
    }
    let changes = diff(client, server);
    if changes.is_breaking() {
        Err(SchemaDiff {
            changes: changes.breaking().cloned().collect(),
        })
    } else {
        Ok(())
    }
}

fn diff_models(old: &SchemaDescriptor, new: &SchemaDescriptor, out: &mut SchemaDiff) {
    // A model whose wire name changed but whose Rust type did not is a rename.
    let renamed_to = |model: &ModelDescriptor| {
        new.models
            .iter()
            .find(|m| m.type_name == model.type_name && old.model(&m.name).is_none())
    };
    for old_model in &old.models {
        if let Some(new_model) = new.model(&old_model.name) {
            diff_model(old_model, new_model, out);
        } else if let Some(new_model) = renamed_to(old_model) {
            out.push(
                &old_model.name,
                format!(
                    "wire name changed from `{}` to `{}`",
                    old_model.name, new_model.name
                ),
                true,
            );
            diff_model(old_model, new_model, out);
        } else {
            out.push(&old_model.name, "model removed", true);
        }
    }
    for new_model in &new.models {
        let existed = old.model(&new_model.name).is_some()
            || old
                .models
                .iter()
                .any(|m| m.type_name == new_model.type_name && new.model(&m.name).is_none());
        if !existed {
            out.push(&new_model.name, "model added", false);
        }
    }
}

fn diff_model(old: &ModelDescriptor, new: &ModelDescriptor, out: &mut SchemaDiff) {
    let subject = &new.name;
    if old.type_name != new.type_name {
        out.push(
            subject,
            format!(
                "Rust type renamed from `{}` to `{}` (TypeScript names change)",
                old.type_name, new.type_name
            ),
            true,
        );
    }
    if old.sync_groups != new.sync_groups {
        out.push(
            subject,
            format!(
                "sync groups changed from {:?} to {:?}",
                old.sync_groups, new.sync_groups
            ),
            false,
        );
    }
    if old.doc != new.doc {
        out.push(subject, "doc comment changed", false);
    }
    diff_fields(subject, &old.fields, &new.fields, out);
}

fn diff_fields(
    owner: &str,
    old: &[FieldDescriptor],
    new: &[FieldDescriptor],
    out: &mut SchemaDiff,
) {
    let find =
        |fields: &[FieldDescriptor], name: &str| fields.iter().find(|f| f.name == name).cloned();
    // A field whose wire name changed but whose Rust name did not is a rename.
    let renamed_to = |field: &FieldDescriptor| {
        new.iter()
            .find(|f| f.rust_name == field.rust_name && find(old, &f.name).is_none())
            .cloned()
    };
    for old_field in old {
        let subject = format!("{owner}.{}", old_field.name);
        if let Some(new_field) = find(new, &old_field.name) {
            diff_field(&subject, old_field, &new_field, out);
        } else if let Some(new_field) = renamed_to(old_field) {
            out.push(
                &subject,
                format!(
                    "wire name changed from `{}` to `{}`",
                    old_field.name, new_field.name
                ),
                true,
            );
            diff_field(&subject, old_field, &new_field, out);
        } else {
            out.push(subject, "field removed", true);
        }
    }
    for new_field in new {
        let existed = find(old, &new_field.name).is_some()
            || old
                .iter()
                .any(|f| f.rust_name == new_field.rust_name && find(new, &f.name).is_none());
        if !existed {
            let subject = format!("{owner}.{}", new_field.name);
            let ty = describe(&new_field.ty);
            if new_field.is_required() {
                out.push(
                    subject,
                    format!("required field added ({ty}); creates that leave it out are refused"),
                    true,
                );
            } else {
                out.push(subject, format!("optional field added ({ty})"), false);
            }
        }
    }
}

fn diff_field(subject: &str, old: &FieldDescriptor, new: &FieldDescriptor, out: &mut SchemaDiff) {
    match (&old.ty, &new.ty) {
        (a, b) if a == b => {}
        (FieldType::Optional { of }, b) if **of == *b => out.push(
            subject,
            format!("optional made required ({})", describe(b)),
            true,
        ),
        (a, FieldType::Optional { of }) if **of == *a => out.push(
            subject,
            format!(
                "required made optional ({}); readers may now get null",
                describe(a)
            ),
            true,
        ),
        (a, b) => out.push(
            subject,
            format!("type changed from {} to {}", describe(a), describe(b)),
            true,
        ),
    }
    if old.indexed != new.indexed {
        let what = if new.indexed {
            "index added"
        } else {
            "index removed"
        };
        out.push(subject, what, false);
    }
    if old.doc != new.doc {
        out.push(subject, "doc comment changed", false);
    }
}

fn diff_enums(old: &SchemaDescriptor, new: &SchemaDescriptor, out: &mut SchemaDiff) {
    for old_enum in &old.enums {
        let subject = format!("enum {}", old_enum.name);
        let Some(new_enum) = new.enum_named(&old_enum.name) else {
            out.push(subject, "enum removed", true);
            continue;
        };
        for variant in &old_enum.variants {
            if !new_enum.variants.contains(variant) {
                out.push(&subject, format!("variant `{variant}` removed"), true);
            }
        }
        for variant in &new_enum.variants {
            if !old_enum.variants.contains(variant) {
                out.push(&subject, format!("variant `{variant}` added"), false);
            }
        }
        if old_enum.doc != new_enum.doc {
            out.push(&subject, "doc comment changed", false);
        }
    }
    for new_enum in &new.enums {
        if old.enum_named(&new_enum.name).is_none() {
            out.push(format!("enum {}", new_enum.name), "enum added", false);
        }
    }
}

fn diff_objects(old: &SchemaDescriptor, new: &SchemaDescriptor, out: &mut SchemaDiff) {
    for old_object in &old.objects {
        let subject = format!("object {}", old_object.name);
        let Some(new_object) = new.object_named(&old_object.name) else {
            out.push(subject, "object removed", true);
            continue;
        };
        if old_object.doc != new_object.doc {
            out.push(&subject, "doc comment changed", false);
        }
        diff_fields(&subject, &old_object.fields, &new_object.fields, out);
    }
    for new_object in &new.objects {
        if old.object_named(&new_object.name).is_none() {
            out.push(format!("object {}", new_object.name), "object added", false);
        }
    }
}

/// A field type in Rust-like words: `Option<Vec<TaskStatus>>`.
fn describe(ty: &FieldType) -> String {
    match ty {
        FieldType::String => "String".into(),
        FieldType::Boolean => "bool".into(),
        FieldType::Integer { bits, signed } => format!("{}{bits}", if *signed { 'i' } else { 'u' }),
        FieldType::Float { bits } => format!("f{bits}"),
        FieldType::Timestamp => "Timestamp".into(),
        FieldType::Json => "Json".into(),
        FieldType::Uuid => "Uuid".into(),
        FieldType::Ref { model } => format!("Ref<{model}>"),
        FieldType::Enum { name } | FieldType::Object { name } => name.clone(),
        FieldType::List { of } => format!("Vec<{}>", describe(of)),
        FieldType::Optional { of } => format!("Option<{}>", describe(of)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_nested_types() {
        let ty = FieldType::optional(FieldType::list(FieldType::Ref {
            model: "tasks".into(),
        }));
        assert_eq!(describe(&ty), "Option<Vec<Ref<tasks>>>");
        assert_eq!(
            describe(&FieldType::Integer {
                bits: 64,
                signed: false
            }),
            "u64"
        );
    }
}
