//! `#[ablo::object]`: a nested plain struct used as a field type. Same
//! derives as a model, no id or stamp; its `FieldValue` impl registers an
//! `ObjectDescriptor` once, even for recursive structs.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use super::{
    field_descriptors, option_string, register_field_types, runtime, struct_with_derives,
    with_errors,
};
use crate::ast::{Struct, StructKind};
use crate::attr::{self, ModelArgs};
use crate::check;
use crate::ctxt::Ctxt;

pub fn expand(args: TokenStream, input: DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    attr::parse_object_args(&cx, args);
    let item = Struct::from_ast(&cx, &input, StructKind::Object);
    if let Some(item) = &item {
        check::check_struct(&cx, item, StructKind::Object, &ModelArgs::default());
    }
    if let Err(errors) = cx.check() {
        return with_errors(&input, errors, super::stand_in::Kind::Object);
    }
    let Some(item) = item else {
        unreachable!("no errors means the struct was read");
    };
    let rt = runtime();
    let definition = struct_with_derives(&item);
    let ident = item.ident;
    let name = ident.to_string();
    let doc = option_string(&item.docs);
    let fields = field_descriptors(&item);
    let register = register_field_types(&item);
    quote! {
        #definition

        impl #rt::FieldValue for #ident {
            fn field_type() -> #rt::FieldType {
                #rt::FieldType::Object { name: ::std::borrow::ToOwned::to_owned(#name) }
            }

            fn register_types(registry: &mut #rt::TypeRegistry) {
                if registry.begin_object_of::<Self>(#name) {
                    #(#register)*
                    registry.finish_object(#rt::ObjectDescriptor {
                        name: ::std::borrow::ToOwned::to_owned(#name),
                        doc: #doc,
                        fields: ::std::vec![#(#fields),*],
                        ts: #rt::model::ts_declaration::<Self>(),
                        json_schema: #rt::model::json_schema_of::<Self>(),
                    });
                }
            }
        }
    }
}
