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
        return with_errors(&input, errors, super::stand_in::Kind::Model);
    }
    let (Some(item), Some(schema)) = (item, schema) else {
        unreachable!("no errors means the struct was read");
    };
    let definition = struct_with_derives(&item);
    let patch = patch_type(&item);
    let model_impl = model_impl(&item, &schema);
    let fields = field_refs(&item);
    quote! {
        #definition
        #patch
        #model_impl
        #fields
    }
}

/// `TaskFields`, one typed field reference per field, and `Task::fields()`,
/// for typed queries: `Task::fields().status.eq(TaskStatus::Done)`.
fn field_refs(item: &Struct) -> TokenStream {
    let rt = runtime();
    let model = item.ident;
    let vis = &item.input.vis;
    let fields_ident = format_ident!("{}Fields", model);
    let doc = format!(
        "The fields of [`{model}`] as typed references, for queries: \
         `{model}::fields().field.eq(value)` as a filter, `.order_by({model}::fields().field)`. \
         A field the model lacks, or a value of another type, does not compile."
    );
    let decls = item.fields.iter().map(|field| {
        let ident = field.ident;
        let ty = field.ty;
        let field_vis = &field.original.vis;
        let doc = format!("`{}` (wire name `{}`).", field.rust_name(), field.wire_name);
        quote! {
            #[doc = #doc]
            #field_vis #ident: #rt::fields::Field<#model, #ty>
        }
    });
    let inits = item.fields.iter().map(|field| {
        let ident = field.ident;
        let wire = &field.wire_name;
        quote!(#ident: #rt::fields::Field::new(#wire))
    });
    let fn_doc = format!("Typed references to the fields of `{model}`, for queries.");
    quote! {
        #[doc = #doc]
        #[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug)]
        #vis struct #fields_ident {
            #(#decls,)*
        }

        impl #model {
            #[doc = #fn_doc]
            #[must_use]
            #vis const fn fields() -> #fields_ident {
                #fields_ident { #(#inits,)* }
            }
        }
    }
}

fn patch_ident(item: &Struct) -> syn::Ident {
    format_ident!("{}Patch", item.ident)
}

fn patch_type(item: &Struct) -> TokenStream {
    let rt = runtime();
    let model = item.ident;
    let patch = patch_ident(item);
    let vis = &item.input.vis;
    let doc = format!(
        "Changes to a [`{model}`] row: every field is left alone unless set. \
         Serialized with only the fields that are set; an optional field set to \
         `None` is sent as `null`."
    );
    let fields = item.fields.iter().map(|field| {
        let ident = field.ident;
        let ty = field.ty;
        let field_vis = &field.original.vis;
        let doc = format!("New value of `{}`, if it changes.", field.rust_name());
        quote! {
            #[doc = #doc]
            #field_vis #ident: #rt::FieldPatch<#ty>
        }
    });
    let serde_impls = patch_serde(item, &patch);
    let setters = item.fields.iter().map(|field| setters(field, &rt));
    let new_doc = format!(
        "A patch that changes nothing; chain the setters to fill it: `{patch}::new().field(value)`."
    );
    quote! {
        #[doc = #doc]
        #[derive(
            ::core::default::Default,
            ::core::clone::Clone,
            ::core::fmt::Debug,
            ::core::cmp::PartialEq,
        )]
        #vis struct #patch {
            #(#fields,)*
        }

        #serde_impls

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

/// Serde for the patch, written out rather than derived because a patch
/// has one simple shape (a JSON object of the fields that are set) and the
/// derive's general machinery would dominate the compile time of large
/// schemas. Serializing writes each set field; deserializing goes through
/// the facade's generic map visitor and one `match` here.
fn patch_serde(item: &Struct, patch: &syn::Ident) -> TokenStream {
    let private = private();
    let rt = runtime();
    let wires: Vec<&String> = item.fields.iter().map(|f| &f.wire_name).collect();
    let idents: Vec<&syn::Ident> = item.fields.iter().map(|f| f.ident).collect();
    let indexes = 0..idents.len();
    let name = patch.to_string();
    quote! {
        impl #private::serde::Serialize for #patch {
            fn serialize<S: #private::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                use #private::serde::ser::SerializeMap as _;
                let mut map = serializer.serialize_map(::core::option::Option::None)?;
                #(
                    if let #rt::FieldPatch::Set(value) = &self.#idents {
                        map.serialize_entry(#wires, value)?;
                    }
                )*
                map.end()
            }
        }

        impl<'de> #private::serde::Deserialize<'de> for #patch {
            fn deserialize<D: #private::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<Self, D::Error> {
                #private::deserialize_patch(deserializer)
            }
        }

        impl #private::PatchFields for #patch {
            const NAME: &'static str = #name;
            const FIELDS: &'static [&'static str] = &[#(#wires),*];

            fn deserialize_field<'de, A: #private::serde::de::MapAccess<'de>>(
                &mut self,
                index: usize,
                map: &mut A,
            ) -> ::core::result::Result<(), A::Error> {
                match index {
                    #(#indexes => self.#idents = #rt::FieldPatch::Set(map.next_value()?),)*
                    _ => ::core::unreachable!("index within FIELDS"),
                }
                ::core::result::Result::Ok(())
            }
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
