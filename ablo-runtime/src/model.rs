//! The traits `#[ablo::model]`, `#[derive(ablo::Enum)]`, `#[ablo::object]` and
//! `ablo::schema!` implement, and the field-type mapping of every supported
//! Rust type.

use std::any::{TypeId, type_name};
use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::schema::{
    EnumDescriptor, FieldType, ModelDescriptor, ObjectDescriptor, SchemaDescriptor,
};
use crate::types::{Json, Ref, Timestamp, Uuid};

/// A struct declared with `#[ablo::model]`: a kind of row the server stores.
///
/// ```
/// use ablo_runtime::Model;
/// fn wire_name<M: Model>() -> &'static str { M::NAME }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an Ablo model",
    label = "not declared with `#[ablo::model]`",
    note = "`Ref<T>` and `ablo::schema!` accept only structs declared with `#[ablo::model]`"
)]
pub trait Model: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The wire name, for example `tasks`.
    const NAME: &'static str;

    /// The generated patch type (`TaskPatch`): every field optional.
    type Patch: Serialize + DeserializeOwned + Default + Clone + Send + Sync + 'static;

    /// The model's descriptor, with its ts-rs declaration and JSON Schema.
    fn descriptor() -> ModelDescriptor;

    /// Adds every enum and nested object the model's fields use.
    fn register_types(registry: &mut TypeRegistry);
}

/// A schema declared with `ablo::schema!`: a set of models.
///
/// ```
/// use ablo_runtime::Schema;
/// fn hash_of<S: Schema>() -> String { S::descriptor().hash }
/// ```
pub trait Schema {
    /// The Rust name of the schema type.
    const NAME: &'static str;

    /// The whole schema.
    fn descriptor() -> SchemaDescriptor;
}

/// A Rust type that may be the type of a model field.
///
/// Its TypeScript and JSON Schema come from its `ts_rs::TS` and
/// `schemars::JsonSchema` impls, required here so that the code the macros
/// write asks one question of a field's type: an unsupported type is then
/// reported once, as not being a `FieldValue`.
///
/// ```
/// use ablo_runtime::{FieldType, FieldValue};
/// assert_eq!(<Option<Vec<bool>> as FieldValue>::field_type(),
///            FieldType::optional(FieldType::list(FieldType::Boolean)));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a supported Ablo field type",
    label = "unsupported field type",
    note = "supported field types: String, bool, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, Option<T>, Vec<T>, Ref<Model>, Timestamp, Json, Uuid, `#[derive(ablo::Enum)]` enums and `#[ablo::object]` structs"
)]
pub trait FieldValue: ts_rs::TS + schemars::JsonSchema {
    /// The descriptor type of this Rust type.
    fn field_type() -> FieldType;

    /// Adds the enums and nested objects this type uses.
    fn register_types(_registry: &mut TypeRegistry) {}

    /// The TypeScript type of a field of this type. Not for users: the
    /// macros call it (rather than `TS::name`) so that an unsupported field
    /// type fails one trait bound, reported once.
    #[doc(hidden)]
    fn __ts_name(cfg: &ts_rs::Config) -> String {
        <Self as ts_rs::TS>::name(cfg)
    }

    /// Visits this type and its type parameters for ts-rs exports. Not for
    /// users (see [`FieldValue::__ts_name`]).
    #[doc(hidden)]
    fn __ts_visit<V: ts_rs::TypeVisitor>(visitor: &mut V)
    where
        Self: Sized + 'static,
    {
        visitor.visit::<Self>();
        <Self as ts_rs::TS>::visit_generics(visitor);
    }

    /// This type's JSON (sub)schema and whether it is an `Option`. Not for
    /// users (see [`FieldValue::__ts_name`]).
    #[doc(hidden)]
    fn __json_subschema(generator: &mut schemars::SchemaGenerator) -> (schemars::Schema, bool)
    where
        Self: Sized,
    {
        (
            generator.subschema_for::<Self>(),
            <Self as schemars::JsonSchema>::_schemars_private_is_option(),
        )
    }
}

/// Collects the enums and nested objects reachable from a schema's models,
/// each once.
///
/// ```
/// use ablo_runtime::TypeRegistry;
/// let mut registry = TypeRegistry::default();
/// assert!(registry.begin_object("Address"));
/// assert!(!registry.begin_object("Address"));
/// ```
#[derive(Default, Debug)]
pub struct TypeRegistry {
    enums: BTreeMap<String, EnumDescriptor>,
    objects: BTreeMap<String, Option<ObjectDescriptor>>,
    /// The Rust type registered under each name, by the `*_of` methods.
    owners: BTreeMap<String, (TypeId, &'static str)>,
    /// Names claimed by two different Rust types.
    clashes: Vec<String>,
}

impl TypeRegistry {
    /// Records an enum (later records of the same name are ignored).
    ///
    /// ```
    /// use ablo_runtime::{EnumDescriptor, TypeRegistry};
    /// let mut r = TypeRegistry::default();
    /// r.add_enum(EnumDescriptor { name: "S".into(), doc: None, variants: vec![],
    ///     ts: String::new(), json_schema: serde_json::json!({}) });
    /// ```
    pub fn add_enum(&mut self, descriptor: EnumDescriptor) {
        self.enums
            .entry(descriptor.name.clone())
            .or_insert(descriptor);
    }

    /// Reserves an object's name before its fields are visited, so recursive
    /// structs terminate. Returns `false` if the object was already seen.
    pub fn begin_object(&mut self, name: &str) -> bool {
        if self.objects.contains_key(name) {
            return false;
        }
        self.objects.insert(name.to_owned(), None);
        true
    }

    /// [`TypeRegistry::add_enum`] for the enum type `T`: a second, different
    /// Rust type with the same name is recorded as a clash (see
    /// [`TypeRegistry::clashes`]) instead of being silently dropped.
    ///
    /// ```
    /// use ablo_runtime::{EnumDescriptor, TypeRegistry};
    /// mod a { pub enum Status {} }
    /// mod b { pub enum Status {} }
    /// let status = || EnumDescriptor { name: "Status".into(), doc: None, variants: vec![],
    ///     ts: String::new(), json_schema: serde_json::json!({}) };
    /// let mut r = TypeRegistry::default();
    /// r.add_enum_of::<a::Status>(status());
    /// r.add_enum_of::<a::Status>(status());
    /// assert!(r.clashes().is_empty());
    /// r.add_enum_of::<b::Status>(status());
    /// assert_eq!(r.clashes().len(), 1);
    /// ```
    pub fn add_enum_of<T: 'static>(&mut self, descriptor: EnumDescriptor) {
        if self.claim::<T>(&descriptor.name) {
            self.add_enum(descriptor);
        }
    }

    /// [`TypeRegistry::begin_object`] for the struct type `T`: `false` when
    /// the name was already seen, and a clash is recorded when it was seen
    /// for a different Rust type.
    ///
    /// ```
    /// use ablo_runtime::TypeRegistry;
    /// struct Address;
    /// let mut r = TypeRegistry::default();
    /// assert!(r.begin_object_of::<Address>("Address"));
    /// assert!(!r.begin_object_of::<Address>("Address"));
    /// assert!(r.clashes().is_empty());
    /// ```
    pub fn begin_object_of<T: 'static>(&mut self, name: &str) -> bool {
        self.claim::<T>(name) && self.begin_object(name)
    }

    /// Records `T` as the owner of `name`; `false` when another type owns it.
    fn claim<T: 'static>(&mut self, name: &str) -> bool {
        let this = (TypeId::of::<T>(), type_name::<T>());
        match self.owners.get(name) {
            None => {
                self.owners.insert(name.to_owned(), this);
                true
            }
            Some((owner, _)) if *owner == this.0 => true,
            Some((_, owner_path)) => {
                let clash = format!("`{name}` names both `{owner_path}` and `{}`", this.1);
                if !self.clashes.contains(&clash) {
                    self.clashes.push(clash);
                }
                false
            }
        }
    }

    /// Every name that two different Rust types registered, described.
    /// Enums and objects travel by name, so [`SchemaDescriptor::build`]
    /// refuses a registry with clashes.
    pub fn clashes(&self) -> &[String] {
        &self.clashes
    }

    /// Stores an object reserved with [`TypeRegistry::begin_object`].
    ///
    /// ```
    /// use ablo_runtime::{ObjectDescriptor, TypeRegistry};
    /// let mut r = TypeRegistry::default();
    /// r.begin_object("A");
    /// r.finish_object(ObjectDescriptor { name: "A".into(), doc: None, fields: vec![],
    ///     ts: String::new(), json_schema: serde_json::json!({}) });
    /// ```
    pub fn finish_object(&mut self, descriptor: ObjectDescriptor) {
        self.objects
            .insert(descriptor.name.clone(), Some(descriptor));
    }

    /// The collected enums and objects, sorted by name.
    pub fn into_parts(self) -> (Vec<EnumDescriptor>, Vec<ObjectDescriptor>) {
        (
            self.enums.into_values().collect(),
            self.objects.into_values().flatten().collect(),
        )
    }
}

macro_rules! leaf_field {
    ($($ty:ty => $field_type:expr),* $(,)?) => {
        $(impl FieldValue for $ty {
            fn field_type() -> FieldType {
                $field_type
            }
        })*
    };
}

leaf_field! {
    String => FieldType::String,
    bool => FieldType::Boolean,
    i8 => FieldType::Integer { bits: 8, signed: true },
    i16 => FieldType::Integer { bits: 16, signed: true },
    i32 => FieldType::Integer { bits: 32, signed: true },
    i64 => FieldType::Integer { bits: 64, signed: true },
    u8 => FieldType::Integer { bits: 8, signed: false },
    u16 => FieldType::Integer { bits: 16, signed: false },
    u32 => FieldType::Integer { bits: 32, signed: false },
    u64 => FieldType::Integer { bits: 64, signed: false },
    f32 => FieldType::Float { bits: 32 },
    f64 => FieldType::Float { bits: 64 },
    Timestamp => FieldType::Timestamp,
    Json => FieldType::Json,
    Uuid => FieldType::Uuid,
}

impl<T: FieldValue> FieldValue for Option<T> {
    fn field_type() -> FieldType {
        FieldType::optional(T::field_type())
    }
    fn register_types(registry: &mut TypeRegistry) {
        T::register_types(registry)
    }
}

impl<T: FieldValue> FieldValue for Vec<T> {
    fn field_type() -> FieldType {
        FieldType::list(T::field_type())
    }
    fn register_types(registry: &mut TypeRegistry) {
        T::register_types(registry)
    }
}

impl<M: Model> FieldValue for Ref<M> {
    fn field_type() -> FieldType {
        FieldType::Ref {
            model: M::NAME.to_owned(),
        }
    }
}

/// The ts-rs settings every embedded declaration uses: 64-bit integers are
/// `number` in TypeScript (the server keeps them within JavaScript's exact
/// range).
///
/// ```
/// use ts_rs::TS;
/// assert_eq!(<i64 as TS>::name(&ablo_runtime::model::ts_config()), "number");
/// ```
pub fn ts_config() -> ts_rs::Config {
    ts_rs::Config::new().with_large_int("number")
}

/// The ts-rs declaration of `T` under [`ts_config`]: every model, object and
/// enum has one, since the macros derive or write its `TS` impl.
///
/// ```
/// #[derive(ts_rs::TS)]
/// struct Reading { celsius: i64 }
/// let decl = ablo_runtime::model::ts_declaration::<Reading>();
/// assert_eq!(decl, "type Reading = { celsius: number, };");
/// ```
pub fn ts_declaration<T: ts_rs::TS + ?Sized>() -> String {
    T::decl(&ts_config())
}

/// The JSON Schema (draft 2020-12) of `T`, with its definitions inlined under
/// `$defs`.
///
/// ```
/// let schema = ablo_runtime::model::json_schema_of::<String>();
/// assert_eq!(schema["type"], "string");
/// ```
pub fn json_schema_of<T: schemars::JsonSchema>() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    generator.into_root_schema_for::<T>().to_value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_types_map_recursively() {
        assert_eq!(
            <Vec<Option<i64>> as FieldValue>::field_type(),
            FieldType::list(FieldType::optional(FieldType::Integer {
                bits: 64,
                signed: true
            }))
        );
    }

    #[test]
    fn recursive_objects_are_registered_once() {
        let mut registry = TypeRegistry::default();
        assert!(registry.begin_object("Node"));
        assert!(!registry.begin_object("Node"));
        registry.finish_object(ObjectDescriptor {
            name: "Node".into(),
            doc: None,
            fields: vec![],
            ts: String::new(),
            json_schema: serde_json::json!({}),
        });
        let (_, objects) = registry.into_parts();
        assert_eq!(objects.len(), 1);
    }
}
