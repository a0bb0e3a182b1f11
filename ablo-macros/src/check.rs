//! Schema checks over a parsed struct or enum: reserved and colliding wire
//! names, sync-group templates, foreign attributes and derives that would
//! fight the generated code, and obviously unsupported field types. Each
//! mistake is recorded on its own token and checking goes on.

use syn::{Attribute, LitStr, Meta};

use crate::ast::{Enum, Field, Struct, StructKind};
use crate::attr::{self, ModelArgs};
use crate::ctxt::Ctxt;
use crate::naming;
use crate::types;

/// Wire names taken by the row envelope around every model (`Row<T>`): a
/// field may not use them.
pub const RESERVED_WIRE_NAMES: &[&str] = &crate::rules::RESERVED_ROW_FIELDS;

/// Rust field names taken by the generated patch type (`TaskPatch::new()`).
pub const RESERVED_RUST_NAMES: &[&str] = &["new"];

/// Traits the macros implement themselves; deriving them again would clash.
const GENERATED_DERIVES: &[&str] = &["Serialize", "Deserialize", "TS", "JsonSchema"];

/// What checking a model settles: its wire name and its sync groups written
/// with wire field names.
pub struct ModelSchema {
    pub wire_name: String,
    pub sync_groups: Vec<String>,
}

/// Checks a model or nested object. For a model, `args` are its
/// `#[ablo::model(...)]` arguments and the result carries its resolved names.
pub fn check_struct(cx: &Ctxt, item: &Struct, kind: StructKind, args: &ModelArgs) -> ModelSchema {
    check_foreign_attrs(cx, &item.input.attrs, kind);
    for field in &item.fields {
        check_foreign_attrs(cx, &field.original.attrs, kind);
        check_field_type(cx, field);
        check_field_name(cx, field, kind);
    }
    check_collisions(cx, item, kind);
    let wire_name = match &args.name {
        Some(name) => {
            if !naming::is_valid_wire_name(&name.value()) {
                cx.error_with_hint(
                    name,
                    format!("`{}` is not a valid model name", name.value()),
                    "a model name is used in URLs and code: letters, digits and `_`, starting with a letter (for example `taskLists`)",
                );
            }
            name.value()
        }
        None => naming::model_wire_name(&item.ident.to_string()),
    };
    let sync_groups = check_sync_groups(cx, item, &args.sync_groups);
    ModelSchema {
        wire_name,
        sync_groups,
    }
}

fn check_field_type(cx: &Ctxt, field: &Field) {
    if let Some(found) = types::find_unsupported(field.ty) {
        cx.error_with_hint(found.ty, found.message, found.hint);
    }
}

fn check_field_name(cx: &Ctxt, field: &Field, kind: StructKind) {
    if let Some(rename) = &field.attrs.rename
        && !naming::is_valid_wire_name(&rename.value())
    {
        cx.error_with_hint(
            rename,
            format!("`{}` is not a valid wire name", rename.value()),
            "use letters, digits and `_`, starting with a letter or `_` (for example `dueAt`)",
        );
        return;
    }
    if kind != StructKind::Model {
        return;
    }
    if RESERVED_WIRE_NAMES.contains(&field.wire_name.as_str()) {
        let span = field.wire_name_span();
        cx.syn_error(syn::Error::new(
            span,
            format!(
                "field `{}` is called `{}` on the wire, which is reserved\nhelp: every row already carries {}; rename the field or give it another wire name with `#[ablo(rename = \"...\")]`",
                field.rust_name(),
                field.wire_name,
                attr::list_keys(RESERVED_WIRE_NAMES)
            ),
        ));
    }
    let rust_name = field.rust_name();
    if RESERVED_RUST_NAMES.contains(&rust_name.as_str()) {
        cx.error_with_hint(
            field.ident,
            format!("a model field may not be called `{rust_name}`"),
            "the generated patch type has a constructor `new()`; rename the Rust field and keep the wire name with `#[ablo(rename = \"new\")]`",
        );
    }
}

/// Two fields with the same wire name, or whose patch setters would clash
/// (`summary: Option<_>` has `clear_summary()`).
fn check_collisions(cx: &Ctxt, item: &Struct, kind: StructKind) {
    for (index, field) in item.fields.iter().enumerate() {
        for earlier in &item.fields[..index] {
            if earlier.wire_name == field.wire_name {
                cx.syn_error(syn::Error::new(
                    field.wire_name_span(),
                    format!(
                        "fields `{}` and `{}` are both called `{}` on the wire\nhelp: give one of them another wire name with `#[ablo(rename = \"...\")]`",
                        earlier.rust_name(),
                        field.rust_name(),
                        field.wire_name
                    ),
                ));
            }
        }
        if kind == StructKind::Model && types::option_inner(field.ty).is_some() {
            let clearer = format!("clear_{}", field.rust_name());
            if let Some(other) = item.fields.iter().find(|f| f.rust_name() == clearer) {
                cx.error_with_hint(
                    other.ident,
                    format!(
                        "field `{clearer}` clashes with the patch method that sets `{}` to null",
                        field.rust_name()
                    ),
                    "rename the Rust field and keep its wire name with `#[ablo(rename = \"...\")]`",
                );
            }
        }
    }
}

/// `#[serde]`, `#[ts]` and `#[schemars]` would change the wire format behind
/// the descriptor's back; deriving the generated traits again would clash.
fn check_foreign_attrs(cx: &Ctxt, attrs: &[Attribute], kind: StructKind) {
    for attr in attrs {
        let path = attr.path();
        if ["serde", "ts", "schemars"]
            .iter()
            .any(|name| path.is_ident(name))
        {
            cx.error_with_hint(
                attr,
                format!(
                    "{} controls the wire format itself; `#[{}(...)]` is not allowed here",
                    kind.attribute(),
                    quote::quote!(#path)
                ),
                "use `#[ablo(rename = \"...\")]` for a field's wire name",
            );
        }
        if path.is_ident("derive") {
            for derived in derived_names(attr) {
                if GENERATED_DERIVES.contains(&derived.0.as_str()) {
                    cx.error_with_hint(
                        derived.1,
                        format!("{} already implements `{}`", kind.attribute(), derived.0),
                        "remove it from the derive list",
                    );
                }
            }
        }
    }
}

/// The last segment of every path in a `#[derive(...)]` list, with its path.
pub fn derived_names(attr: &Attribute) -> Vec<(String, syn::Path)> {
    let Meta::List(_) = &attr.meta else {
        return Vec::new();
    };
    attr.parse_args_with(syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated)
        .map(|paths| {
            paths
                .into_iter()
                .filter_map(|path| Some((path.segments.last()?.ident.to_string(), path)))
                .collect()
        })
        .unwrap_or_default()
}

/// Checks each template and rewrites its placeholders to wire names:
/// `org:{org_id}` and `org:{orgId}` both become `org:{orgId}`.
fn check_sync_groups(cx: &Ctxt, item: &Struct, templates: &[LitStr]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for literal in templates {
        let Some(wire) = check_template(cx, item, literal) else {
            continue;
        };
        if out.contains(&wire) {
            cx.error_spanned_by(literal, format!("sync group `{wire}` is listed twice"));
            continue;
        }
        out.push(wire);
    }
    out
}

fn check_template(cx: &Ctxt, item: &Struct, literal: &LitStr) -> Option<String> {
    let template = literal.value();
    let field_names: Vec<String> = item
        .fields
        .iter()
        .map(|f| format!("`{}`", f.rust_name()))
        .collect();
    let fields_hint = format!(
        "the fields of `{}` are {}",
        item.ident,
        field_names.join(", ")
    );
    let mut wire = String::new();
    let mut named = 0;
    let mut rest = template.as_str();
    while let Some(open) = rest.find(['{', '}']) {
        wire.push_str(&rest[..open]);
        if rest[open..].starts_with('}') {
            cx.error_with_hint(
                literal,
                format!("unbalanced `}}` in sync group template `{template}`"),
                "placeholders look like `{org_id}`",
            );
            return None;
        }
        let Some(close) = rest[open..].find('}') else {
            cx.error_with_hint(
                literal,
                format!("unclosed `{{` in sync group template `{template}`"),
                "placeholders look like `{org_id}`",
            );
            return None;
        };
        let placeholder = &rest[open + 1..open + close];
        let field = item
            .fields
            .iter()
            .find(|f| f.rust_name() == placeholder || f.wire_name == placeholder);
        let Some(field) = field else {
            cx.error_with_hint(
                literal,
                format!("sync group template `{template}` names `{placeholder}`, which is not a field of `{}`", item.ident),
                &fields_hint,
            );
            return None;
        };
        if is_list(field) {
            cx.error_with_hint(
                literal,
                format!("sync group template `{template}` names the list field `{placeholder}`"),
                "a placeholder takes one value: name a field holding a single value",
            );
            return None;
        }
        wire.push('{');
        wire.push_str(&field.wire_name);
        wire.push('}');
        named += 1;
        rest = &rest[open + close + 1..];
    }
    wire.push_str(rest);
    if named == 0 {
        cx.error_with_hint(
            literal,
            format!("sync group template `{template}` names no field"),
            format!("a template puts each row in the group named by its fields, as in `\"org:{{org_id}}\"`; leave `sync_groups` out to use the group `default`; {fields_hint}"),
        );
        return None;
    }
    Some(wire)
}

/// Whether a field holds a list (`Vec<T>` or `Option<Vec<T>>`).
fn is_list(field: &Field) -> bool {
    let ty = types::option_inner(field.ty).unwrap_or(field.ty);
    matches!(ty, syn::Type::Path(path) if path.path.segments.last().is_some_and(|s| s.ident == "Vec"))
}

/// Checks an enum's wire values: non-empty, printable in TypeScript, unique.
pub fn check_enum(cx: &Ctxt, item: &Enum) {
    for (index, variant) in item.variants.iter().enumerate() {
        if let Some(rename) = &variant.rename {
            let value = rename.value();
            if value.is_empty()
                || value.contains(['"', '\\', '\''])
                || value.chars().any(char::is_control)
            {
                cx.error_with_hint(rename, "an enum value must be non-empty text without quotes, backslashes or control characters", "for example `#[ablo(rename = \"in_progress\")]`");
                continue;
            }
        }
        if let Some(earlier) = item.variants[..index]
            .iter()
            .find(|v| v.wire_value == variant.wire_value)
        {
            let span = variant
                .rename
                .as_ref()
                .map(LitStr::span)
                .unwrap_or_else(|| variant.ident.span());
            cx.syn_error(syn::Error::new(
                span,
                format!(
                    "variants `{}` and `{}` are both `{}` on the wire\nhelp: give one of them another value with `#[ablo(rename = \"...\")]`",
                    earlier.ident, variant.ident, variant.wire_value
                ),
            ));
        }
    }
}
