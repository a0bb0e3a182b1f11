#![warn(missing_docs)]
//! # Ablo
//!
//! Schema-first state coordination for applications in which humans, AI
//! agents and backend services edit the same typed rows at once.
//!
//! Declare models with [`#[ablo::model]`](macro@model), enums with
//! [`#[derive(ablo::Enum)]`](derive@Enum), nested structs with
//! [`#[ablo::object]`](macro@object) and the application's schema with
//! [`ablo::schema!`](schema!); everything else (the descriptor the server
//! enforces, patch types, TypeScript and JSON Schema) is derived from those
//! declarations. A crate needs no dependency besides `ablo`.
//!
//! ```
//! use ablo::prelude::*;
//!
//! #[ablo::model(sync_groups = ["org:{org_id}"])]
//! pub struct Project {
//!     pub org_id: String,
//!     pub name: String,
//! }
//!
//! #[derive(ablo::Enum)]
//! pub enum TaskStatus { Todo, Doing, Done }
//!
//! #[ablo::model]
//! pub struct Task {
//!     pub title: String,
//!     pub status: TaskStatus,
//!     pub summary: Option<String>,
//!     pub project: Ref<Project>,
//!     #[ablo(index)]
//!     pub due: Option<Timestamp>,
//! }
//!
//! ablo::schema! { pub struct App { tasks: Task, projects: Project } }
//!
//! let schema = App::descriptor();
//! assert_eq!(schema.model("tasks").unwrap().fields[3].name, "projectId");
//! assert_eq!(schema.model("projects").unwrap().sync_groups, ["org:{orgId}"]);
//! let patch = TaskPatch::new().title("Ship it").clear_summary();
//! assert_eq!(serde_json::to_string(&patch).unwrap(), r#"{"title":"Ship it","summary":null}"#);
//! ```
//!
//! The schema also declares a typed client, `AppClient`, with one accessor
//! per model:
//!
//! ```no_run
//! # use ablo::prelude::*;
//! # #[ablo::model] pub struct Task { pub title: String }
//! # ablo::schema! { pub struct App { tasks: Task } }
//! # async fn run() -> Result<(), ablo::Error> {
//! let app: AppClient = App::connect("http://127.0.0.1:7700", "sk_test_123").await?;
//! let tasks: ablo::ModelHandle<Task> = app.tasks();
//! # let _ = tasks;
//! # Ok(())
//! # }
//! ```
//!
//! The DSL's rules (wire names, enum values, 64-bit integers, reserved names,
//! hash stability) are written down in `docs/schema-dsl.md`.

pub use ablo_macros::{Enum, model, object, schema};

/// Code generation from a schema (feature `codegen`): TypeScript, JSON Schema
/// and OpenAPI, a freshness check for CI, and a breaking-change diff.
///
/// ```
/// # #[cfg(feature = "codegen")] {
/// use ablo::prelude::*;
///
/// #[ablo::model]
/// pub struct Note { pub text: String }
///
/// ablo::schema! { pub struct App { notes: Note } }
///
/// let web = std::env::temp_dir().join(format!("ablo-doc-{}", std::process::id()));
/// ablo::codegen::generate(&App::descriptor(), &web).unwrap();
/// ablo::codegen::check(&App::descriptor(), &web).unwrap().assert_fresh();
/// # std::fs::remove_dir_all(&web).unwrap();
/// # }
/// ```
#[cfg(feature = "codegen")]
pub use ablo_codegen as codegen;

/// The embeddable sync server (feature `server`).
///
/// ```no_run
/// # #[cfg(feature = "server")]
/// # async fn demo() {
/// let config = ablo::server::ServerConfig::new("./ablo-data");
/// let server = ablo::server::start(config).await.unwrap();
/// println!("{}", server.url());
/// # }
/// ```
#[cfg(feature = "server")]
pub use ablo_server as server;

pub use ablo_runtime::client::{Client, ClientBuilder, ModelHandle};
pub use ablo_runtime::{Error, ErrorInfo};
pub use ablo_runtime::{client, error, wire};
pub use ablo_runtime::{model, patch, schema, types};

/// The names most programs need: `use ablo::prelude::*;`.
///
/// ```
/// use ablo::prelude::*;
/// let _t = Timestamp::now();
/// let patch: FieldPatch<String> = FieldPatch::Set("x".into());
/// assert!(!patch.is_unchanged());
/// ```
pub mod prelude {
    pub use ablo_runtime::client::{
        Claim, Client, IfBusy, IntentHandle, ModelHandle, OnStale, Query, RowChange, Wait,
    };
    pub use ablo_runtime::wire::{Participant, ParticipantKind, Target};
    pub use ablo_runtime::{
        EnumDescriptor, FieldDescriptor, FieldPatch, FieldType, FieldValue, Id, Json, Model,
        ModelDescriptor, ObjectDescriptor, Ref, Row, Schema, SchemaDescriptor, SyncId, Timestamp,
        TypeRegistry, Uuid,
    };
}

/// Support for the code the macros generate; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use ablo_runtime;
    pub use schemars;
    pub use serde;
    pub use serde_json;
    pub use ts_rs;

    /// Capacity of the message [`duplicate_model_name`] writes.
    pub const DUPLICATE_MESSAGE_CAPACITY: usize = 1024;

    /// For `ablo::schema!`: if entry `index` has the wire name of an earlier
    /// entry, a message naming both (as UTF-8 bytes and their length; the
    /// length is 0 when the name is unique). Runs at compile time.
    pub const fn duplicate_model_name(
        names: &[&str],
        labels: &[&str],
        index: usize,
    ) -> ([u8; DUPLICATE_MESSAGE_CAPACITY], usize) {
        let mut message = Message {
            bytes: [0; DUPLICATE_MESSAGE_CAPACITY],
            len: 0,
        };
        let mut earlier = 0;
        while earlier < index {
            if str_eq(names[earlier], names[index]) {
                message.push("ablo::schema!: entries ");
                message.push(labels[earlier]);
                message.push(" and ");
                message.push(labels[index]);
                message.push(" have the same model wire name `");
                message.push(names[index]);
                message
                    .push("`; give one of them another name with `#[ablo::model(name = \"...\")]`");
                return (message.bytes, message.len);
            }
            earlier += 1;
        }
        (message.bytes, 0)
    }

    /// A fixed-capacity text buffer for compile-time messages; text past the
    /// capacity is dropped at a character boundary.
    struct Message {
        bytes: [u8; DUPLICATE_MESSAGE_CAPACITY],
        len: usize,
    }

    impl Message {
        const fn push(&mut self, text: &str) {
            let text = text.as_bytes();
            let mut i = 0;
            while i < text.len() && self.len < DUPLICATE_MESSAGE_CAPACITY {
                // Stop before a multi-byte character that would not fit.
                if text[i] & 0xC0 != 0x80
                    && self.len + utf8_width(text[i]) > DUPLICATE_MESSAGE_CAPACITY
                {
                    return;
                }
                self.bytes[self.len] = text[i];
                self.len += 1;
                i += 1;
            }
        }
    }

    const fn utf8_width(first: u8) -> usize {
        if first < 0x80 {
            1
        } else if first >= 0xF0 {
            4
        } else if first >= 0xE0 {
            3
        } else {
            2
        }
    }

    /// String equality usable in constants.
    pub const fn str_eq(a: &str, b: &str) -> bool {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        true
    }

    /// Deserializes one of `values` and returns its position; anything else
    /// fails with an error listing every allowed value.
    pub fn deserialize_enum_index<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
        expecting: &'static str,
        values: &'static [&'static str],
    ) -> Result<usize, D::Error> {
        struct Visit {
            expecting: &'static str,
            values: &'static [&'static str],
        }
        impl serde::de::Visitor<'_> for Visit {
            type Value = usize;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}, one of {:?}", self.expecting, self.values)
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<usize, E> {
                self.values
                    .iter()
                    .position(|v| *v == value)
                    .ok_or_else(|| E::unknown_variant(value, self.values))
            }
        }
        deserializer.deserialize_str(Visit { expecting, values })
    }

    /// A generated patch type (`TaskPatch`): the wire names of its fields and
    /// how to read one of them.
    pub trait PatchFields: Default {
        /// The patch type's name, for error messages.
        const NAME: &'static str;
        /// Wire names of the fields, in declaration order.
        const FIELDS: &'static [&'static str];
        /// Reads the value of field `index` from `map` and sets it.
        fn deserialize_field<'de, A: serde::de::MapAccess<'de>>(
            &mut self,
            index: usize,
            map: &mut A,
        ) -> Result<(), A::Error>;
    }

    /// Deserializes a patch from a map: each known key sets its field, a key
    /// given twice is an error, unknown keys are ignored.
    pub fn deserialize_patch<'de, D: serde::Deserializer<'de>, P: PatchFields>(
        deserializer: D,
    ) -> Result<P, D::Error> {
        struct Visit<P>(std::marker::PhantomData<P>);
        impl<'de, P: PatchFields> serde::de::Visitor<'de> for Visit<P> {
            type Value = P;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "a {} object", P::NAME)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<P, A::Error> {
                let mut patch = P::default();
                let mut seen = vec![false; P::FIELDS.len()];
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match P::FIELDS.iter().position(|field| *field == key) {
                        Some(index) if seen[index] => {
                            return Err(serde::de::Error::duplicate_field(P::FIELDS[index]));
                        }
                        Some(index) => {
                            seen[index] = true;
                            patch.deserialize_field(index, &mut map)?;
                        }
                        None => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(patch)
            }
        }
        deserializer.deserialize_map(Visit(std::marker::PhantomData))
    }

    /// The client types the typed surface of `ablo::schema!` is built on.
    pub mod client {
        pub use ablo_runtime::Error;
        pub use ablo_runtime::client::{Client, ClientBuilder, ModelHandle};
    }

    /// Emits the typed client surface of `ablo::schema!` (`App::connect`,
    /// `AppClient`); one place to gate it should the client become optional.
    #[macro_export]
    #[doc(hidden)]
    macro_rules! __client_surface {
        ($($item:item)*) => { $($item)* };
    }
    pub use __client_surface;
}
