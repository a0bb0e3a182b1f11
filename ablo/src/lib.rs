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

/// The customer side of a Data Source (feature `source`): answer the
/// server's signed requests with [`source::handle`] over your own
/// [`source::DataSource`], and push changes with [`source::push_events`].
/// See `docs/data-sources.md`.
///
/// ```
/// # #[cfg(feature = "source")]
/// let reply = ablo::source::Reply::new(422, "status must be todo, doing or done");
/// ```
#[cfg(feature = "source")]
pub use ablo_runtime::source;

/// The Data Source signature, both ways (feature `source`).
///
/// ```
/// # #[cfg(feature = "source")]
/// assert!(ablo::signing::new_secret().starts_with("whsec_"));
/// ```
#[cfg(feature = "source")]
pub use ablo_runtime::signing;

pub use ablo_runtime::client::{Client, ClientBuilder, ModelHandle};
pub use ablo_runtime::{Error, ErrorInfo};
pub use ablo_runtime::{client, error, wire};
pub use ablo_runtime::{fields, filter, model, patch, schema, tools, types};

/// The names most programs need: `use ablo::prelude::*;`. The typed query
/// items are here too: [`Field`](fields::Field) (what `Task::fields()`
/// holds), [`Filter`](fields::Filter) (what `.eq`, `.gte`, `.is_in` build),
/// [`FilterOp`](filter::FilterOp) (the operators of
/// [`Query::where_op`](client::Query::where_op)) and
/// [`Direction`](client::Direction).
///
/// ```
/// use ablo::prelude::*;
/// let _t = Timestamp::now();
/// let patch: FieldPatch<String> = FieldPatch::Set("x".into());
/// assert!(!patch.is_unchanged());
/// let points: Field<(), i64> = Field::new("points");
/// let at_least_three: Filter<()> = points.gte(3);
/// let q = Query::new().filter(at_least_three).where_op("status", FilterOp::Ne, "done");
/// assert!(q.matches(&serde_json::json!({"points": 4, "status": "todo"})));
/// assert_ne!(Direction::Asc, Direction::Desc);
/// ```
pub mod prelude {
    pub use ablo_runtime::client::{
        Claim, Client, Direction, IfBusy, IntentHandle, ModelHandle, OnStale, Query, RowChange,
        Wait,
    };
    pub use ablo_runtime::fields::{Field, Filter};
    pub use ablo_runtime::filter::FilterOp;
    pub use ablo_runtime::tools::ModelTools;
    pub use ablo_runtime::wire::{Participant, ParticipantKind, Target};
    pub use ablo_runtime::{
        EnumDescriptor, FieldDescriptor, FieldPatch, FieldType, FieldValue, Id, Json, Model,
        ModelDescriptor, ObjectDescriptor, Ref, Row, Schema, SchemaDescriptor, SyncId, Timestamp,
        TypeRegistry, Uuid,
    };
}

#[doc(hidden)]
#[path = "private/mod.rs"]
pub mod __private;
