//! The schema descriptor: a serializable description of every model, field,
//! enum and nested object of an application, derived at compile time from
//! `#[ablo::model]` declarations and written out as `ablo.schema.json`.
//!
//! The server enforces it on every write and code generation reads it to
//! produce TypeScript, JSON Schema and OpenAPI. Its [`SchemaDescriptor::hash`]
//! is a SHA-256 over a canonical encoding of everything else, so it changes
//! when, and only when, the schema changes.
//!
//! This module also owns the rules every part of Ablo applies to a schema:
//! [`rules`] (names and reserved row fields, shared with the macros),
//! [`validate`] (consistency, run by the server and code generation) and
//! [`diff`] (which changes break clients, run by the server on push, by the
//! client on connect and by `ablo-codegen diff`).

mod diff;
pub mod rules;
mod validate;

pub use diff::{SchemaChange, SchemaDiff, compatible, diff};
pub use validate::{SchemaProblem, validate, validate_for_push};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::TypeRegistry;

/// Version of the descriptor's JSON layout. Bumped on incompatible changes to
/// the layout itself, not to any user's schema.
///
/// ```
/// assert_eq!(ablo_runtime::SCHEMA_FORMAT_VERSION, 1);
/// ```
pub const SCHEMA_FORMAT_VERSION: u32 = 1;

/// The whole schema of an application: what `App::descriptor()` returns.
///
/// ```
/// use ablo_runtime::{SchemaDescriptor, TypeRegistry};
/// let empty = SchemaDescriptor::build("App", Vec::new(), TypeRegistry::default());
/// assert!(empty.models.is_empty());
/// assert!(empty.hash_is_valid());
/// let json = serde_json::to_string(&empty).unwrap();
/// let back: SchemaDescriptor = serde_json::from_str(&json).unwrap();
/// assert_eq!(back, empty);
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SchemaDescriptor {
    /// Layout version, [`SCHEMA_FORMAT_VERSION`] when built by this crate.
    pub format_version: u32,
    /// The Rust name of the schema type (`App`).
    pub name: String,
    /// Hex SHA-256 of the canonical encoding of every other field.
    pub hash: String,
    /// Models sorted by wire name.
    pub models: Vec<ModelDescriptor>,
    /// Enums used by any model, sorted by name.
    pub enums: Vec<EnumDescriptor>,
    /// Nested plain structs used by any model, sorted by name.
    pub objects: Vec<ObjectDescriptor>,
}

/// One model: a kind of row the server stores and syncs.
///
/// ```
/// use ablo_runtime::{FieldDescriptor, FieldType, ModelDescriptor};
/// let model = ModelDescriptor {
///     name: "tasks".into(),
///     type_name: "Task".into(),
///     doc: None,
///     fields: vec![FieldDescriptor::new("title", "title", FieldType::String)],
///     sync_groups: vec!["default".into()],
///     ts: "type Task = { title: string, };".into(),
///     json_schema: serde_json::json!({"type": "object"}),
/// };
/// assert!(model.field("title").is_some());
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ModelDescriptor {
    /// Wire name, for example `tasks`.
    pub name: String,
    /// Rust type name, for example `Task`.
    pub type_name: String,
    /// The struct's doc comment, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc: Option<String>,
    /// Fields in declaration order.
    pub fields: Vec<FieldDescriptor>,
    /// Sync-group templates over wire field names, for example `org:{orgId}`.
    /// A model that declares none belongs to the group `default`.
    pub sync_groups: Vec<String>,
    /// The ts-rs declaration of the model's data (fields only).
    pub ts: String,
    /// The schemars JSON Schema (draft 2020-12) of the model's data.
    pub json_schema: serde_json::Value,
}

impl ModelDescriptor {
    /// Looks a field up by its wire name.
    ///
    /// ```
    /// # use ablo_runtime::{FieldDescriptor, FieldType, ModelDescriptor};
    /// # let model = ModelDescriptor { name: "tasks".into(), type_name: "Task".into(), doc: None,
    /// #   fields: vec![FieldDescriptor::new("title", "title", FieldType::String)],
    /// #   sync_groups: vec![], ts: String::new(), json_schema: serde_json::json!({}) };
    /// assert_eq!(model.field("title").unwrap().rust_name, "title");
    /// assert!(model.field("nope").is_none());
    /// ```
    pub fn field(&self, wire_name: &str) -> Option<&FieldDescriptor> {
        self.fields.iter().find(|f| f.name == wire_name)
    }
}

/// One field of a model or nested object.
///
/// ```
/// use ablo_runtime::{FieldDescriptor, FieldType};
/// let due = FieldDescriptor::new("due", "due", FieldType::optional(FieldType::Timestamp));
/// assert!(!due.is_required());
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FieldDescriptor {
    /// Wire name (camelCase; `Ref` fields end in `Id`).
    pub name: String,
    /// The Rust field name.
    pub rust_name: String,
    /// The field's type.
    #[serde(rename = "type")]
    pub ty: FieldType,
    /// Whether the server keeps an index on this field.
    #[serde(default)]
    pub indexed: bool,
    /// The field's doc comment, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc: Option<String>,
}

impl FieldDescriptor {
    /// A field with no index and no doc comment.
    ///
    /// ```
    /// use ablo_runtime::{FieldDescriptor, FieldType};
    /// let f = FieldDescriptor::new("orgId", "org_id", FieldType::String);
    /// assert_eq!(f.name, "orgId");
    /// ```
    pub fn new(name: impl Into<String>, rust_name: impl Into<String>, ty: FieldType) -> Self {
        FieldDescriptor {
            name: name.into(),
            rust_name: rust_name.into(),
            ty,
            indexed: false,
            doc: None,
        }
    }

    /// A field is required unless its type is `Option<_>`.
    ///
    /// ```
    /// use ablo_runtime::{FieldDescriptor, FieldType};
    /// assert!(FieldDescriptor::new("t", "t", FieldType::String).is_required());
    /// ```
    pub fn is_required(&self) -> bool {
        !matches!(self.ty, FieldType::Optional { .. })
    }
}

/// The type of a field, as the server validates it and codegen maps it.
///
/// Integers of 64 bits travel as JSON numbers and are limited on the wire to
/// the range JavaScript represents exactly (±(2^53 − 1)); TypeScript sees
/// `number`.
///
/// ```
/// use ablo_runtime::FieldType;
/// let ty = FieldType::list(FieldType::Integer { bits: 32, signed: true });
/// let json = serde_json::to_value(&ty).unwrap();
/// assert_eq!(json, serde_json::json!({"kind": "list", "of": {"kind": "integer", "bits": 32, "signed": true}}));
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum FieldType {
    /// UTF-8 text.
    String,
    /// `true` or `false`.
    Boolean,
    /// A whole number of the given width.
    Integer {
        /// 8, 16, 32 or 64.
        bits: u8,
        /// Whether negative values are allowed.
        signed: bool,
    },
    /// A floating-point number.
    Float {
        /// 32 or 64.
        bits: u8,
    },
    /// An instant, RFC 3339 in UTC with milliseconds on the wire.
    Timestamp,
    /// Any JSON value.
    Json,
    /// A UUID in its hyphenated text form.
    Uuid,
    /// The id of a row of another model.
    Ref {
        /// The wire name of the referenced model.
        model: String,
    },
    /// A value of an `#[derive(ablo::Enum)]` enum.
    Enum {
        /// The enum's name, a key of [`SchemaDescriptor::enums`].
        name: String,
    },
    /// A nested plain struct.
    Object {
        /// The object's name, a key of [`SchemaDescriptor::objects`].
        name: String,
    },
    /// A JSON array of values of one type.
    List {
        /// The element type.
        of: Box<FieldType>,
    },
    /// A value that may be `null`.
    Optional {
        /// The type when present.
        of: Box<FieldType>,
    },
}

impl FieldType {
    /// `Optional { of }`.
    ///
    /// ```
    /// use ablo_runtime::FieldType;
    /// assert!(matches!(FieldType::optional(FieldType::Json), FieldType::Optional { .. }));
    /// ```
    pub fn optional(of: FieldType) -> Self {
        FieldType::Optional { of: Box::new(of) }
    }

    /// `List { of }`.
    ///
    /// ```
    /// use ablo_runtime::FieldType;
    /// assert!(matches!(FieldType::list(FieldType::Json), FieldType::List { .. }));
    /// ```
    pub fn list(of: FieldType) -> Self {
        FieldType::List { of: Box::new(of) }
    }
}

/// An `#[derive(ablo::Enum)]` enum: unit variants travelling as strings.
///
/// ```
/// use ablo_runtime::EnumDescriptor;
/// let e = EnumDescriptor { name: "TaskStatus".into(), doc: None,
///     variants: vec!["todo".into(), "done".into()],
///     ts: "type TaskStatus = \"todo\" | \"done\";".into(),
///     json_schema: serde_json::json!({"type": "string", "enum": ["todo", "done"]}) };
/// assert!(e.variants.contains(&"todo".to_string()));
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EnumDescriptor {
    /// The Rust name of the enum.
    pub name: String,
    /// The enum's doc comment, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc: Option<String>,
    /// Wire values in declaration order.
    pub variants: Vec<String>,
    /// The ts-rs declaration.
    pub ts: String,
    /// The schemars JSON Schema.
    pub json_schema: serde_json::Value,
}

/// A nested plain struct used as a field type (`#[ablo::object]`).
///
/// ```
/// use ablo_runtime::{FieldDescriptor, FieldType, ObjectDescriptor};
/// let o = ObjectDescriptor { name: "Address".into(), doc: None,
///     fields: vec![FieldDescriptor::new("city", "city", FieldType::String)],
///     ts: String::new(), json_schema: serde_json::json!({}) };
/// assert_eq!(o.fields.len(), 1);
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ObjectDescriptor {
    /// The Rust name of the struct.
    pub name: String,
    /// The struct's doc comment, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc: Option<String>,
    /// Fields in declaration order.
    pub fields: Vec<FieldDescriptor>,
    /// The ts-rs declaration.
    pub ts: String,
    /// The schemars JSON Schema.
    pub json_schema: serde_json::Value,
}

impl SchemaDescriptor {
    /// Assembles a descriptor: sorts models, enums and objects by name (the
    /// order of declaration inside `ablo::schema!` is not part of the schema)
    /// and computes the content hash.
    ///
    /// # Panics
    ///
    /// When two different Rust enums or objects of the schema have the same
    /// name ([`TypeRegistry::clashes`]): they would be one type on the wire.
    /// The message names both types.
    ///
    /// ```
    /// use ablo_runtime::{SchemaDescriptor, TypeRegistry};
    /// let a = SchemaDescriptor::build("App", vec![], TypeRegistry::default());
    /// let b = SchemaDescriptor::build("App", vec![], TypeRegistry::default());
    /// assert_eq!(a.hash, b.hash);
    /// ```
    pub fn build(
        name: impl Into<String>,
        mut models: Vec<ModelDescriptor>,
        registry: TypeRegistry,
    ) -> Self {
        let name = name.into();
        assert!(
            registry.clashes().is_empty(),
            "schema `{name}`: enums and objects are identified by their type name, \
             and {}; rename one of them",
            registry.clashes().join(", and ")
        );
        models.sort_by(|a, b| a.name.cmp(&b.name));
        let (enums, objects) = registry.into_parts();
        let mut descriptor = SchemaDescriptor {
            format_version: SCHEMA_FORMAT_VERSION,
            name,
            hash: String::new(),
            models,
            enums,
            objects,
        };
        descriptor.hash = descriptor.content_hash();
        descriptor
    }

    /// Recomputes the content hash: hex SHA-256 of the JSON encoding of the
    /// descriptor with `hash` emptied, object keys sorted, no whitespace.
    ///
    /// ```
    /// use ablo_runtime::{SchemaDescriptor, TypeRegistry};
    /// let mut d = SchemaDescriptor::build("App", vec![], TypeRegistry::default());
    /// let before = d.content_hash();
    /// d.name = "Other".into();
    /// assert_ne!(before, d.content_hash());
    /// ```
    pub fn content_hash(&self) -> String {
        let mut unhashed = self.clone();
        unhashed.hash = String::new();
        // `serde_json::Value` keeps object keys sorted, which makes the
        // encoding canonical whatever order the pieces were built in.
        let canonical = serde_json::to_value(&unhashed).expect("descriptor serializes");
        let bytes = serde_json::to_vec(&canonical).expect("descriptor serializes");
        hex::encode(Sha256::digest(&bytes))
    }

    /// Whether [`SchemaDescriptor::hash`] matches the content, for example
    /// after reading a hand-edited `ablo.schema.json`.
    ///
    /// ```
    /// use ablo_runtime::{SchemaDescriptor, TypeRegistry};
    /// let mut d = SchemaDescriptor::build("App", vec![], TypeRegistry::default());
    /// d.name = "Edited".into();
    /// assert!(!d.hash_is_valid());
    /// ```
    pub fn hash_is_valid(&self) -> bool {
        self.hash == self.content_hash()
    }

    /// Looks a model up by its wire name.
    ///
    /// ```
    /// use ablo_runtime::{SchemaDescriptor, TypeRegistry};
    /// let d = SchemaDescriptor::build("App", vec![], TypeRegistry::default());
    /// assert!(d.model("tasks").is_none());
    /// ```
    pub fn model(&self, wire_name: &str) -> Option<&ModelDescriptor> {
        self.models.iter().find(|m| m.name == wire_name)
    }

    /// Looks an enum up by name.
    ///
    /// ```
    /// use ablo_runtime::{SchemaDescriptor, TypeRegistry};
    /// let d = SchemaDescriptor::build("App", vec![], TypeRegistry::default());
    /// assert!(d.enum_named("TaskStatus").is_none());
    /// ```
    pub fn enum_named(&self, name: &str) -> Option<&EnumDescriptor> {
        self.enums.iter().find(|e| e.name == name)
    }

    /// Looks a nested object up by name.
    ///
    /// ```
    /// use ablo_runtime::{SchemaDescriptor, TypeRegistry};
    /// let d = SchemaDescriptor::build("App", vec![], TypeRegistry::default());
    /// assert!(d.object_named("Address").is_none());
    /// ```
    pub fn object_named(&self, name: &str) -> Option<&ObjectDescriptor> {
        self.objects.iter().find(|o| o.name == name)
    }

    /// Pretty JSON, as written to `ablo.schema.json`.
    ///
    /// ```
    /// use ablo_runtime::{SchemaDescriptor, TypeRegistry};
    /// let d = SchemaDescriptor::build("App", vec![], TypeRegistry::default());
    /// assert!(d.to_json_pretty().contains("\"formatVersion\": 1"));
    /// ```
    pub fn to_json_pretty(&self) -> String {
        let mut out = serde_json::to_string_pretty(self).expect("descriptor serializes");
        out.push('\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task_model(title_type: FieldType) -> ModelDescriptor {
        ModelDescriptor {
            name: "tasks".into(),
            type_name: "Task".into(),
            doc: None,
            fields: vec![FieldDescriptor::new("title", "title", title_type)],
            sync_groups: vec![],
            ts: String::new(),
            json_schema: serde_json::json!({}),
        }
    }

    #[test]
    fn hash_ignores_model_order_but_not_content() {
        let other = ModelDescriptor {
            name: "projects".into(),
            ..task_model(FieldType::String)
        };
        let a = SchemaDescriptor::build(
            "App",
            vec![task_model(FieldType::String), other.clone()],
            TypeRegistry::default(),
        );
        let b = SchemaDescriptor::build(
            "App",
            vec![other.clone(), task_model(FieldType::String)],
            TypeRegistry::default(),
        );
        assert_eq!(a.hash, b.hash);
        let c = SchemaDescriptor::build(
            "App",
            vec![other, task_model(FieldType::optional(FieldType::String))],
            TypeRegistry::default(),
        );
        assert_ne!(a.hash, c.hash);
    }

    #[test]
    fn hash_survives_a_json_round_trip() {
        let a = SchemaDescriptor::build(
            "App",
            vec![task_model(FieldType::String)],
            TypeRegistry::default(),
        );
        let back: SchemaDescriptor = serde_json::from_str(&a.to_json_pretty()).unwrap();
        assert!(back.hash_is_valid());
        assert_eq!(back, a);
    }
}
