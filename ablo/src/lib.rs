//! # Ablo
//!
//! Schema-first state coordination for applications in which humans, AI
//! agents and backend services edit the same typed rows at once.
//!
//! Declare models with `#[ablo::model]`, enums with `#[derive(ablo::Enum)]`
//! and the application's schema with `ablo::schema!`; everything else (the
//! descriptor the server enforces, patch types, TypeScript and JSON Schema)
//! is derived from those declarations.
//!
//! ```
//! let stamp = ablo::prelude::SyncId(1);
//! assert_eq!(stamp.next().0, 2);
//! ```

pub use ablo_runtime::{model, patch, schema, types};

/// The names most programs need: `use ablo::prelude::*;`.
///
/// ```
/// use ablo::prelude::*;
/// let _t = Timestamp::now();
/// ```
pub mod prelude {
    pub use ablo_runtime::{
        FieldPatch, Id, Json, Model, Ref, Row, Schema, SchemaDescriptor, SyncId, Timestamp, Uuid,
    };
}

#[doc(hidden)]
pub mod __private {
    pub use ablo_runtime;
    pub use schemars;
    pub use serde;
    pub use serde_json;
    pub use ts_rs;
}
