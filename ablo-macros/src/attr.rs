//! Parsing of the macros' arguments into plain structs: the arguments of
//! `#[ablo::model(...)]` and the `#[ablo(...)]` attributes on fields and enum
//! variants. Every mistake is recorded in the [`Ctxt`] and parsing goes on,
//! so one compile reports all of them.

use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, ExprLit, Lit, LitStr, Meta, Token};

use crate::ctxt::Ctxt;

/// The arguments of `#[ablo::model(name = "...", sync_groups = ["..."])]`.
#[derive(Default)]
pub struct ModelArgs {
    pub name: Option<LitStr>,
    pub sync_groups: Vec<LitStr>,
}

/// The keys of `#[ablo(...)]` on a model field.
#[derive(Default)]
pub struct FieldAttrs {
    pub index: bool,
    pub rename: Option<LitStr>,
}

/// The keys of `#[ablo(...)]` on an enum variant.
#[derive(Default)]
pub struct VariantAttrs {
    pub rename: Option<LitStr>,
}

pub const MODEL_KEYS: &[&str] = &["name", "sync_groups"];
pub const MODEL_FIELD_KEYS: &[&str] = &["index", "rename"];
pub const OBJECT_FIELD_KEYS: &[&str] = &["rename"];
pub const VARIANT_KEYS: &[&str] = &["rename"];

/// Parses the arguments of `#[ablo::model(...)]`.
pub fn parse_model_args(cx: &Ctxt, args: TokenStream) -> ModelArgs {
    let mut out = ModelArgs::default();
    let Some(metas) = parse_metas(cx, args) else {
        return out;
    };
    let mut seen = Seen::default();
    for meta in metas {
        let Some(key) = seen.key(cx, &meta, "#[ablo::model(...)]", MODEL_KEYS) else {
            continue;
        };
        match key.as_str() {
            "name" => out.name = string_value(cx, &meta, "name = \"projects\""),
            "sync_groups" => out.sync_groups = string_list_value(cx, &meta),
            _ => unreachable!("key checked against MODEL_KEYS"),
        }
    }
    out
}

/// The arguments of `#[ablo::object]`, which takes none.
pub fn parse_object_args(cx: &Ctxt, args: TokenStream) {
    if !args.is_empty() {
        cx.error_with_hint(
            args,
            "`#[ablo::object]` takes no arguments",
            "write `#[ablo::object]`; fields may carry `#[ablo(rename = \"...\")]`",
        );
    }
}

/// Parses every `#[ablo(...)]` attribute of a field; `keys` are the keys
/// allowed there (models allow `index`, nested objects do not).
pub fn parse_field_attrs(cx: &Ctxt, attrs: &[Attribute], keys: &[&str]) -> FieldAttrs {
    let mut out = FieldAttrs::default();
    let mut seen = Seen::default();
    for meta in ablo_metas(cx, attrs) {
        let Some(key) = seen.key(cx, &meta, "#[ablo(...)] on a field", keys) else {
            continue;
        };
        match key.as_str() {
            "index" => out.index = flag_value(cx, &meta, "#[ablo(index)]"),
            "rename" => out.rename = string_value(cx, &meta, "rename = \"wireName\""),
            _ => unreachable!("key checked against the allowed keys"),
        }
    }
    out
}

/// Parses every `#[ablo(...)]` attribute of an enum variant.
pub fn parse_variant_attrs(cx: &Ctxt, attrs: &[Attribute]) -> VariantAttrs {
    let mut out = VariantAttrs::default();
    let mut seen = Seen::default();
    for meta in ablo_metas(cx, attrs) {
        let Some(key) = seen.key(cx, &meta, "#[ablo(...)] on a variant", VARIANT_KEYS) else {
            continue;
        };
        if key == "rename" {
            out.rename = string_value(cx, &meta, "rename = \"wire_value\"");
        }
    }
    out
}

/// Rejects `#[ablo(...)]` where no key is allowed (for example on an enum).
pub fn reject_ablo_attrs(cx: &Ctxt, attrs: &[Attribute], place: &str) {
    for attr in attrs.iter().filter(|a| is_ablo_attr(a)) {
        cx.error_with_hint(
            attr,
            format!("`#[ablo(...)]` is not allowed {place}"),
            "`#[ablo(rename = \"...\")]` goes on variants and fields; model options go in `#[ablo::model(...)]`",
        );
    }
}

pub fn is_ablo_attr(attr: &Attribute) -> bool {
    attr.path().is_ident("ablo")
}

/// The documentation of an item: its `///` lines joined, `None` when empty.
pub fn docs(attrs: &[Attribute]) -> Option<String> {
    let lines: Vec<String> = doc_lines(attrs)
        .into_iter()
        .map(|line| line.strip_prefix(' ').map(str::to_owned).unwrap_or(line))
        .collect();
    let joined = lines.join("\n").trim().to_owned();
    (!joined.is_empty()).then_some(joined)
}

/// The text of each `#[doc = "..."]` attribute as written, leading space
/// included (a `///` line is one attribute).
pub fn doc_lines(attrs: &[Attribute]) -> Vec<String> {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc"))
        .filter_map(|attr| match &attr.meta {
            Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn ablo_metas(cx: &Ctxt, attrs: &[Attribute]) -> Vec<Meta> {
    let mut metas = Vec::new();
    for attr in attrs.iter().filter(|a| is_ablo_attr(a)) {
        match &attr.meta {
            Meta::List(list) => {
                metas.extend(parse_metas(cx, list.tokens.clone()).unwrap_or_default())
            }
            _ => cx.error_with_hint(
                attr,
                "expected `#[ablo(...)]` with keys",
                "for example `#[ablo(index)]` or `#[ablo(rename = \"wireName\")]`",
            ),
        }
    }
    metas
}

fn parse_metas(cx: &Ctxt, tokens: TokenStream) -> Option<Vec<Meta>> {
    match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(tokens) {
        Ok(metas) => Some(metas.into_iter().collect()),
        Err(error) => {
            cx.syn_error(error);
            None
        }
    }
}

/// Tracks which keys a list already had, to report unknown and repeated keys.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    fn key(&mut self, cx: &Ctxt, meta: &Meta, place: &str, allowed: &[&str]) -> Option<String> {
        let path = meta.path();
        let key = path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_else(|| quote::quote!(#path).to_string().replace(' ', ""));
        if !allowed.contains(&key.as_str()) {
            cx.error_with_hint(
                path,
                format!("unknown key `{key}` in `{place}`"),
                format!("the allowed keys are {}", list_keys(allowed)),
            );
            return None;
        }
        if self.0.contains(&key) {
            cx.error_with_hint(
                path,
                format!("duplicate key `{key}` in `{place}`"),
                "give each key once",
            );
            return None;
        }
        self.0.push(key.clone());
        Some(key)
    }
}

/// `` `a`, `b` and `c` ``.
pub fn list_keys(keys: &[&str]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    match quoted.split_last() {
        None => "none".to_owned(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

fn flag_value(cx: &Ctxt, meta: &Meta, example: &str) -> bool {
    match meta {
        Meta::Path(_) => true,
        _ => {
            cx.error_with_hint(
                meta,
                "this key takes no value",
                format!("write `{example}`"),
            );
            false
        }
    }
}

fn string_value(cx: &Ctxt, meta: &Meta, example: &str) -> Option<LitStr> {
    if let Meta::NameValue(nv) = meta {
        if let Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) = &nv.value
        {
            return Some(s.clone());
        }
        cx.error_with_hint(
            &nv.value,
            "expected a string literal",
            format!("write `{example}`"),
        );
        return None;
    }
    cx.error_with_hint(
        meta,
        "this key needs a string value",
        format!("write `{example}`"),
    );
    None
}

fn string_list_value(cx: &Ctxt, meta: &Meta) -> Vec<LitStr> {
    const EXAMPLE: &str = "sync_groups = [\"org:{org_id}\"]";
    let Meta::NameValue(nv) = meta else {
        cx.error_with_hint(
            meta,
            "`sync_groups` needs a list of templates",
            format!("write `{EXAMPLE}`"),
        );
        return Vec::new();
    };
    let Expr::Array(array) = &nv.value else {
        cx.error_with_hint(
            &nv.value,
            "expected a list of string literals",
            format!("write `{EXAMPLE}`"),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for element in &array.elems {
        match element {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => out.push(s.clone()),
            other => cx.error_with_hint(
                other,
                "expected a string literal",
                format!("write `{EXAMPLE}`"),
            ),
        }
    }
    out
}
