//! `#[ablo::model]`: the struct with its derives, the `TaskPatch` type with
//! builder setters, and the `Model` impl with its descriptor.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::DeriveInput;

use super::{
    field_descriptors, option_string, private, register_field_types, runtime, struct_with_derives,
    with_errors,
};
use crate::ast::{Field, Struct, StructKind};
use crate::attr;
use crate::check::{self, ModelSchema};
use crate::ctxt::Ctxt;
use crate::types;

pub fn expand(args: TokenStream, input: DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let args = attr::parse_model_args(&cx, args);
    let item = Struct::from_ast(&cx, &input, StructKind::Model);
    let schema = item
        .as_ref()
        .map(|item| check::check_struct(&cx, item, StructKind::Model, &args));
    if let Err(errors) = cx.check() {
        return with_errors(&input, errors);
    }
    let (Some(item), Some(schema)) = (item, schema) else {
        unreachable!("no errors means the struct was read");
    };
    let definition = struct_with_derives(&item);
    let patch = patch_type(&item);
    let model_impl = model_impl(&item, &schema);
    quote! {
        #definition
        #patch
        #model_impl
    }
}

fn patch_ident(item: &Struct) -> syn::Ident {
    format_ident!("{}Patch", item.ident)
}

fn patch_type(item: &Struct) -> TokenStream {
    let private = private();
    let rt = runtime();
    let model = item.ident;
    let patch = patch_ident(item);
    let vis = &item.input.vis;
    let serde_crate = "::ablo::__private::serde";
    let skip = "::ablo::__private::ablo_runtime::FieldPatch::is_unchanged";
    let doc = format!(
        "Changes to a [`{model}`] row: every field is left alone unless set. \
         Serialized with only the fields that are set; an optional field set to \
         `None` is sent as `null`."
    );
    let fields = item.fields.iter().map(|field| {
        let ident = field.ident;
        let ty = field.ty;
        let wire = &field.wire_name;
        let field_vis = &field.original.vis;
        let doc = format!("New value of `{}`, if it changes.", field.rust_name());
        quote! {
            #[doc = #doc]
            #[serde(rename = #wire, default, skip_serializing_if = #skip)]
            #field_vis #ident: #rt::FieldPatch<#ty>
        }
    });
    let setters = item.fields.iter().map(|field| setters(field, &rt));
    let new_doc = format!(
        "A patch that changes nothing; chain the setters to fill it: `{patch}::new().field(value)`."
    );
    quote! {
        #[doc = #doc]
        #[derive(
            #private::serde::Serialize,
            #private::serde::Deserialize,
            ::core::default::Default,
            ::core::clone::Clone,
            ::core::fmt::Debug,
            ::core::cmp::PartialEq,
        )]
        #[serde(crate = #serde_crate)]
        #vis struct #patch {
            #(#fields,)*
        }

        impl #patch {
            #[doc = #new_doc]
            #[must_use]
            #vis fn new() -> Self {
                ::core::default::Default::default()
            }

            #(#setters)*
        }
    }
}

/// `.title(v)` for every field; `.clear_summary()` as well for optional ones.
fn setters(field: &Field, rt: &TokenStream) -> TokenStream {
    let ident = field.ident;
    let vis = &field.original.vis;
    let name = field.rust_name();
    match types::option_inner(field.ty) {
        Some(inner) => {
            let clear = format_ident!("clear_{}", name);
            let set_doc = format!("Sets `{name}` to a value.");
            let clear_doc = format!("Sets `{name}` to null (`None`).");
            let (param, value) = if types::setter_takes_into(inner) {
                (
                    quote!(impl ::core::convert::Into<#inner>),
                    quote!(::core::convert::Into::into(value)),
                )
            } else {
                (quote!(#inner), quote!(value))
            };
            quote! {
                #[doc = #set_doc]
                #[must_use]
                #vis fn #ident(mut self, value: #param) -> Self {
                    self.#ident = #rt::FieldPatch::Set(::core::option::Option::Some(#value));
                    self
                }

                #[doc = #clear_doc]
                #[must_use]
                #vis fn #clear(mut self) -> Self {
                    self.#ident = #rt::FieldPatch::Set(::core::option::Option::None);
                    self
                }
            }
        }
        None => {
            let ty = field.ty;
            let doc = format!("Sets `{name}`.");
            let (param, value) = if types::setter_takes_into(ty) {
                (
                    quote!(impl ::core::convert::Into<#ty>),
                    quote!(::core::convert::Into::into(value)),
                )
            } else {
                (quote!(#ty), quote!(value))
            };
            quote! {
                #[doc = #doc]
                #[must_use]
                #vis fn #ident(mut self, value: #param) -> Self {
                    self.#ident = #rt::FieldPatch::Set(#value);
                    self
                }
            }
        }
    }
}

fn model_impl(item: &Struct, schema: &ModelSchema) -> TokenStream {
    let rt = runtime();
    let model = item.ident;
    let patch = patch_ident(item);
    let wire_name = &schema.wire_name;
    let type_name = model.to_string();
    let doc = option_string(&item.docs);
    let fields = field_descriptors(item);
    let register = register_field_types(item);
    let sync_groups = &schema.sync_groups;
    quote! {
        impl #rt::Model for #model {
            const NAME: &'static str = #wire_name;
            type Patch = #patch;

            fn descriptor() -> #rt::ModelDescriptor {
                #rt::ModelDescriptor {
                    name: ::std::borrow::ToOwned::to_owned(#wire_name),
                    type_name: ::std::borrow::ToOwned::to_owned(#type_name),
                    doc: #doc,
                    fields: ::std::vec![#(#fields),*],
                    sync_groups: ::std::vec![#(::std::borrow::ToOwned::to_owned(#sync_groups)),*],
                    ts: #rt::model::ts_declaration::<Self>(),
                    json_schema: #rt::model::json_schema_of::<Self>(),
                }
            }

            fn register_types(registry: &mut #rt::TypeRegistry) {
                #(#register)*
            }
        }
    }
}
