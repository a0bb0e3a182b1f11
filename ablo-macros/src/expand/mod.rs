//! Code generation. Every generated path goes through `::ablo::__private`,
//! so a user crate needs no dependency besides `ablo`.

pub mod enumeration;
mod interop;
pub mod model;
pub mod object;
pub mod schema;
pub mod stand_in;

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Fields, parse_quote};

use crate::ast::Struct;
use crate::attr;
use crate::check;

/// `::ablo::__private`, the facade's hidden re-exports.
pub fn private() -> TokenStream {
    quote!(::ablo::__private)
}

/// `::ablo::__private::ablo_runtime`.
pub fn runtime() -> TokenStream {
    quote!(::ablo::__private::ablo_runtime)
}

/// `Some("text".to_owned())` or `None`.
pub fn option_string(value: &Option<String>) -> TokenStream {
    match value {
        Some(text) => quote!(::core::option::Option::Some(::std::borrow::ToOwned::to_owned(#text))),
        None => quote!(::core::option::Option::None),
    }
}

/// What an attribute macro emits when its input has mistakes: the errors,
/// the item itself without `#[ablo(...)]` attributes, and stand-in impls of
/// the traits it would have implemented, so that code naming the item still
/// resolves and type-checks and the mistakes above stay the only errors.
/// A model's patch type is left out: its fields would repeat the mistakes
/// in the field types.
pub fn with_errors(input: &DeriveInput, errors: syn::Error, kind: stand_in::Kind) -> TokenStream {
    let mut item = input.clone();
    strip_ablo_attrs(&mut item);
    let errors = errors.to_compile_error();
    let impls = stand_in::impls(input, kind);
    quote!(#errors #item #impls)
}

/// What `#[derive(ablo::Enum)]` emits when its input has mistakes: the
/// errors and stand-in impls (see [`with_errors`]).
pub fn enum_with_errors(input: &DeriveInput, errors: syn::Error) -> TokenStream {
    let errors = errors.to_compile_error();
    let impls = stand_in::impls(input, stand_in::Kind::Enum);
    quote!(#errors #impls)
}

fn strip_ablo_attrs(item: &mut DeriveInput) {
    item.attrs.retain(|a| !attr::is_ablo_attr(a));
    if let syn::Data::Struct(data) = &mut item.data {
        for field in data.fields.iter_mut() {
            field.attrs.retain(|a| !attr::is_ablo_attr(a));
        }
    }
}

/// Re-emits a model or object struct with its derives and each field's wire
/// name written out for serde, followed by its `TS` and `JsonSchema` impls.
pub fn struct_with_derives(item: &Struct) -> TokenStream {
    let private = private();
    let mut output = item.input.clone();
    strip_ablo_attrs(&mut output);
    if let syn::Data::Struct(data) = &mut output.data
        && let Fields::Named(named) = &mut data.fields
    {
        for (field, parsed) in named.named.iter_mut().zip(&item.fields) {
            let wire = &parsed.wire_name;
            field.attrs.push(parse_quote!(#[serde(rename = #wire)]));
        }
    }
    let already: Vec<String> = item
        .input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("derive"))
        .flat_map(check::derived_names)
        .map(|(name, _)| name)
        .collect();
    let std_derives = [
        ("Clone", quote!(::core::clone::Clone)),
        ("Debug", quote!(::core::fmt::Debug)),
        ("PartialEq", quote!(::core::cmp::PartialEq)),
    ]
    .into_iter()
    .filter(|(name, _)| !already.iter().any(|a| a == name))
    .map(|(_, path)| path);
    let serde_crate = format!("{private}::serde").replace(' ', "");
    let attrs = &output.attrs;
    let vis = &output.vis;
    let ident = &output.ident;
    let syn::Data::Struct(data) = &output.data else {
        unreachable!("checked to be a struct");
    };
    let fields = &data.fields;
    let interop = interop::impls(item);
    quote! {
        #(#attrs)*
        #[derive(
            #private::serde::Serialize,
            #private::serde::Deserialize,
            #(#std_derives),*
        )]
        #[serde(crate = #serde_crate)]
        #vis struct #ident #fields

        #interop
    }
}

/// `<T as FieldValue>::field_type()` for each field, spanned at the field's
/// type so an unsupported type is reported there.
pub fn field_descriptors(item: &Struct) -> Vec<TokenStream> {
    let rt = runtime();
    item.fields
        .iter()
        .map(|field| {
            let ty = field.ty;
            let field_type = quote_spanned!(ty.span()=> <#ty as #rt::FieldValue>::field_type());
            let wire = &field.wire_name;
            let rust = field.rust_name();
            let indexed = field.attrs.index;
            let doc = option_string(&field.docs);
            quote! {
                #rt::FieldDescriptor {
                    name: ::std::borrow::ToOwned::to_owned(#wire),
                    rust_name: ::std::borrow::ToOwned::to_owned(#rust),
                    ty: #field_type,
                    indexed: #indexed,
                    doc: #doc,
                }
            }
        })
        .collect()
}

/// `<T as FieldValue>::register_types(registry)` for each field.
pub fn register_field_types(item: &Struct) -> Vec<TokenStream> {
    let rt = runtime();
    item.fields
        .iter()
        .map(|field| {
            let ty = field.ty;
            quote_spanned!(ty.span()=> <#ty as #rt::FieldValue>::register_types(registry);)
        })
        .collect()
}
