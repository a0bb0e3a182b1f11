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
    pub use ablo_runtime::client::{Client, ModelHandle, OnStale, Query, RowChange, Wait};
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

    /// String equality usable in constants, for the duplicate-name check of
    /// `ablo::schema!`.
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
