//! What a macro emits beside its errors: a stand-in for the impls it would
//! have written, so that code using the type (other models' fields, `Ref`,
//! `ablo::schema!`, the user's own code) still type-checks and the
//! mistakes the macro reported stay the only errors. The bodies are never
//! run: the crate does not compile while the errors stand.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use super::{private, runtime};
use crate::check;

/// Which stand-in impls an item gets.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `#[ablo::model]`: serde, std traits and `Model`.
    Model,
    /// `#[ablo::object]`: serde, std traits, `TS`, `JsonSchema`, `FieldValue`.
    Object,
    /// `#[derive(ablo::Enum)]`: as an object, plus `Copy`, `Eq` and `Hash`.
    Enum,
}

/// The stand-in impls for `input`, leaving out every trait the user derives
/// (it would conflict). Nothing for a generic item: its generics are an
/// error of their own and the impls could not name the type.
pub fn impls(input: &DeriveInput, kind: Kind) -> TokenStream {
    if !input.generics.params.is_empty() {
        return quote!();
    }
    let derived: Vec<String> = input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("derive"))
        .flat_map(check::derived_names)
        .map(|(name, _)| name)
        .collect();
    let has = |name: &str| derived.iter().any(|d| d == name);
    let private = private();
    let rt = runtime();
    let ident = &input.ident;
    let never = quote!(::core::unreachable!(
        "a stand-in for a type with schema errors"
    ));
    let mut out = TokenStream::new();
    if !has("Clone") {
        out.extend(quote! {
            impl ::core::clone::Clone for #ident { fn clone(&self) -> Self { #never } }
        });
    }
    if !has("Debug") {
        out.extend(quote! {
            impl ::core::fmt::Debug for #ident {
                fn fmt(&self, _: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result { #never }
            }
        });
    }
    if !has("PartialEq") {
        out.extend(quote! {
            impl ::core::cmp::PartialEq for #ident { fn eq(&self, _: &Self) -> bool { #never } }
        });
    }
    if kind == Kind::Enum {
        // `Copy` only when every field could be: a variant with data is an
        // error of its own, and `Copy` would add one about its fields.
        let unit_only = match &input.data {
            syn::Data::Enum(data) => data.variants.iter().all(|v| v.fields.is_empty()),
            _ => false,
        };
        if unit_only && !has("Copy") {
            out.extend(quote!(impl ::core::marker::Copy for #ident {}));
        }
        if !has("Eq") {
            out.extend(quote!(impl ::core::cmp::Eq for #ident {}));
        }
        if !has("Hash") {
            out.extend(quote! {
                impl ::core::hash::Hash for #ident {
                    fn hash<H: ::core::hash::Hasher>(&self, _: &mut H) { #never }
                }
            });
        }
    }
    if !has("Serialize") {
        out.extend(quote! {
            impl #private::serde::Serialize for #ident {
                fn serialize<S: #private::serde::Serializer>(&self, _: S) -> ::core::result::Result<S::Ok, S::Error> { #never }
            }
        });
    }
    if !has("Deserialize") {
        out.extend(quote! {
            impl<'de> #private::serde::Deserialize<'de> for #ident {
                fn deserialize<D: #private::serde::Deserializer<'de>>(_: D) -> ::core::result::Result<Self, D::Error> { #never }
            }
        });
    }
    match kind {
        Kind::Model => {
            let name = ident.to_string();
            // `Model` needs `Send + Sync`; a field type that is neither is
            // one of the reported mistakes, not another one.
            out.extend(quote! {
                unsafe impl ::core::marker::Send for #ident {}
                unsafe impl ::core::marker::Sync for #ident {}
                impl #rt::Model for #ident {
                    const NAME: &'static str = #name;
                    type Patch = #private::StandInPatch;
                    fn descriptor() -> #rt::ModelDescriptor { #never }
                    fn register_types(_: &mut #rt::TypeRegistry) { #never }
                }
            });
        }
        Kind::Object | Kind::Enum => {
            let ts = quote!(#private::ts_rs);
            let schemars = quote!(#private::schemars);
            if !has("TS") {
                out.extend(quote! {
                    impl #ts::TS for #ident {
                        type WithoutGenerics = Self;
                        type OptionInnerType = Self;
                        fn name(_: &#ts::Config) -> ::std::string::String { #never }
                        fn inline(_: &#ts::Config) -> ::std::string::String { #never }
                    }
                });
            }
            if !has("JsonSchema") {
                out.extend(quote! {
                    impl #schemars::JsonSchema for #ident {
                        fn schema_name() -> ::std::borrow::Cow<'static, str> { #never }
                        fn json_schema(_: &mut #schemars::SchemaGenerator) -> #schemars::Schema { #never }
                    }
                });
            }
            out.extend(quote! {
                impl #rt::FieldValue for #ident {
                    fn field_type() -> #rt::FieldType { #never }
                }
            });
        }
    }
    quote! {
        #[allow(unreachable_code, clippy::all)]
        const _: () = { #out };
    }
}
