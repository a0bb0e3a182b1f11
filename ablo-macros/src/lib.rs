#![warn(missing_docs)]
//! Procedural macros of Ablo. Use them through the `ablo` crate:
//! `#[ablo::model]`, `#[derive(ablo::Enum)]`, `#[ablo::object]` and
//! `ablo::schema!`; their documentation lives there.
//!
//! The crate is laid out like a compiler front end:
//! - [`ctxt`]: the error collector, so every mistake is reported in one go;
//! - [`attr`]: `#[ablo(...)]` and macro arguments parsed into plain structs;
//! - [`ast`]: the input struct or enum with wire names resolved;
//! - [`check`]: schema checks (reserved names, collisions, sync groups, ...);
//! - [`types`]: the syntactic view of field types;
//! - [`naming`]: wire names derived from Rust names;
//! - [`expand`]: code generation.

mod ast;
mod attr;
mod check;
mod ctxt;
mod expand;
mod naming;
/// The schema naming rules, shared with the server and code generation: the
/// runtime's `schema::rules` file, compiled here as well so the macros need
/// not wait for the runtime's client stack to build.
#[path = "../../ablo-runtime/src/schema/rules.rs"]
#[allow(dead_code)]
mod rules;
mod types;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Declares a model: a struct whose rows the Ablo server stores and syncs.
///
/// Arguments: `name = "..."` (wire name; default: plural camelCase of the
/// type) and `sync_groups = ["org:{org_id}"]`. Field keys:
/// `#[ablo(index)]`, `#[ablo(rename = "...")]`. Generates the `Model` impl,
/// a `TaskPatch` type with builder setters, serde derives, and `ts_rs::TS`
/// and `schemars::JsonSchema` impls. Rules and errors: `docs/schema-dsl.md`.
///
/// ```
/// use ablo::prelude::*;
///
/// #[ablo::model(sync_groups = ["org:{org_id}"])]
/// pub struct Project {
///     pub org_id: String,
///     #[ablo(index)]
///     pub name: String,
///     pub summary: Option<String>,
/// }
///
/// assert_eq!(Project::NAME, "projects");
/// assert_eq!(Project::descriptor().sync_groups, ["org:{orgId}"]);
/// let patch = ProjectPatch::new().name("Apollo").clear_summary();
/// assert_eq!(serde_json::to_string(&patch).unwrap(), r#"{"name":"Apollo","summary":null}"#);
/// ```
#[proc_macro_attribute]
pub fn model(args: TokenStream, input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::model::expand(args.into(), input).into()
}

/// Declares a nested plain struct usable as a model field's type: same
/// derives and field naming as a model, no id, stamp or patch.
///
/// ```
/// use ablo::prelude::*;
///
/// #[ablo::object]
/// pub struct Address {
///     pub postal_code: String,
/// }
///
/// #[ablo::model]
/// pub struct Customer {
///     pub address: Option<Address>,
/// }
///
/// let field = &Customer::descriptor().fields[0];
/// assert_eq!(field.ty, FieldType::optional(FieldType::Object { name: "Address".into() }));
/// ```
#[proc_macro_attribute]
pub fn object(args: TokenStream, input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::object::expand(args.into(), input).into()
}

/// Makes a unit-variant enum an Ablo field type that travels as a string:
/// snake_case of the variant name unless `#[ablo(rename = "...")]`.
/// Implements serde, ts-rs (a string union), schemars, `FieldValue`, and
/// `Clone`, `Copy`, `Debug`, `PartialEq`, `Eq`, `Hash` (do not derive those).
///
/// ```
/// #[derive(ablo::Enum)]
/// pub enum Status {
///     Todo,
///     InProgress,
///     #[ablo(rename = "finished")]
///     Done,
/// }
///
/// assert_eq!(serde_json::to_string(&Status::InProgress).unwrap(), r#""in_progress""#);
/// assert!(serde_json::from_str::<Status>(r#""Done""#).is_err());
/// ```
#[proc_macro_derive(Enum, attributes(ablo))]
pub fn derive_enum(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::enumeration::expand(input).into()
}

/// Declares a schema: the set of models of an application, with its
/// descriptor and a typed client (`App::connect`, `AppClient::tasks()`).
///
/// ```
/// #[ablo::model]
/// pub struct Task {
///     pub title: String,
/// }
///
/// ablo::schema! { pub struct App { tasks: Task } }
///
/// let schema = App::descriptor();
/// assert_eq!(schema.models[0].name, "tasks");
/// assert!(schema.hash_is_valid());
/// ```
#[proc_macro]
pub fn schema(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as expand::schema::SchemaInput);
    expand::schema::expand(input).into()
}
