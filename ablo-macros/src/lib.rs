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
mod types;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Declares a model. See `ablo::model`.
#[proc_macro_attribute]
pub fn model(args: TokenStream, input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::model::expand(args.into(), input).into()
}

/// Declares a nested plain struct usable as a field type. See `ablo::object`.
#[proc_macro_attribute]
pub fn object(args: TokenStream, input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::object::expand(args.into(), input).into()
}

/// Implements an Ablo enum on a unit-variant enum. See `ablo::Enum`.
#[proc_macro_derive(Enum, attributes(ablo))]
pub fn derive_enum(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::enumeration::expand(input).into()
}

/// Declares a schema. See `ablo::schema!`.
#[proc_macro]
pub fn schema(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as expand::schema::SchemaInput);
    expand::schema::expand(input).into()
}
