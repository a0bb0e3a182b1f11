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

use crate::types::Json;

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
        Filter::new(self.name, &value.into())
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
        Filter::new(self.name, &Option::<T>::None)
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
        Filter::new(self.name, &Some(value.into()))
    }
}

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
    value: Result<Json, String>,
    marker: PhantomData<fn() -> M>,
}

impl<M> Filter<M> {
    fn new(field: &'static str, value: &impl Serialize) -> Self {
        Filter {
            field,
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

    pub(crate) fn into_parts(self) -> (&'static str, Result<Json, String>) {
        (self.field, self.value)
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
