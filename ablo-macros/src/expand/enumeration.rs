//! `#[derive(ablo::Enum)]`: a unit-variant enum that travels as a string.
//! A derive cannot add derives, so serde, ts-rs, schemars and the standard
//! value traits are implemented here by hand.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use super::{option_string, private, runtime};
use crate::ast::Enum;
use crate::check;
use crate::ctxt::Ctxt;

/// Standard traits the derive implements; deriving them too would clash.
const IMPLEMENTED_STD_TRAITS: &[&str] = &["Clone", "Copy", "Debug", "PartialEq", "Eq", "Hash"];

pub fn expand(input: DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let item = Enum::from_ast(&cx, &input);
    if let Some(item) = &item {
        check::check_enum(&cx, item);
    }
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("derive")) {
        for (name, path) in check::derived_names(attr) {
            if IMPLEMENTED_STD_TRAITS.contains(&name.as_str()) {
                cx.error_with_hint(
                    path,
                    format!("`#[derive(ablo::Enum)]` already implements `{name}`"),
                    "it implements Clone, Copy, Debug, PartialEq, Eq and Hash: remove them from the derive list",
                );
            }
        }
    }
    if let Err(errors) = cx.check() {
        return super::enum_with_errors(&input, errors);
    }
    let Some(item) = item else {
        unreachable!("no errors means the enum was read");
    };
    let private = private();
    let rt = runtime();
    let ident = item.ident;
    let name = ident.to_string();
    let variants: Vec<&syn::Ident> = item.variants.iter().map(|v| v.ident).collect();
    let values: Vec<&String> = item.variants.iter().map(|v| &v.wire_value).collect();
    let indexes = 0..variants.len();
    let ts_union = values
        .iter()
        .map(|value| format!("\"{value}\""))
        .collect::<Vec<_>>()
        .join(" | ");
    let ts_decl = format!("type {name} = {ts_union};");
    let ts_file = format!("{name}.ts");
    let doc = option_string(&item.docs);
    let description = match &item.docs {
        Some(text) => {
            quote!(schema.insert(::std::borrow::ToOwned::to_owned("description"), #private::serde_json::Value::from(#text));)
        }
        None => quote!(),
    };
    let expecting = format!("a `{name}` value");
    quote! {
        const _: () = {
            use #private::serde;

            impl ::core::clone::Clone for #ident {
                fn clone(&self) -> Self {
                    *self
                }
            }
            impl ::core::marker::Copy for #ident {}
            impl ::core::cmp::PartialEq for #ident {
                fn eq(&self, other: &Self) -> bool {
                    ::core::mem::discriminant(self) == ::core::mem::discriminant(other)
                }
            }
            impl ::core::cmp::Eq for #ident {}
            impl ::core::hash::Hash for #ident {
                fn hash<H: ::core::hash::Hasher>(&self, state: &mut H) {
                    ::core::hash::Hash::hash(&::core::mem::discriminant(self), state)
                }
            }
            impl ::core::fmt::Debug for #ident {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    f.write_str(match self { #(Self::#variants => ::core::stringify!(#variants),)* })
                }
            }

            impl #ident {
                /// The wire values of this enum, in declaration order.
                const __ABLO_VALUES: &'static [&'static str] = &[#(#values),*];
            }

            impl serde::Serialize for #ident {
                fn serialize<S: serde::Serializer>(&self, serializer: S) -> ::core::result::Result<S::Ok, S::Error> {
                    serializer.serialize_str(match self { #(Self::#variants => #values,)* })
                }
            }

            impl<'de> serde::Deserialize<'de> for #ident {
                fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> ::core::result::Result<Self, D::Error> {
                    let index = #private::deserialize_enum_index(deserializer, #expecting, Self::__ABLO_VALUES)?;
                    ::core::result::Result::Ok(match index {
                        #(#indexes => Self::#variants,)*
                        _ => ::core::unreachable!("index within the value list"),
                    })
                }
            }

            impl #private::ts_rs::TS for #ident {
                type WithoutGenerics = Self;
                type OptionInnerType = Self;
                const IS_ENUM: bool = true;

                fn docs() -> ::core::option::Option<::std::string::String> {
                    #doc
                }
                fn name(_: &#private::ts_rs::Config) -> ::std::string::String {
                    ::std::borrow::ToOwned::to_owned(#name)
                }
                fn inline(_: &#private::ts_rs::Config) -> ::std::string::String {
                    ::std::borrow::ToOwned::to_owned(#ts_union)
                }
                fn decl(_: &#private::ts_rs::Config) -> ::std::string::String {
                    ::std::borrow::ToOwned::to_owned(#ts_decl)
                }
                fn decl_concrete(_: &#private::ts_rs::Config) -> ::std::string::String {
                    ::std::borrow::ToOwned::to_owned(#ts_decl)
                }
                fn output_path() -> ::core::option::Option<::std::path::PathBuf> {
                    ::core::option::Option::Some(::std::path::PathBuf::from(#ts_file))
                }
            }

            impl #private::schemars::JsonSchema for #ident {
                fn schema_name() -> ::std::borrow::Cow<'static, str> {
                    ::std::borrow::Cow::Borrowed(#name)
                }
                fn schema_id() -> ::std::borrow::Cow<'static, str> {
                    ::std::borrow::Cow::Borrowed(::core::concat!(::core::module_path!(), "::", #name))
                }
                fn json_schema(_: &mut #private::schemars::SchemaGenerator) -> #private::schemars::Schema {
                    let mut schema = #private::schemars::json_schema!({
                        "type": "string",
                        "enum": [#(#values),*],
                    });
                    #description
                    schema
                }
            }

            // Enums compare by their wire text, as the server compares them.
            impl #rt::fields::Ordered for #ident {}

            impl #rt::FieldValue for #ident {
                fn field_type() -> #rt::FieldType {
                    #rt::FieldType::Enum { name: ::std::borrow::ToOwned::to_owned(#name) }
                }

                fn register_types(registry: &mut #rt::TypeRegistry) {
                    registry.add_enum_of::<Self>(#rt::EnumDescriptor {
                        name: ::std::borrow::ToOwned::to_owned(#name),
                        doc: #doc,
                        variants: ::std::vec![#(::std::borrow::ToOwned::to_owned(#values)),*],
                        ts: #rt::model::ts_declaration::<Self>(),
                        json_schema: #rt::model::json_schema_of::<Self>(),
                    });
                }
            }
        };
    }
}
