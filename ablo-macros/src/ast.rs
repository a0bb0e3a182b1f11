//! The macros' view of their input: a struct with named fields (a model or a
//! nested object) or a unit-variant enum, with every `#[ablo(...)]` attribute
//! parsed and every wire name resolved.

use syn::{Data, DeriveInput, Fields, Ident, LitStr, Type};

use crate::attr::{self, FieldAttrs, MODEL_FIELD_KEYS, OBJECT_FIELD_KEYS};
use crate::ctxt::Ctxt;
use crate::naming;
use crate::types;

/// What an annotated struct becomes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum StructKind {
    /// `#[ablo::model]`: a stored row type.
    Model,
    /// `#[ablo::object]`: a nested value inside a model's field.
    Object,
}

impl StructKind {
    pub fn attribute(self) -> &'static str {
        match self {
            StructKind::Model => "`#[ablo::model]`",
            StructKind::Object => "`#[ablo::object]`",
        }
    }
}

/// A struct with named fields, as `#[ablo::model]` and `#[ablo::object]` see it.
pub struct Struct<'a> {
    pub input: &'a DeriveInput,
    pub ident: &'a Ident,
    pub docs: Option<String>,
    pub fields: Vec<Field<'a>>,
}

/// One named field.
pub struct Field<'a> {
    pub original: &'a syn::Field,
    pub ident: &'a Ident,
    pub ty: &'a Type,
    pub attrs: FieldAttrs,
    /// The name on the wire: the `rename` value, or camelCase of the Rust
    /// name with `Id` appended for references.
    pub wire_name: String,
    pub docs: Option<String>,
}

impl Field<'_> {
    /// The Rust name without a raw-identifier prefix.
    pub fn rust_name(&self) -> String {
        let name = self.ident.to_string();
        name.strip_prefix("r#").map(str::to_owned).unwrap_or(name)
    }

    /// The `rename` literal if there is one, else the field's name: where a
    /// mistake about the wire name is reported.
    pub fn wire_name_span(&self) -> proc_macro2::Span {
        self.attrs
            .rename
            .as_ref()
            .map(LitStr::span)
            .unwrap_or_else(|| self.ident.span())
    }
}

impl<'a> Struct<'a> {
    /// Reads a struct; records an error and returns `None` for anything that
    /// is not a non-generic struct with named fields.
    pub fn from_ast(cx: &Ctxt, input: &'a DeriveInput, kind: StructKind) -> Option<Struct<'a>> {
        let what = kind.attribute();
        let data = match &input.data {
            Data::Struct(data) => data,
            Data::Enum(data) => {
                let hint = if kind == StructKind::Model {
                    "for a set of string values use `#[derive(ablo::Enum)]` and use the enum as a field type"
                } else {
                    "use `#[derive(ablo::Enum)]` on unit-variant enums"
                };
                cx.error_with_hint(
                    data.enum_token,
                    format!("{what} goes on a struct, not an enum"),
                    hint,
                );
                return None;
            }
            Data::Union(data) => {
                cx.error_with_hint(
                    data.union_token,
                    format!("{what} goes on a struct, not a union"),
                    "declare a struct with named fields",
                );
                return None;
            }
        };
        check_generics(cx, input, what);
        let named = match &data.fields {
            Fields::Named(named) => named,
            Fields::Unnamed(unnamed) => {
                cx.error_with_hint(
                    unnamed,
                    format!("{what} needs a struct with named fields, not a tuple struct"),
                    "name every field: `struct Task { title: String }`",
                );
                return None;
            }
            Fields::Unit => {
                cx.error_with_hint(
                    &input.ident,
                    format!("{what} needs a struct with named fields, not a unit struct"),
                    "add at least one named field: `struct Task { title: String }`",
                );
                return None;
            }
        };
        let field_keys = match kind {
            StructKind::Model => MODEL_FIELD_KEYS,
            StructKind::Object => OBJECT_FIELD_KEYS,
        };
        let fields = named
            .named
            .iter()
            .map(|field| {
                let ident = field.ident.as_ref().expect("named field");
                let attrs = attr::parse_field_attrs(cx, &field.attrs, field_keys);
                let rust_name = ident.to_string();
                let rust_name = rust_name.strip_prefix("r#").unwrap_or(&rust_name);
                let wire_name = match &attrs.rename {
                    Some(rename) => rename.value(),
                    None => naming::field_wire_name(rust_name, types::is_reference(&field.ty)),
                };
                Field {
                    original: field,
                    ident,
                    ty: &field.ty,
                    docs: attr::docs(&field.attrs),
                    attrs,
                    wire_name,
                }
            })
            .collect();
        Some(Struct {
            input,
            ident: &input.ident,
            docs: attr::docs(&input.attrs),
            fields,
        })
    }
}

/// Records one error for generic parameters (types, lifetimes, consts) or a
/// `where` clause: the schema of a model must be one fixed shape.
pub fn check_generics(cx: &Ctxt, input: &DeriveInput, what: &str) {
    let generics = &input.generics;
    if !generics.params.is_empty() {
        let has_lifetime = generics.lifetimes().next().is_some();
        let message = if has_lifetime {
            format!("{what} does not support lifetimes or generic parameters")
        } else {
            format!("{what} does not support generic parameters")
        };
        cx.error_with_hint(
            &generics.params,
            message,
            "a schema type has one fixed shape: use concrete, owned field types",
        );
    } else if let Some(where_clause) = &generics.where_clause {
        cx.error_spanned_by(
            where_clause,
            format!("{what} does not support `where` clauses"),
        );
    }
}

/// A unit-variant enum under `#[derive(ablo::Enum)]`.
pub struct Enum<'a> {
    pub ident: &'a Ident,
    pub docs: Option<String>,
    pub variants: Vec<Variant<'a>>,
}

/// One variant and its wire value.
pub struct Variant<'a> {
    pub ident: &'a Ident,
    pub wire_value: String,
    pub rename: Option<LitStr>,
}

impl<'a> Enum<'a> {
    /// Reads an enum; every data-carrying variant is its own error.
    pub fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Option<Enum<'a>> {
        let data = match &input.data {
            Data::Enum(data) => data,
            Data::Struct(data) => {
                cx.error_with_hint(
                    data.struct_token,
                    "`#[derive(ablo::Enum)]` goes on an enum with unit variants",
                    "for a nested struct use `#[ablo::object]`; for a stored row use `#[ablo::model]`",
                );
                return None;
            }
            Data::Union(data) => {
                cx.error_spanned_by(
                    data.union_token,
                    "`#[derive(ablo::Enum)]` goes on an enum with unit variants",
                );
                return None;
            }
        };
        check_generics(cx, input, "`#[derive(ablo::Enum)]`");
        attr::reject_ablo_attrs(cx, &input.attrs, "on the enum itself");
        if data.variants.is_empty() {
            cx.error_with_hint(
                &input.ident,
                "`#[derive(ablo::Enum)]` needs at least one variant",
                "add the enum's values as unit variants",
            );
        }
        let mut variants = Vec::new();
        for variant in &data.variants {
            let attrs = attr::parse_variant_attrs(cx, &variant.attrs);
            if !matches!(variant.fields, Fields::Unit) {
                cx.error_with_hint(
                    &variant.fields,
                    format!("variant `{}` carries data, but `#[derive(ablo::Enum)]` allows only unit variants", variant.ident),
                    "an Ablo enum travels as a string; move the data into fields of the model or into an `#[ablo::object]` struct",
                );
            }
            if let Some((_, discriminant)) = &variant.discriminant {
                cx.error_with_hint(
                    discriminant,
                    "explicit discriminants are not used by `#[derive(ablo::Enum)]`",
                    "values travel as strings; remove the `= ...`",
                );
            }
            let wire_value = match &attrs.rename {
                Some(rename) => rename.value(),
                None => naming::variant_wire_value(&variant.ident.to_string()),
            };
            variants.push(Variant {
                ident: &variant.ident,
                wire_value,
                rename: attrs.rename,
            });
        }
        Some(Enum {
            ident: &input.ident,
            docs: attr::docs(&input.attrs),
            variants,
        })
    }
}
