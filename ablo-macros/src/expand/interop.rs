//! `ts_rs::TS` and `schemars::JsonSchema` for models and objects, written
//! from the field list this macro already holds. Running the ts-rs and
//! schemars derives instead would parse each struct twice more and cost
//! most of the macro's compile time; the impls here give the same output as
//! those derives (doc comments included), which the tests crate checks.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::{private, runtime};
use crate::ast::Struct;
use crate::attr;

/// Both impls for a model or object struct.
pub fn impls(item: &Struct) -> TokenStream {
    let ts = ts_impl(item);
    let json_schema = json_schema_impl(item);
    quote!(#ts #json_schema)
}

fn ts_impl(item: &Struct) -> TokenStream {
    let private = private();
    let rt = runtime();
    let ts = quote!(#private::ts_rs);
    let ident = item.ident;
    let name = ident.to_string();
    let file = format!("{name}.ts");
    let docs = match ts_doc_comment(&attr::doc_lines(&item.input.attrs)) {
        Some(comment) => quote! {
            fn docs() -> ::core::option::Option<::std::string::String> {
                ::core::option::Option::Some(::std::borrow::ToOwned::to_owned(#comment))
            }
        },
        None => quote!(),
    };
    let members = item.fields.iter().map(|field| {
        let ty = field.ty;
        // Wire names are identifiers (checked), so they need no quotes.
        let mut key = field.wire_name.clone();
        if let Some(comment) = ts_doc_comment(&attr::doc_lines(&field.original.attrs)) {
            key = format!("\n{comment}{key}");
        }
        quote_spanned!(ty.span()=> (#key, <#ty as #rt::FieldValue>::__ts_name(cfg)))
    });
    let visits = item.fields.iter().map(|field| {
        let ty = field.ty;
        quote_spanned!(ty.span()=> <#ty as #rt::FieldValue>::__ts_visit(visitor);)
    });
    quote! {
        impl #ts::TS for #ident {
            type WithoutGenerics = Self;
            type OptionInnerType = Self;

            #docs

            fn name(_: &#ts::Config) -> ::std::string::String {
                ::std::borrow::ToOwned::to_owned(#name)
            }

            fn inline(cfg: &#ts::Config) -> ::std::string::String {
                #private::ts_object(&[#(#members),*])
            }

            fn inline_flattened(cfg: &#ts::Config) -> ::std::string::String {
                <Self as #ts::TS>::inline(cfg)
            }

            fn decl(cfg: &#ts::Config) -> ::std::string::String {
                #private::ts_declaration(#name, &<Self as #ts::TS>::inline(cfg))
            }

            fn decl_concrete(cfg: &#ts::Config) -> ::std::string::String {
                <Self as #ts::TS>::decl(cfg)
            }

            fn output_path() -> ::core::option::Option<::std::path::PathBuf> {
                ::core::option::Option::Some(::std::path::PathBuf::from(#file))
            }

            fn visit_dependencies(visitor: &mut impl #ts::TypeVisitor)
            where
                Self: 'static,
            {
                #(#visits)*
            }
        }
    }
}

fn json_schema_impl(item: &Struct) -> TokenStream {
    let private = private();
    let rt = runtime();
    let schemars = quote!(#private::schemars);
    let ident = item.ident;
    let name = ident.to_string();
    let properties = item.fields.iter().map(|field| {
        let ty = field.ty;
        let key = &field.wire_name;
        let (title, description) = title_and_description(&attr::doc_lines(&field.original.attrs));
        quote_spanned! {ty.span()=>
            let subschema = <#ty as #rt::FieldValue>::__json_subschema(generator);
            #private::json_schema_property(&mut schema, generator, subschema, #key, #title, #description);
        }
    });
    let (title, description) = title_and_description(&attr::doc_lines(&item.input.attrs));
    quote! {
        impl #schemars::JsonSchema for #ident {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(#name)
            }

            fn schema_id() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(::core::concat!(::core::module_path!(), "::", #name))
            }

            fn json_schema(generator: &mut #schemars::SchemaGenerator) -> #schemars::Schema {
                let mut schema = #private::json_schema_object();
                #(#properties)*
                #private::json_schema_metadata(&mut schema, #title, #description);
                schema
            }
        }
    }
}

/// A JSDoc comment from `#[doc]` texts, laid out as ts-rs lays it out.
fn ts_doc_comment(lines: &[String]) -> Option<String> {
    match lines {
        [] => None,
        [block] if block.contains('\n') => Some(format!("/**{block}*/\n")),
        lines => {
            let body: Vec<String> = lines.iter().map(|line| format!(" *{line}")).collect();
            Some(format!("/**\n{}\n */\n", body.join("\n")))
        }
    }
}

/// JSON Schema `title` and `description` from `#[doc]` texts, split as
/// schemars splits them: a doc comment that opens with a `#` heading gives
/// the heading as the title and the rest as the description; any other
/// comment is all description.
fn title_and_description(lines: &[String]) -> (String, String) {
    let doc = lines
        .iter()
        .map(|line| line.strip_prefix(' ').unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n");
    let doc = doc.trim_ascii();
    match doc.strip_prefix('#') {
        Some(_) => {
            let (heading, rest) = doc.split_once('\n').unwrap_or((doc, ""));
            (
                heading.trim_start_matches('#').trim_ascii().to_owned(),
                rest.trim_ascii().to_owned(),
            )
        }
        None => (String::new(), doc.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|t| (*t).to_owned()).collect()
    }

    #[test]
    fn doc_comments_become_jsdoc_blocks() {
        assert_eq!(ts_doc_comment(&[]), None);
        assert_eq!(
            ts_doc_comment(&lines(&[" One.", " Two."])).unwrap(),
            "/**\n * One.\n * Two.\n */\n"
        );
        assert_eq!(
            ts_doc_comment(&lines(&["\n block\n"])).unwrap(),
            "/**\n block\n*/\n"
        );
    }

    #[test]
    fn a_heading_is_the_title() {
        assert_eq!(
            title_and_description(&lines(&[" # Task", "", " A unit of work."])),
            ("Task".to_owned(), "A unit of work.".to_owned())
        );
        assert_eq!(
            title_and_description(&lines(&[" A unit", " of work. "])),
            (String::new(), "A unit\nof work.".to_owned())
        );
        assert_eq!(title_and_description(&[]), (String::new(), String::new()));
    }
}
