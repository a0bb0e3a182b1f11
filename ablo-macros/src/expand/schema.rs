//! `ablo::schema! { pub struct App { tasks: Task, projects: Project } }`:
//! the schema type, its descriptor and the typed client surface
//! (`App::connect`, `AppClient::tasks()`).

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Ident, Token, Type, Visibility, braced};

use super::{private, runtime};
use crate::ctxt::Ctxt;

/// The parsed macro input.
pub struct SchemaInput {
    attrs: Vec<Attribute>,
    vis: Visibility,
    ident: Ident,
    entries: Punctuated<Entry, Token![,]>,
}

/// `tasks: Task`: an accessor name and a model type.
struct Entry {
    accessor: Ident,
    model: Type,
}

impl Parse for SchemaInput {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        input.parse::<Token![struct]>()?;
        let ident = input.parse()?;
        let content;
        braced!(content in input);
        let entries = content.parse_terminated(Entry::parse, Token![,])?;
        Ok(SchemaInput {
            attrs,
            vis,
            ident,
            entries,
        })
    }
}

impl Parse for Entry {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let accessor = input.parse()?;
        input.parse::<Token![:]>()?;
        let model = input.parse()?;
        Ok(Entry { accessor, model })
    }
}

pub fn expand(input: SchemaInput) -> TokenStream {
    let cx = Ctxt::new();
    let entries: Vec<&Entry> = input.entries.iter().collect();
    for (index, entry) in entries.iter().enumerate() {
        if let Some(earlier) = entries[..index]
            .iter()
            .find(|e| e.accessor == entry.accessor)
        {
            cx.error_with_hint(
                &entry.accessor,
                format!("`{}` is listed twice in `ablo::schema!`", entry.accessor),
                format!(
                    "each entry names one accessor of the client; the first `{}` is `{}`",
                    earlier.accessor,
                    type_text(&earlier.model)
                ),
            );
        }
    }
    if let Err(errors) = cx.check() {
        return errors.to_compile_error();
    }
    let private = private();
    let rt = runtime();
    let attrs = &input.attrs;
    let vis = &input.vis;
    let ident = &input.ident;
    let name = ident.to_string();
    let client = format_ident!("{}Client", ident);
    let models: Vec<&Type> = entries.iter().map(|e| &e.model).collect();
    let model_descriptors = models
        .iter()
        .map(|ty| quote_spanned!(ty.span()=> <#ty as #rt::Model>::descriptor()));
    let register = models
        .iter()
        .map(|ty| quote_spanned!(ty.span()=> <#ty as #rt::Model>::register_types(&mut registry);));
    let unique_names = unique_name_assertions(&entries);
    let accessors = entries.iter().map(|entry| {
        let accessor = &entry.accessor;
        let model = &entry.model;
        let doc = format!(
            "The `{}` model: create, update, delete, read and list its rows.",
            type_text(model)
        );
        // Spanned at the entry's type, so a type that is not a model is
        // reported on the entry rather than on the whole macro.
        let handle = quote_spanned!(model.span()=> ::ablo::__private::client::ModelHandle<#model>);
        let body = quote_spanned!(model.span()=> self.client.model::<#model>());
        quote! {
            #[doc = #doc]
            #vis fn #accessor(&self) -> #handle {
                #body
            }
        }
    });
    let schema_doc = format!("The Ablo schema `{name}`, declared with `ablo::schema!`.");
    let client_doc = format!(
        "A client connected to an Ablo server, typed by the schema [`{name}`]: one accessor per model. Derefs to the untyped `ablo::Client`."
    );
    quote! {
        #(#attrs)*
        #[doc = #schema_doc]
        #[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug, ::core::default::Default)]
        #vis struct #ident;

        impl #rt::Schema for #ident {
            const NAME: &'static str = #name;

            fn descriptor() -> #rt::SchemaDescriptor {
                let mut registry = #rt::TypeRegistry::default();
                #(#register)*
                #rt::SchemaDescriptor::build(#name, ::std::vec![#(#model_descriptors),*], registry)
            }
        }

        impl #ident {
            /// The schema's descriptor: every model, field, enum and nested
            /// object, with a stable content hash.
            #vis fn descriptor() -> #rt::SchemaDescriptor {
                <Self as #rt::Schema>::descriptor()
            }
        }

        #unique_names

        #private::__client_surface! {
            impl #ident {
                /// Connects to the Ablo server at `url` with an API key or
                /// capability token, using this schema: the server's schema
                /// must be this one or an additive evolution of it, else
                /// `Error::SchemaMismatch`. Connecting never pushes; see
                /// `push_schema`.
                #vis async fn connect(
                    url: impl ::core::convert::Into<::std::string::String>,
                    api_key: impl ::core::convert::Into<::std::string::String>,
                ) -> ::core::result::Result<#client, #private::client::Error> {
                    Self::connect_with(#private::client::Client::builder(url, api_key)).await
                }

                /// Pushes this schema to the server at `url` with an API key
                /// (`PUT /v1/schema`). A change that would break clients of
                /// the schema the server holds is refused with
                /// `Error::SchemaMismatch` (`breaking_schema_change`); use
                /// `ablo::client::push_schema` with
                /// `PushOptions::allowing_breaking()` when it is meant.
                #vis async fn push_schema(
                    url: impl ::core::convert::AsRef<str>,
                    api_key: impl ::core::convert::AsRef<str>,
                ) -> ::core::result::Result<#private::client::SchemaPushResponse, #private::client::Error> {
                    #private::client::push_schema(
                        url.as_ref(),
                        api_key.as_ref(),
                        &Self::descriptor(),
                        ::core::default::Default::default(),
                    )
                    .await
                }

                /// Connects with a prepared builder (timeouts, participant,
                /// ...); the schema is set on it here.
                #vis async fn connect_with(
                    builder: #private::client::ClientBuilder,
                ) -> ::core::result::Result<#client, #private::client::Error> {
                    let client = builder.schema(Self::descriptor()).connect().await?;
                    ::core::result::Result::Ok(#client { client })
                }
            }

            #[doc = #client_doc]
            #[derive(::core::clone::Clone)]
            #vis struct #client {
                client: #private::client::Client,
            }

            impl #client {
                #(#accessors)*

                /// The untyped client underneath.
                #vis fn client(&self) -> &#private::client::Client {
                    &self.client
                }
            }

            impl ::core::ops::Deref for #client {
                type Target = #private::client::Client;

                fn deref(&self) -> &Self::Target {
                    &self.client
                }
            }
        }
    }
}

/// A compile-time check that the entries' models have distinct wire names
/// (`Model::NAME`, known only after the models' own expansion). The names
/// and labels are listed once; each later entry gets one small check, spanned
/// at the entry, that panics with a message naming both entries and the
/// shared name. Linear in the number of entries, so large schemas stay cheap.
fn unique_name_assertions(entries: &[&Entry]) -> TokenStream {
    if entries.len() < 2 {
        return quote!();
    }
    let private = private();
    let rt = runtime();
    let models = entries.iter().map(|e| &e.model);
    let labels = entries
        .iter()
        .map(|e| format!("`{}` ({})", e.accessor, type_text(&e.model)));
    let checks = entries.iter().enumerate().skip(1).map(|(index, entry)| {
        let span = entry.model.span();
        quote_spanned! {span=>
            const _: () = {
                let (buffer, len) = #private::duplicate_model_name(NAMES, LABELS, #index);
                if len > 0 {
                    let (message, _) = buffer.split_at(len);
                    match ::core::str::from_utf8(message) {
                        ::core::result::Result::Ok(message) => ::core::panic!("{}", message),
                        ::core::result::Result::Err(_) => ::core::panic!("ablo::schema!: duplicate model wire name"),
                    }
                }
            };
        }
    });
    quote! {
        const _: () = {
            const NAMES: &[&str] = &[#(<#models as #rt::Model>::NAME),*];
            const LABELS: &[&str] = &[#(#labels),*];
            #(#checks)*
        };
    }
}

fn type_text(ty: &Type) -> String {
    quote!(#ty).to_string().replace(' ', "")
}
