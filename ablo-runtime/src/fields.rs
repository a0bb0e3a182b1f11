//! Typed field references: `Task::fields().status` names the field
//! `status` of `Task` with its Rust type, so a filter or a sort key built
//! from it cannot name a field the model lacks or compare it with a value
//! of another type. `#[ablo::model]` generates `Task::fields()`.
//!
//! ```
//! use ablo_runtime::client::Query;
//! use ablo_runtime::fields::Field;
//! #[derive(serde::Serialize, serde::Deserialize, Clone)]
//! struct Task { title: String, points: i64 }
//! let points: Field<Task, i64> = Field::new("points");
//! let q = Query::new().filter(points.eq(3)).order_by(points);
//! assert!(q.matches(&serde_json::json!({"points": 3})));
//! assert_eq!(q.to_params().unwrap()[1].1, "points:asc");
//! ```

use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;

use crate::filter::FilterOp;
use crate::types::{Id, Json, Ref, Timestamp, Uuid};

/// The field `name` (its wire name) of model `M`, whose values are `T`.
///
/// ```
/// use ablo_runtime::fields::Field;
/// let title: Field<(), String> = Field::new("title");
/// assert_eq!(title.name(), "title");
/// ```
pub struct Field<M, T> {
    name: &'static str,
    marker: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Clone for Field<M, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M, T> Copy for Field<M, T> {}

impl<M, T> fmt::Debug for Field<M, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Field").field(&self.name).finish()
    }
}

impl<M, T> Field<M, T> {
    /// A reference to the field with wire name `name`. The macros call it;
    /// prefer `Task::fields()`.
    ///
    /// ```
    /// use ablo_runtime::fields::Field;
    /// let f: Field<(), bool> = Field::new("done");
    /// assert_eq!(f.name(), "done");
    /// ```
    pub const fn new(name: &'static str) -> Self {
        Field {
            name,
            marker: PhantomData,
        }
    }

    /// The field's wire name.
    ///
    /// ```
    /// use ablo_runtime::fields::Field;
    /// assert_eq!(Field::<(), i32>::new("n").name(), "n");
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl<M, T: Serialize> Field<M, T> {
    /// Rows whose field equals `value`. `value` is the field's own type
    /// (or converts into it: `&str` for a `String` field, an `Id` for a
    /// `Ref`), so a value of another type does not compile.
    ///
    /// ```
    /// use ablo_runtime::fields::Field;
    /// use ablo_runtime::client::Query;
    /// let title: Field<(), String> = Field::new("title");
    /// let q = Query::new().filter(title.eq("Plan"));
    /// assert!(q.matches(&serde_json::json!({"title": "Plan"})));
    /// ```
    pub fn eq(self, value: impl Into<T>) -> Filter<M> {
        Filter::new(self.name, FilterOp::Eq, &value.into())
    }

    /// Rows whose field is not `value` (a null field is not equal to any
    /// value, so it passes).
    ///
    /// ```
    /// use ablo_runtime::fields::Field;
    /// use ablo_runtime::client::Query;
    /// let title: Field<(), String> = Field::new("title");
    /// let q = Query::new().filter(title.ne("Plan"));
    /// assert!(q.matches(&serde_json::json!({"title": "Ship"})));
    /// assert!(!q.matches(&serde_json::json!({"title": "Plan"})));
    /// ```
    pub fn ne(self, value: impl Into<T>) -> Filter<M> {
        Filter::new(self.name, FilterOp::Ne, &value.into())
    }

    /// Rows whose field equals one of `values` (none matches an empty
    /// list; the server allows at most
    /// [`MAX_IN_VALUES`](crate::filter::MAX_IN_VALUES)).
    ///
    /// ```
    /// use ablo_runtime::fields::Field;
    /// use ablo_runtime::client::Query;
    /// let status: Field<(), String> = Field::new("status");
    /// let q = Query::new().filter(status.is_in(["todo", "doing"]));
    /// assert!(q.matches(&serde_json::json!({"status": "doing"})));
    /// assert!(!q.matches(&serde_json::json!({"status": "done"})));
    /// ```
    pub fn is_in<V: Into<T>>(self, values: impl IntoIterator<Item = V>) -> Filter<M> {
        let values: Vec<T> = values.into_iter().map(Into::into).collect();
        Filter::new(self.name, FilterOp::In, &values)
    }
}

impl<M, T: Serialize> Field<M, T> {
    /// Rows whose field is greater than `value` (numbers by value, strings
    /// and timestamps by code point; never a null field). The server refuses
    /// a range on a boolean field with `invalid_query`.
    ///
    /// ```
    /// use ablo_runtime::fields::Field;
    /// use ablo_runtime::client::Query;
    /// let priority: Field<(), i32> = Field::new("priority");
    /// let q = Query::new().filter(priority.gt(3));
    /// assert!(q.matches(&serde_json::json!({"priority": 4})));
    /// assert!(!q.matches(&serde_json::json!({"priority": 3})));
    /// ```
    pub fn gt(self, value: impl Into<T>) -> Filter<M>
    where
        T: Ordered,
    {
        Filter::new(self.name, FilterOp::Gt, &value.into())
    }

    /// Rows whose field is at least `value` (see [`gt`](Self::gt)).
    ///
    /// ```
    /// use ablo_runtime::fields::Field;
    /// use ablo_runtime::client::Query;
    /// let priority: Field<(), i32> = Field::new("priority");
    /// assert!(Query::new().filter(priority.gte(3)).matches(&serde_json::json!({"priority": 3})));
    /// ```
    pub fn gte(self, value: impl Into<T>) -> Filter<M>
    where
        T: Ordered,
    {
        Filter::new(self.name, FilterOp::Gte, &value.into())
    }

    /// Rows whose field is less than `value` (see [`gt`](Self::gt)).
    ///
    /// ```
    /// use ablo_runtime::fields::Field;
    /// use ablo_runtime::client::Query;
    /// let title: Field<(), String> = Field::new("title");
    /// assert!(Query::new().filter(title.lt("b")).matches(&serde_json::json!({"title": "a"})));
    /// ```
    pub fn lt(self, value: impl Into<T>) -> Filter<M>
    where
        T: Ordered,
    {
        Filter::new(self.name, FilterOp::Lt, &value.into())
    }

    /// Rows whose field is at most `value` (see [`gt`](Self::gt)).
    ///
    /// ```
    /// use ablo_runtime::fields::Field;
    /// use ablo_runtime::client::Query;
    /// let priority: Field<(), f64> = Field::new("priority");
    /// assert!(Query::new().filter(priority.lte(2.5)).matches(&serde_json::json!({"priority": 2})));
    /// ```
    pub fn lte(self, value: impl Into<T>) -> Filter<M>
    where
        T: Ordered,
    {
        Filter::new(self.name, FilterOp::Lte, &value.into())
    }
}

impl<M, T: Serialize> Field<M, Option<T>> {
    /// Rows whose optional field is null (or absent).
    ///
    /// ```
    /// use ablo_runtime::fields::Field;
    /// use ablo_runtime::client::Query;
    /// let summary: Field<(), Option<String>> = Field::new("summary");
    /// let q = Query::new().filter(summary.is_null());
    /// assert!(q.matches(&serde_json::json!({"summary": null})));
    /// assert!(!q.matches(&serde_json::json!({"summary": "x"})));
    /// ```
    pub fn is_null(self) -> Filter<M> {
        Filter::new(self.name, FilterOp::Eq, &Option::<T>::None)
    }

    /// Rows whose optional field holds a value (is not null).
    ///
    /// ```
    /// use ablo_runtime::fields::Field;
    /// use ablo_runtime::client::Query;
    /// let summary: Field<(), Option<String>> = Field::new("summary");
    /// let q = Query::new().filter(summary.is_not_null());
    /// assert!(q.matches(&serde_json::json!({"summary": "x"})));
    /// assert!(!q.matches(&serde_json::json!({})));
    /// ```
    pub fn is_not_null(self) -> Filter<M> {
        Filter::new(self.name, FilterOp::Ne, &Option::<T>::None)
    }

    /// Rows whose optional field holds `value`.
    ///
    /// ```
    /// use ablo_runtime::fields::Field;
    /// use ablo_runtime::client::Query;
    /// let summary: Field<(), Option<String>> = Field::new("summary");
    /// let q = Query::new().filter(summary.eq_some("x"));
    /// assert!(q.matches(&serde_json::json!({"summary": "x"})));
    /// ```
    pub fn eq_some(self, value: impl Into<T>) -> Filter<M> {
        Filter::new(self.name, FilterOp::Eq, &Some(value.into()))
    }
}

/// Field types a range (`gt`, `gte`, `lt`, `lte`) can compare: integers,
/// floats, `String`, `Timestamp`, `Uuid`, `Id`, `Ref`, `#[derive(ablo::Enum)]`
/// enums (by their wire text) and `Option`s of them. Booleans, lists,
/// objects and `Json` have no order, so a range on them does not compile
/// (the server refuses it too).
///
/// ```
/// use ablo_runtime::fields::{Field, Ordered};
/// fn ranged<T: Ordered>() {}
/// ranged::<i64>();
/// ranged::<Option<ablo_runtime::Timestamp>>();
/// let due: Field<(), Option<ablo_runtime::Timestamp>> = Field::new("due");
/// let _soon = due.lt(ablo_runtime::Timestamp::now());
/// ```
///
/// ```compile_fail
/// use ablo_runtime::fields::Field;
/// let done: Field<(), bool> = Field::new("done");
/// let _ = done.gt(false); // booleans have no order
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no order, so a range (`gt`, `gte`, `lt`, `lte`) cannot compare it",
    label = "ranges need a number, string, timestamp, UUID, id or enum field",
    note = "a boolean field takes `eq`, `ne` and `is_in`; list, object and `Json` fields cannot be filtered"
)]
pub trait Ordered {}

macro_rules! ordered {
    ($($t:ty),*) => { $(impl Ordered for $t {})* };
}
ordered!(
    i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, String, Timestamp, Uuid
);
impl<M: ?Sized> Ordered for Id<M> {}
impl<M: ?Sized> Ordered for Ref<M> {}
impl<T: Ordered> Ordered for Option<T> {}

/// One condition of a [`Query`](crate::client::Query) on model `M`, built
/// from a typed [`Field`]: `Task::fields().status.eq(TaskStatus::Done)`.
///
/// ```
/// use ablo_runtime::fields::{Field, Filter};
/// let f: Filter<()> = Field::<(), i64>::new("points").eq(2);
/// assert_eq!(f.field(), "points");
/// assert_eq!(f.value(), &serde_json::json!(2));
/// ```
pub struct Filter<M> {
    field: &'static str,
    op: FilterOp,
    value: Result<Json, String>,
    marker: PhantomData<fn() -> M>,
}

impl<M> Filter<M> {
    fn new(field: &'static str, op: FilterOp, value: &impl Serialize) -> Self {
        Filter {
            field,
            op,
            value: serde_json::to_value(value).map_err(|e| e.to_string()),
            marker: PhantomData,
        }
    }

    /// The field's wire name.
    ///
    /// ```
    /// use ablo_runtime::fields::Field;
    /// assert_eq!(Field::<(), bool>::new("done").eq(true).field(), "done");
    /// ```
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// The operator.
    ///
    /// ```
    /// use ablo_runtime::fields::Field;
    /// use ablo_runtime::filter::FilterOp;
    /// assert_eq!(Field::<(), i32>::new("n").gte(1).op(), FilterOp::Gte);
    /// ```
    pub fn op(&self) -> FilterOp {
        self.op
    }

    /// The value compared with (JSON null when it did not serialize; the
    /// query then fails with `invalid_query`).
    ///
    /// ```
    /// use ablo_runtime::fields::Field;
    /// assert_eq!(Field::<(), bool>::new("done").eq(true).value(), &serde_json::json!(true));
    /// ```
    pub fn value(&self) -> &Json {
        self.value.as_ref().unwrap_or(&Json::Null)
    }

    pub(crate) fn into_parts(self) -> (&'static str, FilterOp, Result<Json, String>) {
        (self.field, self.op, self.value)
    }
}

/// What [`Query::order_by`](crate::client::Query::order_by) sorts by: a
/// wire name (`&str`, `String`; `id`, `stamp`, `createdAt`, `updatedAt`
/// too) or a typed [`Field`] of the query's model.
///
/// ```
/// use ablo_runtime::fields::{Field, SortKey};
/// assert_eq!(SortKey::<()>::into_sort_key("createdAt"), "createdAt");
/// assert_eq!(SortKey::<()>::into_sort_key(Field::<(), i32>::new("n")), "n");
/// ```
pub trait SortKey<M> {
    /// The wire name sorted by.
    fn into_sort_key(self) -> String;
}

impl<M> SortKey<M> for &str {
    fn into_sort_key(self) -> String {
        self.to_owned()
    }
}

impl<M> SortKey<M> for String {
    fn into_sort_key(self) -> String {
        self
    }
}

impl<M> SortKey<M> for &String {
    fn into_sort_key(self) -> String {
        self.clone()
    }
}

impl<M, T> SortKey<M> for Field<M, T> {
    fn into_sort_key(self) -> String {
        self.name.to_owned()
    }
}
