//! Syntactic look at field types: which fields are optional or references
//! (this decides wire names and patch setters) and which types are obviously
//! unsupported. Everything else is checked by the compiler through the
//! `FieldValue` trait, with the error on the field's type.

use syn::{GenericArgument, PathArguments, Type, TypePath};

/// The hint attached to every unsupported-type error.
pub const SUPPORTED_TYPES: &str = "supported field types are String, bool, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, Option<T>, Vec<T>, Ref<Model>, Timestamp, Json, Uuid, `#[derive(ablo::Enum)]` enums and `#[ablo::object]` structs";

/// The last path segment's name and its generic type arguments, for a plain
/// path type such as `std::option::Option<String>`.
fn last_segment(ty: &Type) -> Option<(String, Vec<&Type>)> {
    let Type::Path(TypePath { qself: None, path }) = ty else {
        return None;
    };
    let segment = path.segments.last()?;
    let args = match &segment.arguments {
        PathArguments::AngleBracketed(args) => args
            .args
            .iter()
            .filter_map(|arg| match arg {
                GenericArgument::Type(ty) => Some(ty),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Some((segment.ident.to_string(), args))
}

fn single_arg<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    match last_segment(ty) {
        Some((ident, args)) if ident == name && args.len() == 1 => Some(args[0]),
        _ => None,
    }
}

/// `T` when `ty` is `Option<T>`.
pub fn option_inner(ty: &Type) -> Option<&Type> {
    single_arg(ungroup(ty), "Option")
}

/// Whether `ty` is `Ref<M>` or `Option<Ref<M>>`: such a field is called
/// `<name>Id` on the wire.
pub fn is_reference(ty: &Type) -> bool {
    let ty = option_inner(ty).unwrap_or(ty);
    single_arg(ungroup(ty), "Ref").is_some()
}

/// Whether a patch setter should take `impl Into<T>` (text and references,
/// where conversions such as `&str` → `String` and `Id<M>` → `Ref<M>` help)
/// rather than `T` itself (numbers, where `impl Into` would break literal
/// inference).
pub fn setter_takes_into(ty: &Type) -> bool {
    matches!(last_segment(ungroup(ty)), Some((name, _)) if name == "String" || name == "Ref")
}

fn ungroup(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => ungroup(&group.elem),
        Type::Paren(paren) => ungroup(&paren.elem),
        other => other,
    }
}

/// A type the macro can tell is unsupported without the compiler's help:
/// the offending (sub)type and what is wrong with it.
pub struct Unsupported<'a> {
    pub ty: &'a Type,
    pub message: String,
    pub hint: String,
}

/// Finds the first obviously unsupported part of a field type.
pub fn find_unsupported(ty: &Type) -> Option<Unsupported<'_>> {
    let reject = |message: &str, hint: &str| {
        Some(Unsupported {
            ty,
            message: message.to_owned(),
            hint: hint.to_owned(),
        })
    };
    match ty {
        Type::Group(group) => find_unsupported(&group.elem),
        Type::Paren(paren) => find_unsupported(&paren.elem),
        Type::Reference(_) => reject(
            "references and lifetimes are not supported in model fields",
            "models own their data: use `String` instead of `&str` and `Vec<T>` instead of `&[T]`",
        ),
        Type::Tuple(tuple) if tuple.elems.is_empty() => reject(
            "the unit type `()` is not a supported field type",
            SUPPORTED_TYPES,
        ),
        Type::Tuple(_) => reject(
            "tuples are not supported field types",
            "declare an `#[ablo::object]` struct with named fields instead",
        ),
        Type::Array(_) | Type::Slice(_) => reject(
            "arrays and slices are not supported field types",
            "use `Vec<T>` for a list",
        ),
        Type::BareFn(_) => reject(
            "function pointers are not supported field types",
            SUPPORTED_TYPES,
        ),
        Type::TraitObject(_) | Type::ImplTrait(_) => reject(
            "trait objects and `impl Trait` are not supported field types",
            SUPPORTED_TYPES,
        ),
        Type::Ptr(_) | Type::Never(_) | Type::Infer(_) | Type::Macro(_) | Type::Verbatim(_) => {
            reject("this is not a supported field type", SUPPORTED_TYPES)
        }
        Type::Path(path) => find_unsupported_path(ty, path),
        _ => reject("this is not a supported field type", SUPPORTED_TYPES),
    }
}

fn find_unsupported_path<'a>(ty: &'a Type, path: &'a TypePath) -> Option<Unsupported<'a>> {
    let reject = |message: String, hint: &str| {
        Some(Unsupported {
            ty,
            message,
            hint: hint.to_owned(),
        })
    };
    if path.qself.is_some() {
        return reject(
            "qualified paths are not supported field types".into(),
            SUPPORTED_TYPES,
        );
    }
    let segment = path.path.segments.last()?;
    let name = segment.ident.to_string();
    match name.as_str() {
        "HashMap" | "BTreeMap" | "IndexMap" => {
            return reject(
                format!("maps (`{name}`) are not supported field types"),
                "use `Json` for free-form keys, or an `#[ablo::object]` struct for known keys",
            );
        }
        "HashSet" | "BTreeSet" | "IndexSet" => {
            return reject(
                format!("sets (`{name}`) are not supported field types"),
                "use `Vec<T>`",
            );
        }
        "usize" | "isize" => {
            return reject(
                format!(
                    "`{name}` has a platform-dependent width and is not a supported field type"
                ),
                "use `u64` or `i64`",
            );
        }
        "i128" | "u128" => {
            return reject(
                format!(
                    "`{name}` is wider than JSON numbers carry and is not a supported field type"
                ),
                "use `i64`/`u64` (limited to ±(2^53 − 1) on the wire) or `String`",
            );
        }
        "char" | "str" => {
            return reject(
                format!("`{name}` is not a supported field type"),
                "use `String`",
            );
        }
        "Option" => {
            if let Some(inner) = option_inner(ty)
                && option_inner(inner).is_some()
            {
                return Some(Unsupported {
                    ty,
                    message: "`Option<Option<T>>` is not a supported field type".into(),
                    hint: "a field is either absent-or-null (`Option<T>`) or present; the patch type already tells \"leave alone\" from \"set to null\"".into(),
                });
            }
        }
        _ => {}
    }
    for segment in &path.path.segments {
        if let PathArguments::AngleBracketed(args) = &segment.arguments {
            for arg in &args.args {
                match arg {
                    GenericArgument::Type(inner) => {
                        if let Some(found) = find_unsupported(inner) {
                            return Some(found);
                        }
                    }
                    GenericArgument::Lifetime(_) => {
                        return reject(
                            "lifetimes are not supported in model fields".into(),
                            "models own their data: use owned types such as `String`",
                        );
                    }
                    _ => {}
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn detects_references_through_option() {
        assert!(is_reference(&parse_quote!(Ref<Project>)));
        assert!(is_reference(&parse_quote!(Option<Ref<Project>>)));
        assert!(is_reference(&parse_quote!(ablo::Ref<Project>)));
        assert!(!is_reference(&parse_quote!(Vec<Ref<Project>>)));
        assert!(!is_reference(&parse_quote!(String)));
    }

    #[test]
    fn rejects_obviously_unsupported_types() {
        let rejected: Vec<Type> = vec![
            parse_quote!(&'static str),
            parse_quote!((i32, i32)),
            parse_quote!([u8; 4]),
            parse_quote!(fn()),
            parse_quote!(Box<dyn Fn()>),
            parse_quote!(std::collections::HashMap<String, String>),
            parse_quote!(Vec<BTreeSet<i32>>),
            parse_quote!(Option<Option<String>>),
            parse_quote!(Cow<'static, str>),
            parse_quote!(usize),
            parse_quote!(u128),
        ];
        for ty in &rejected {
            assert!(find_unsupported(ty).is_some(), "{}", quote::quote!(#ty));
        }
        let accepted: Vec<Type> = vec![
            parse_quote!(String),
            parse_quote!(Option<Vec<Ref<Task>>>),
            parse_quote!(ablo::Json),
            parse_quote!(MyEnum),
        ];
        for ty in &accepted {
            assert!(find_unsupported(ty).is_none(), "{}", quote::quote!(#ty));
        }
    }
}
