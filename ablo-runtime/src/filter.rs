//! The conditions of a list query (`where` of `GET /v1/models/{model}`) and
//! the one set of comparison rules every part of Ablo applies to them: the
//! server's storage backends (SQLite, PostgreSQL) turn a [`FieldFilter`]
//! into SQL, and the client's local pool (`get_all`, `get_count`, `watch`)
//! evaluates it with [`FieldFilter::matches`]; both give the same rows.
//!
//! # Wire form
//!
//! `where` is a JSON object from field (wire name) to either a plain value
//! (equality, as before operators existed) or an object of operators, all
//! of which must hold:
//!
//! ```json
//! {"status": {"in": ["todo", "doing"]}, "priority": {"gte": 3, "lt": 8}, "due": null}
//! ```
//!
//! The operators are `eq`, `ne`, `gt`, `gte`, `lt`, `lte` and `in` (a list
//! of values). [`parse_where`] reads this form against a model and
//! [`to_where`] writes it.
//!
//! # Comparison rules
//!
//! - **Null.** A missing field and JSON `null` are the same value. `eq: null`
//!   (or a plain `null`) matches rows where the field is null; `ne: null`
//!   matches rows where it is not. `ne: v` matches rows whose field is null
//!   too (null is not `v`). No range (`gt`, `gte`, `lt`, `lte`) holds for a
//!   null field, and a range needs a non-null value. `in` may list `null`
//!   to match null fields.
//! - **Types.** A value has the field's type: numbers for integer and float
//!   fields, strings for string, enum, timestamp, UUID and reference fields,
//!   booleans for boolean fields (optional fields the same, or null). A
//!   value of another type is refused (`invalid_query`), never silently
//!   unmatched. List, object and JSON fields cannot be filtered.
//! - **Numbers** compare by value: `3` equals `3.0`, integers and floats
//!   order together.
//! - **Strings** compare case-sensitively by Unicode code point (byte order
//!   of UTF-8); timestamps in the canonical form Ablo stores (RFC 3339, UTC,
//!   milliseconds) therefore order by time.
//! - **Booleans** support `eq`, `ne` and `in` only; ranges on a boolean
//!   field are refused.
//!
//! ```
//! use ablo_runtime::filter::{FieldFilter, FilterOp};
//! use serde_json::json;
//! let f = FieldFilter::new("priority", FilterOp::Gte, json!(3));
//! assert!(f.matches(&json!({"priority": 3.0})));
//! assert!(!f.matches(&json!({"priority": 2})));
//! assert!(!f.matches(&json!({"priority": null})));
//! ```

use std::cmp::Ordering;
use std::fmt;

use crate::schema::{FieldType, ModelDescriptor};
use crate::types::Json;
use crate::wire::JsonObject;

/// The most values an `in` list may hold.
///
/// ```
/// assert_eq!(ablo_runtime::filter::MAX_IN_VALUES, 1000);
/// ```
pub const MAX_IN_VALUES: usize = 1000;

/// One operator of a `where` condition.
///
/// ```
/// use ablo_runtime::filter::FilterOp;
/// assert_eq!(FilterOp::from_wire("gte"), Some(FilterOp::Gte));
/// assert_eq!(FilterOp::Gte.wire_name(), "gte");
/// assert_eq!(FilterOp::from_wire("like"), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FilterOp {
    /// Equal (null-safe: `eq: null` matches a null or missing field).
    Eq,
    /// Not equal (null-safe: a null field is not equal to any value).
    Ne,
    /// Greater than (never holds for a null field).
    Gt,
    /// Greater than or equal (never holds for a null field).
    Gte,
    /// Less than (never holds for a null field).
    Lt,
    /// Less than or equal (never holds for a null field).
    Lte,
    /// Equal to one of a list of values (`null` in the list matches a null
    /// field; an empty list matches nothing).
    In,
}

impl FilterOp {
    /// Every operator, in the order the docs list them.
    ///
    /// ```
    /// assert_eq!(ablo_runtime::filter::FilterOp::ALL.len(), 7);
    /// ```
    pub const ALL: [FilterOp; 7] = [
        FilterOp::Eq,
        FilterOp::Ne,
        FilterOp::Gt,
        FilterOp::Gte,
        FilterOp::Lt,
        FilterOp::Lte,
        FilterOp::In,
    ];

    /// The operator's key in the wire form.
    ///
    /// ```
    /// assert_eq!(ablo_runtime::filter::FilterOp::In.wire_name(), "in");
    /// ```
    pub fn wire_name(self) -> &'static str {
        match self {
            FilterOp::Eq => "eq",
            FilterOp::Ne => "ne",
            FilterOp::Gt => "gt",
            FilterOp::Gte => "gte",
            FilterOp::Lt => "lt",
            FilterOp::Lte => "lte",
            FilterOp::In => "in",
        }
    }

    /// The operator with wire name `name`, if there is one.
    ///
    /// ```
    /// assert_eq!(ablo_runtime::filter::FilterOp::from_wire("ne"),
    ///            Some(ablo_runtime::filter::FilterOp::Ne));
    /// ```
    pub fn from_wire(name: &str) -> Option<FilterOp> {
        FilterOp::ALL.into_iter().find(|op| op.wire_name() == name)
    }

    /// Whether this is a range operator (`gt`, `gte`, `lt`, `lte`): it
    /// needs a non-null value and a number or string field.
    ///
    /// ```
    /// use ablo_runtime::filter::FilterOp;
    /// assert!(FilterOp::Lt.is_range());
    /// assert!(!FilterOp::Ne.is_range());
    /// ```
    pub fn is_range(self) -> bool {
        matches!(
            self,
            FilterOp::Gt | FilterOp::Gte | FilterOp::Lt | FilterOp::Lte
        )
    }
}

impl fmt::Display for FilterOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire_name())
    }
}

/// One condition of a list query: field `field` (wire name) compared by
/// `op` with `value` (a scalar or null; for [`FilterOp::In`] a JSON array
/// of them). A query's conditions must all hold.
///
/// ```
/// use ablo_runtime::filter::{FieldFilter, FilterOp};
/// use serde_json::json;
/// let f = FieldFilter::new("status", FilterOp::In, json!(["todo", "doing"]));
/// assert!(f.matches(&json!({"status": "doing"})));
/// assert!(!f.matches(&json!({"status": "done"})));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct FieldFilter {
    /// The field's wire name.
    pub field: String,
    /// The operator.
    pub op: FilterOp,
    /// The value compared with (an array for `in`).
    pub value: Json,
}

impl FieldFilter {
    /// A condition.
    ///
    /// ```
    /// use ablo_runtime::filter::{FieldFilter, FilterOp};
    /// let f = FieldFilter::new("done", FilterOp::Eq, serde_json::json!(true));
    /// assert_eq!(f.field, "done");
    /// ```
    pub fn new(field: impl Into<String>, op: FilterOp, value: Json) -> Self {
        FieldFilter {
            field: field.into(),
            op,
            value,
        }
    }

    /// An equality condition (the plain wire form `{"field": value}`).
    ///
    /// ```
    /// use ablo_runtime::filter::{FieldFilter, FilterOp};
    /// assert_eq!(FieldFilter::eq("n", serde_json::json!(1)).op, FilterOp::Eq);
    /// ```
    pub fn eq(field: impl Into<String>, value: Json) -> Self {
        FieldFilter::new(field, FilterOp::Eq, value)
    }

    /// Whether a row (flat JSON object; a missing field is null) passes.
    ///
    /// ```
    /// use ablo_runtime::filter::{FieldFilter, FilterOp};
    /// use ablo_runtime::Json;
    /// use serde_json::json;
    /// let f = FieldFilter::new("due", FilterOp::Ne, Json::Null);
    /// assert!(f.matches(&json!({"due": "2026-01-01T00:00:00.000Z"})));
    /// assert!(!f.matches(&json!({})));
    /// ```
    pub fn matches(&self, row: &Json) -> bool {
        self.matches_value(row.get(&self.field).unwrap_or(&Json::Null))
    }

    /// Whether a field's value `actual` passes.
    ///
    /// ```
    /// use ablo_runtime::filter::{FieldFilter, FilterOp};
    /// use serde_json::json;
    /// let f = FieldFilter::new("title", FilterOp::Lt, json!("b"));
    /// assert!(f.matches_value(&json!("a")));
    /// assert!(f.matches_value(&json!("B")), "upper case sorts first");
    /// assert!(!f.matches_value(&json!(null)));
    /// ```
    pub fn matches_value(&self, actual: &Json) -> bool {
        match self.op {
            FilterOp::Eq => values_equal(actual, &self.value),
            FilterOp::Ne => !values_equal(actual, &self.value),
            FilterOp::In => self
                .value
                .as_array()
                .is_some_and(|values| values.iter().any(|v| values_equal(actual, v))),
            op => {
                if actual.is_null() || self.value.is_null() || !same_kind(actual, &self.value) {
                    return false;
                }
                let ordering = compare_values(actual, &self.value);
                match op {
                    FilterOp::Gt => ordering == Ordering::Greater,
                    FilterOp::Gte => ordering != Ordering::Less,
                    FilterOp::Lt => ordering == Ordering::Less,
                    _ => ordering != Ordering::Greater,
                }
            }
        }
    }
}

/// Whether two JSON values are equal under the rules above: numbers by
/// value (`3 == 3.0`), everything else structurally; values of different
/// kinds are never equal.
///
/// ```
/// use ablo_runtime::filter::values_equal;
/// use serde_json::json;
/// assert!(values_equal(&json!(3), &json!(3.0)));
/// assert!(!values_equal(&json!(1), &json!(true)));
/// assert!(!values_equal(&json!("3"), &json!(3)));
/// ```
pub fn values_equal(a: &Json, b: &Json) -> bool {
    compare_values(a, b) == Ordering::Equal
}

fn same_kind(a: &Json, b: &Json) -> bool {
    rank(a) == rank(b)
}

fn rank(v: &Json) -> u8 {
    match v {
        Json::Null => 0,
        Json::Bool(_) => 1,
        Json::Number(_) => 2,
        Json::String(_) => 3,
        Json::Array(_) => 4,
        Json::Object(_) => 5,
    }
}

/// A total order over JSON values, the order of `orderBy` too: null <
/// booleans < numbers < strings < arrays < objects; `false < true`,
/// numbers by value, strings by code point.
///
/// ```
/// use ablo_runtime::filter::compare_values;
/// use serde_json::json;
/// use std::cmp::Ordering;
/// assert_eq!(compare_values(&json!(null), &json!(0)), Ordering::Less);
/// assert_eq!(compare_values(&json!(2), &json!(10.5)), Ordering::Less);
/// assert_eq!(compare_values(&json!("Z"), &json!("a")), Ordering::Less);
/// ```
pub fn compare_values(a: &Json, b: &Json) -> Ordering {
    match (a, b) {
        (Json::Bool(x), Json::Bool(y)) => x.cmp(y),
        (Json::Number(x), Json::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(x), Some(y), _, _) => x.cmp(&y),
                (_, _, Some(x), Some(y)) => x.cmp(&y),
                _ => x
                    .as_f64()
                    .unwrap_or(f64::NAN)
                    .total_cmp(&y.as_f64().unwrap_or(f64::NAN)),
            }
        }
        (Json::String(x), Json::String(y)) => x.cmp(y),
        (Json::Array(x), Json::Array(y)) => x
            .iter()
            .zip(y)
            .map(|(a, b)| compare_values(a, b))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        (Json::Object(x), Json::Object(y)) => {
            if x == y {
                Ordering::Equal
            } else {
                Json::Object(x.clone())
                    .to_string()
                    .cmp(&Json::Object(y.clone()).to_string())
            }
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

/// What values a field's type compares with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Text,
    Number,
    Boolean,
}

impl Kind {
    fn of(ty: &FieldType) -> Option<Kind> {
        match ty {
            FieldType::Optional { of } => Kind::of(of),
            FieldType::String
            | FieldType::Timestamp
            | FieldType::Uuid
            | FieldType::Ref { .. }
            | FieldType::Enum { .. } => Some(Kind::Text),
            FieldType::Integer { .. } | FieldType::Float { .. } => Some(Kind::Number),
            FieldType::Boolean => Some(Kind::Boolean),
            _ => None,
        }
    }

    fn accepts(self, value: &Json) -> bool {
        matches!(
            (self, value),
            (_, Json::Null)
                | (Kind::Text, Json::String(_))
                | (Kind::Number, Json::Number(_))
                | (Kind::Boolean, Json::Bool(_))
        )
    }

    fn plural(self) -> &'static str {
        match self {
            Kind::Text => "strings",
            Kind::Number => "numbers",
            Kind::Boolean => "booleans",
        }
    }
}

/// Whether a field of this type can be filtered and sorted: scalars,
/// optional or not (not lists, objects or JSON).
///
/// ```
/// use ablo_runtime::FieldType;
/// use ablo_runtime::filter::is_sortable;
/// assert!(is_sortable(&FieldType::optional(FieldType::String)));
/// assert!(!is_sortable(&FieldType::Json));
/// ```
pub fn is_sortable(ty: &FieldType) -> bool {
    Kind::of(ty).is_some()
}

/// Checks one condition against the model as the server does: the field
/// exists and can be filtered, the value has the field's type, a range has
/// a non-null value and a number or string field, `in` has a list of at
/// most [`MAX_IN_VALUES`] values. The error is the message of the
/// `invalid_query` answer.
///
/// ```
/// use ablo_runtime::filter::{check, FieldFilter, FilterOp};
/// use ablo_runtime::{FieldDescriptor, FieldType, ModelDescriptor};
/// let model = ModelDescriptor { name: "tasks".into(), type_name: "Task".into(), doc: None,
///     fields: vec![FieldDescriptor::new("priority", "priority", FieldType::Integer { bits: 32, signed: true })],
///     sync_groups: vec![], ts: String::new(), json_schema: serde_json::json!({}) };
/// assert!(check(&model, &FieldFilter::new("priority", FilterOp::Gte, 3.into())).is_ok());
/// assert_eq!(check(&model, &FieldFilter::new("priority", FilterOp::Gte, "3".into())).unwrap_err(),
///            "`where`: field `priority` holds numbers; `gte` got \"3\"");
/// ```
pub fn check(model: &ModelDescriptor, filter: &FieldFilter) -> Result<(), String> {
    let FieldFilter { field, op, value } = filter;
    let Some(descriptor) = model.field(field) else {
        return Err(format!(
            "`where`: model `{}` has no field `{field}`",
            model.name
        ));
    };
    let Some(kind) = Kind::of(&descriptor.ty) else {
        return Err(format!(
            "`where`: field `{field}` is not sortable (a list, object or JSON field) and cannot be filtered"
        ));
    };
    let wrong_type = |got: &Json| {
        format!(
            "`where`: field `{field}` holds {}; `{op}` got {got}",
            kind.plural()
        )
    };
    match op {
        FilterOp::In => {
            let Some(values) = value.as_array() else {
                return Err(format!(
                    "`where`: `in` on field `{field}` needs a list of values, got {value}"
                ));
            };
            if values.len() > MAX_IN_VALUES {
                return Err(format!(
                    "`where`: `in` on field `{field}` lists {} values; at most {MAX_IN_VALUES}",
                    values.len()
                ));
            }
            if let Some(bad) = values.iter().find(|v| !kind.accepts(v)) {
                return Err(wrong_type(bad));
            }
        }
        op if op.is_range() => {
            if kind == Kind::Boolean {
                return Err(format!(
                    "`where`: `{op}` needs a number or string field; `{field}` is boolean (use eq, ne or in)"
                ));
            }
            if value.is_null() {
                return Err(format!(
                    "`where`: `{op}` on field `{field}` needs a value, not null"
                ));
            }
            if !kind.accepts(value) {
                return Err(wrong_type(value));
            }
        }
        _ => {
            if !kind.accepts(value) {
                return Err(wrong_type(value));
            }
        }
    }
    Ok(())
}

/// Reads a `where` object (the wire form above) against `model` into
/// conditions, each checked with [`check`]. The error is the message of
/// the `invalid_query` answer.
///
/// ```
/// use ablo_runtime::filter::{parse_where, FilterOp};
/// use ablo_runtime::{FieldDescriptor, FieldType, ModelDescriptor};
/// let model = ModelDescriptor { name: "tasks".into(), type_name: "Task".into(), doc: None,
///     fields: vec![FieldDescriptor::new("status", "status", FieldType::String)],
///     sync_groups: vec![], ts: String::new(), json_schema: serde_json::json!({}) };
/// let object = serde_json::json!({"status": {"in": ["todo", "doing"], "ne": "doing"}});
/// let filters = parse_where(&model, object.as_object().unwrap()).unwrap();
/// assert_eq!(filters.len(), 2);
/// assert_eq!(filters[0].op, FilterOp::In);
/// let bad = serde_json::json!({"status": {"like": "t%"}});
/// assert!(parse_where(&model, bad.as_object().unwrap()).unwrap_err().contains("unknown operator `like`"));
/// ```
pub fn parse_where(
    model: &ModelDescriptor,
    object: &JsonObject,
) -> Result<Vec<FieldFilter>, String> {
    let mut filters = Vec::new();
    for (field, value) in object {
        match value {
            Json::Object(ops) => {
                if ops.is_empty() {
                    return Err(format!(
                        "`where`: field `{field}` has an empty operator object; give a value or one of {}",
                        operator_list()
                    ));
                }
                for (name, operand) in ops {
                    let Some(op) = FilterOp::from_wire(name) else {
                        return Err(format!(
                            "`where`: unknown operator `{name}` on field `{field}`; the operators are {}",
                            operator_list()
                        ));
                    };
                    filters.push(FieldFilter::new(field.clone(), op, operand.clone()));
                }
            }
            Json::Array(_) => {
                return Err(format!(
                    "`where`: field `{field}` can only be compared with a string, number, boolean or null; for one of several values use {{\"in\": [..]}}"
                ));
            }
            _ => filters.push(FieldFilter::eq(field.clone(), value.clone())),
        }
    }
    for filter in &filters {
        check(model, filter)?;
    }
    Ok(filters)
}

fn operator_list() -> String {
    FilterOp::ALL
        .iter()
        .map(|op| op.wire_name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes conditions in the wire form: a field with one equality
/// condition as its plain value, any other as an object of operators. Two
/// conditions with the same operator on one field cannot be written (an
/// identical repeat is dropped); that is the error.
///
/// ```
/// use ablo_runtime::filter::{to_where, FieldFilter, FilterOp};
/// use serde_json::json;
/// let object = to_where(&[FieldFilter::eq("status", json!("todo")),
///     FieldFilter::new("priority", FilterOp::Gte, json!(3)),
///     FieldFilter::new("priority", FilterOp::Lt, json!(8))]).unwrap();
/// assert_eq!(json!(object), json!({"status": "todo", "priority": {"gte": 3, "lt": 8}}));
/// ```
pub fn to_where(filters: &[FieldFilter]) -> Result<JsonObject, String> {
    let mut grouped: Vec<(&str, Vec<&FieldFilter>)> = Vec::new();
    for filter in filters {
        match grouped.iter_mut().find(|(f, _)| *f == filter.field) {
            Some((_, list)) => {
                if let Some(same) = list.iter().find(|f| f.op == filter.op) {
                    if same.value == filter.value {
                        continue;
                    }
                    return Err(format!(
                        "`where`: field `{}` has two `{}` conditions; combine them into one",
                        filter.field, filter.op
                    ));
                }
                list.push(filter);
            }
            None => grouped.push((&filter.field, vec![filter])),
        }
    }
    let mut object = JsonObject::new();
    for (field, list) in grouped {
        let value = match list.as_slice() {
            [only] if only.op == FilterOp::Eq => only.value.clone(),
            _ => Json::Object(
                list.iter()
                    .map(|f| (f.op.wire_name().to_owned(), f.value.clone()))
                    .collect(),
            ),
        };
        object.insert(field.to_owned(), value);
    }
    Ok(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::FieldDescriptor;
    use serde_json::json;

    fn model() -> ModelDescriptor {
        let field = |name: &str, ty| FieldDescriptor::new(name, name, ty);
        ModelDescriptor {
            name: "tasks".into(),
            type_name: "Task".into(),
            doc: None,
            fields: vec![
                field("title", FieldType::String),
                field(
                    "priority",
                    FieldType::Integer {
                        bits: 32,
                        signed: true,
                    },
                ),
                field("score", FieldType::optional(FieldType::Float { bits: 64 })),
                field("done", FieldType::Boolean),
                field("due", FieldType::optional(FieldType::Timestamp)),
                field(
                    "tags",
                    FieldType::List {
                        of: Box::new(FieldType::String),
                    },
                ),
            ],
            sync_groups: vec![],
            ts: String::new(),
            json_schema: json!({}),
        }
    }

    fn f(field: &str, op: FilterOp, value: Json) -> FieldFilter {
        FieldFilter::new(field, op, value)
    }

    #[test]
    fn null_is_missing_and_never_in_a_range() {
        let rows = [json!({}), json!({"score": null}), json!({"score": 1.5})];
        let pass = |filter: FieldFilter| rows.iter().map(|r| filter.matches(r)).collect::<Vec<_>>();
        assert_eq!(
            pass(f("score", FilterOp::Eq, Json::Null)),
            [true, true, false]
        );
        assert_eq!(
            pass(f("score", FilterOp::Ne, Json::Null)),
            [false, false, true]
        );
        assert_eq!(pass(f("score", FilterOp::Ne, json!(2))), [true, true, true]);
        assert_eq!(
            pass(f("score", FilterOp::Ne, json!(1.5))),
            [true, true, false]
        );
        assert_eq!(
            pass(f("score", FilterOp::Gte, json!(0))),
            [false, false, true]
        );
        assert_eq!(
            pass(f("score", FilterOp::Lt, json!(9))),
            [false, false, true]
        );
        assert_eq!(
            pass(f("score", FilterOp::In, json!([null]))),
            [true, true, false]
        );
        assert_eq!(
            pass(f("score", FilterOp::In, json!([]))),
            [false, false, false]
        );
    }

    #[test]
    fn numbers_by_value_strings_by_code_point_booleans_by_equality() {
        assert!(f("n", FilterOp::Eq, json!(3)).matches(&json!({"n": 3.0})));
        assert!(f("n", FilterOp::Gt, json!(2)).matches(&json!({"n": 2.5})));
        assert!(f("n", FilterOp::Lte, json!(-1)).matches(&json!({"n": -7})));
        assert!(!f("n", FilterOp::Gt, json!(2)).matches(&json!({"n": "3"})));
        assert!(f("s", FilterOp::Lt, json!("a")).matches(&json!({"s": "Z"})));
        assert!(f("s", FilterOp::Gt, json!("é")).matches(&json!({"s": "ü"})));
        assert!(
            f("s", FilterOp::Gte, json!("2026-01-01T00:00:00.000Z"))
                .matches(&json!({"s": "2026-03-01T00:00:00.000Z"}))
        );
        assert!(!f("b", FilterOp::Eq, json!(1)).matches(&json!({"b": true})));
        assert!(f("b", FilterOp::Ne, json!(false)).matches(&json!({"b": true})));
        assert!(f("b", FilterOp::In, json!([true])).matches(&json!({"b": true})));
    }

    #[test]
    fn the_wire_form_round_trips_and_keeps_plain_equality() {
        let object = json!({"title": "Plan", "priority": {"gte": 3, "lt": 8}, "due": null,
            "done": {"in": [true]}});
        let filters = parse_where(&model(), object.as_object().unwrap()).unwrap();
        assert_eq!(filters.len(), 5);
        assert!(filters.contains(&FieldFilter::eq("title", json!("Plan"))));
        assert!(filters.contains(&FieldFilter::eq("due", Json::Null)));
        assert_eq!(Json::Object(to_where(&filters).unwrap()), object);
        let twice = [
            f("priority", FilterOp::Gte, json!(1)),
            f("priority", FilterOp::Gte, json!(2)),
        ];
        assert!(
            to_where(&twice)
                .unwrap_err()
                .contains("two `gte` conditions")
        );
    }

    #[test]
    fn every_mistake_is_named() {
        let err = |object: Json| parse_where(&model(), object.as_object().unwrap()).unwrap_err();
        assert_eq!(
            err(json!({"titel": 1})),
            "`where`: model `tasks` has no field `titel`"
        );
        assert!(err(json!({"title": {"like": "P%"}}))
            .starts_with("`where`: unknown operator `like` on field `title`; the operators are eq, ne, gt, gte, lt, lte, in"));
        assert!(err(json!({"title": {}})).contains("empty operator object"));
        assert_eq!(
            err(json!({"priority": {"gte": "3"}})),
            "`where`: field `priority` holds numbers; `gte` got \"3\""
        );
        assert_eq!(
            err(json!({"title": 3})),
            "`where`: field `title` holds strings; `eq` got 3"
        );
        assert_eq!(
            err(json!({"title": {"in": "Plan"}})),
            "`where`: `in` on field `title` needs a list of values, got \"Plan\""
        );
        assert_eq!(
            err(json!({"title": {"in": ["a", 2]}})),
            "`where`: field `title` holds strings; `in` got 2"
        );
        assert!(err(json!({"done": {"gt": false}})).contains("`done` is boolean"));
        assert_eq!(
            err(json!({"score": {"lt": null}})),
            "`where`: `lt` on field `score` needs a value, not null"
        );
        assert!(err(json!({"tags": {"eq": "x"}})).contains("`tags` is not sortable"));
        assert!(err(json!({"tags": ["x"]})).contains("use {\"in\": [..]}"));
        let many: Vec<Json> = (0..=MAX_IN_VALUES).map(|i| json!(i)).collect();
        assert!(err(json!({"priority": {"in": many}})).contains("at most 1000"));
    }
}
