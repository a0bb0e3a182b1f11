#![warn(missing_docs)]
//! The Ablo runtime: everything a program needs at run time to speak to an
//! Ablo sync server, shared by the client, the server and code generation.
//!
//! - [`schema`]: the serializable [`SchemaDescriptor`] derived from
//!   `#[ablo::model]` declarations, with its stable content hash;
//! - [`types`]: the value types models are built from ([`Id`], [`Ref`],
//!   [`Row`], [`SyncId`], [`Timestamp`], [`Json`]);
//! - [`model`]: the [`Model`], [`Schema`] and [`FieldValue`] traits the macros
//!   implement;
//! - [`patch`]: [`FieldPatch`], the three-state field of generated patch types;
//! - [`wire`]: the JSON bodies and WebSocket messages of the HTTP API;
//! - [`client`]: the typed client ([`client::Client`], [`client::ModelHandle`]);
//! - [`error`]: [`Error`], every failure a client call reports;
//! - [`tools`]: tool definitions for LLM function calling and the executor
//!   that runs a model's tool calls safely.
//!
//! Users normally reach these through the `ablo` facade crate and
//! `ablo::prelude`.
//!
//! ```
//! use ablo_runtime::{SyncId, Timestamp};
//! let stamp = SyncId(42);
//! assert!(stamp > SyncId::ZERO);
//! let _now = Timestamp::now();
//! ```

pub mod client;
pub mod error;
pub mod fields;
pub mod filter;
pub mod model;
pub mod patch;
pub mod schema;
pub mod signing;
pub mod source;
pub mod tools;
pub mod types;
pub mod wire;

pub use error::{Error, ErrorInfo};
pub use model::{FieldValue, Model, Schema, TypeRegistry};
pub use patch::FieldPatch;
pub use schema::{
    EnumDescriptor, FieldDescriptor, FieldType, ModelDescriptor, ObjectDescriptor,
    SCHEMA_FORMAT_VERSION, SchemaDescriptor,
};
pub use types::{Id, Json, Ref, Row, SyncId, Timestamp, Uuid};
