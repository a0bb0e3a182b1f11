//! Support for the code the macros generate; not a public API.

mod const_text;
mod interop;
mod serde_support;

pub use ablo_runtime;
pub use schemars;
pub use serde;
pub use serde_json;
pub use ts_rs;

pub use const_text::{DUPLICATE_MESSAGE_CAPACITY, duplicate_model_name, str_eq};
pub use interop::{
    json_schema_metadata, json_schema_object, json_schema_property, ts_declaration, ts_object,
};
pub use serde_support::{PatchFields, deserialize_enum_index, deserialize_patch};

/// The client types the typed surface of `ablo::schema!` is built on.
pub mod client {
    pub use ablo_runtime::Error;
    pub use ablo_runtime::client::{Client, ClientBuilder, ModelHandle, PushOptions, push_schema};
    pub use ablo_runtime::wire::SchemaPushResponse;
}

/// Emits the typed client surface of `ablo::schema!` (`App::connect`,
/// `AppClient`); one place to gate it should the client become optional.
#[macro_export]
#[doc(hidden)]
macro_rules! __client_surface {
    ($($item:item)*) => { $($item)* };
}
pub use __client_surface;

/// The patch type of a model whose declaration has errors (`#[ablo::model]`
/// emits a stand-in `Model` impl beside them so that they are the only
/// errors). Never constructed by a crate that compiles.
#[derive(Default, Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct StandInPatch {}
