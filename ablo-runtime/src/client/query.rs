//! [`Query`]: which rows of a model to read, in which order, how many. The
//! same query runs on the server (`list`, `load`) and on the local pool
//! (`get_all`, `get_count`, `watch`).

use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;

use crate::error::Error;
use crate::fields::{Filter, SortKey};
use crate::filter::{self as rules, FieldFilter, FilterOp};
use crate::schema::ModelDescriptor;
use crate::types::Json;
use crate::wire::JsonObject;

/// Sort direction of one `order_by` key.
///
/// ```
/// use ablo_runtime::client::Direction;
/// assert_ne!(Direction::Asc, Direction::Desc);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

/// A query over the rows of model `M`: conditions on fields (wire names;
/// equality, ranges, `in`, null checks, see [`crate::filter`] for the
/// rules), a sort key, a page size and a page cursor.
///
/// ```
/// use ablo_runtime::client::Query;
/// #[derive(serde::Serialize, serde::Deserialize, Clone)]
/// struct Task { title: String, status: String }
/// let q: Query<Task> = Query::new()
///     .where_eq("status", "todo")
///     .order_by_desc("createdAt")
///     .limit(20);
/// assert!(q.matches(&serde_json::json!({"title": "a", "status": "todo"})));
/// assert!(!q.matches(&serde_json::json!({"title": "a", "status": "done"})));
/// ```
pub struct Query<M> {
    filters: Vec<FieldFilter>,
    order: Option<(String, Direction)>,
    limit: Option<usize>,
    cursor: Option<String>,
    invalid: Option<String>,
    marker: PhantomData<fn() -> M>,
}

impl<M> Clone for Query<M> {
    fn clone(&self) -> Self {
        Query {
            filters: self.filters.clone(),
            order: self.order.clone(),
            limit: self.limit,
            cursor: self.cursor.clone(),
            invalid: self.invalid.clone(),
            marker: PhantomData,
        }
    }
}

impl<M> fmt::Debug for Query<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Query")
            .field("filters", &self.filters)
            .field("order", &self.order)
            .field("limit", &self.limit)
            .field("cursor", &self.cursor)
            .finish()
    }
}

impl<M> Default for Query<M> {
    fn default() -> Self {
        Query {
            filters: Vec::new(),
            order: None,
            limit: None,
            cursor: None,
            invalid: None,
            marker: PhantomData,
        }
    }
}

impl<M> Query<M> {
    /// Every row, in the server's default order (by id).
    ///
    /// ```
    /// use ablo_runtime::client::Query;
    /// let q: Query<()> = Query::new();
    /// assert!(q.matches(&serde_json::json!({"anything": 1})));
    /// ```
    pub fn new() -> Self {
        Query::default()
    }

    /// Only rows whose field `field` (wire name) equals `value` (a string,
    /// number, boolean or null; the server refuses other values and fields
    /// the model lacks with `invalid_query`).
    ///
    /// ```
    /// use ablo_runtime::client::Query;
    /// let q: Query<()> = Query::new().where_eq("status", "todo");
    /// assert!(q.matches(&serde_json::json!({"status": "todo"})));
    /// ```
    pub fn where_eq(mut self, field: impl Into<String>, value: impl Serialize) -> Self {
        let field = field.into();
        match serde_json::to_value(value) {
            Ok(value) => self.filters.push(FieldFilter::eq(field, value)),
            Err(e) => {
                self.invalid = Some(format!("the value for `{field}` does not serialize: {e}"))
            }
        }
        self
    }

    /// Only rows whose field `field` (wire name) compares with `value` by
    /// `op`: the string form of every operator (`in` takes a list). The
    /// rules are those of [`crate::filter`]; the server refuses a field the
    /// model lacks, a value of another type, a range on a boolean field or
    /// an `in` without a list with `invalid_query`, and so does
    /// [`validate`](Self::validate).
    ///
    /// ```
    /// use ablo_runtime::client::Query;
    /// use ablo_runtime::filter::FilterOp;
    /// let q: Query<()> = Query::new()
    ///     .where_op("priority", FilterOp::Gte, 3)
    ///     .where_op("status", FilterOp::In, ["todo", "doing"]);
    /// assert!(q.matches(&serde_json::json!({"priority": 4, "status": "todo"})));
    /// assert!(!q.matches(&serde_json::json!({"priority": 2, "status": "todo"})));
    /// assert_eq!(q.to_params().unwrap()[0].1, r#"{"priority":{"gte":3},"status":{"in":["todo","doing"]}}"#);
    /// ```
    pub fn where_op(
        mut self,
        field: impl Into<String>,
        op: FilterOp,
        value: impl Serialize,
    ) -> Self {
        let field = field.into();
        match serde_json::to_value(value) {
            Ok(value) => self.filters.push(FieldFilter::new(field, op, value)),
            Err(e) => {
                self.invalid = Some(format!("the value for `{field}` does not serialize: {e}"))
            }
        }
        self
    }

    /// Only rows that pass `filter`, built from a typed field:
    /// `Task::fields().status.eq(TaskStatus::Done)`. A field the model
    /// lacks, or a value of another type, does not compile.
    ///
    /// ```
    /// use ablo_runtime::client::Query;
    /// use ablo_runtime::fields::Field;
    /// let done: Field<(), bool> = Field::new("done");
    /// let q = Query::new().filter(done.eq(true));
    /// assert!(q.matches(&serde_json::json!({"done": true})));
    /// ```
    pub fn filter(mut self, filter: Filter<M>) -> Self {
        let (field, op, value) = filter.into_parts();
        match value {
            Ok(value) => self.filters.push(FieldFilter::new(field, op, value)),
            Err(e) => {
                self.invalid = Some(format!("the value for `{field}` does not serialize: {e}"))
            }
        }
        self
    }

    /// Checks the query against the model's descriptor as the server
    /// checks a list: every `where` field must be a field of the model that
    /// can be compared (not a list, object or JSON field), every value of
    /// the field's type ([`crate::filter::check`]), no operator twice on
    /// one field with different values; the sort key must be `id`, `stamp`,
    /// `createdAt`, `updatedAt` or such a field. Otherwise
    /// `Error::Validation` with code `invalid_query`, the error `list`
    /// gets from the server. The local reads (`try_get_all`,
    /// `try_get_count`, `try_watch`) run it before reading the pool.
    ///
    /// ```
    /// use ablo_runtime::client::Query;
    /// use ablo_runtime::{FieldDescriptor, FieldType, ModelDescriptor};
    /// let title = FieldDescriptor { name: "title".into(), rust_name: "title".into(),
    ///     ty: FieldType::String, indexed: false, doc: None };
    /// let model = ModelDescriptor { name: "tasks".into(), type_name: "Task".into(), doc: None,
    ///     fields: vec![title], sync_groups: vec![], ts: String::new(), json_schema: serde_json::json!({}) };
    /// assert!(Query::<()>::new().where_eq("title", "a").validate(&model).is_ok());
    /// let err = Query::<()>::new().where_eq("titel", "a").validate(&model).unwrap_err();
    /// assert_eq!(err.code(), "invalid_query");
    /// assert_eq!(err.message(), "`where`: model `tasks` has no field `titel`");
    /// ```
    pub fn validate(&self, model: &ModelDescriptor) -> Result<(), Error> {
        let invalid = |message: String| Error::validation("invalid_query", message);
        if let Some(problem) = &self.invalid {
            return Err(invalid(problem.clone()));
        }
        let model_name = &model.name;
        for filter in &self.filters {
            if filter.op == FilterOp::Eq && filter.value.is_array() {
                return Err(invalid(format!(
                    "`where`: field `{}` can only be compared with a string, number, boolean or null; for one of several values use {{\"in\": [..]}}",
                    filter.field
                )));
            }
            rules::check(model, filter).map_err(invalid)?;
        }
        rules::to_where(&self.filters).map_err(invalid)?;
        if let Some((field, _)) = &self.order
            && !matches!(field.as_str(), "id" | "stamp" | "createdAt" | "updatedAt")
        {
            match model.fields.iter().find(|f| &f.name == field) {
                Some(f) if rules::is_sortable(&f.ty) => {}
                Some(_) => {
                    return Err(invalid(format!(
                        "`orderBy`: field `{field}` is not sortable"
                    )));
                }
                None => {
                    return Err(invalid(format!(
                        "`orderBy`: model `{model_name}` has no field `{field}`"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Sorts by `field` (a typed field, `Task::fields().due`, or a wire
    /// name; `id`, `stamp`, `createdAt` and `updatedAt` too) ascending, ties broken by id. A later `order_by`
    /// replaces an earlier one.
    ///
    /// ```
    /// use ablo_runtime::client::Query;
    /// let q: Query<()> = Query::new().order_by("title");
    /// assert_eq!(q.to_params().unwrap(), vec![("orderBy".to_string(), "title:asc".to_string())]);
    /// ```
    pub fn order_by(mut self, field: impl SortKey<M>) -> Self {
        self.order = Some((field.into_sort_key(), Direction::Asc));
        self
    }

    /// Sorts by `field` descending, ties broken by id. A later `order_by`
    /// replaces an earlier one.
    ///
    /// ```
    /// use ablo_runtime::client::Query;
    /// let q: Query<()> = Query::new().order_by_desc("createdAt");
    /// assert_eq!(q.to_params().unwrap()[0].1, "createdAt:desc");
    /// ```
    pub fn order_by_desc(mut self, field: impl SortKey<M>) -> Self {
        self.order = Some((field.into_sort_key(), Direction::Desc));
        self
    }

    /// At most `limit` rows: the page size of `list` (the server allows 1
    /// to 1000 by default, 50 when unset), the total of `load`.
    ///
    /// ```
    /// use ablo_runtime::client::Query;
    /// let q: Query<()> = Query::new().limit(5);
    /// assert_eq!(q.limit_value(), Some(5));
    /// ```
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Continue after a previous page: its `next_cursor`.
    ///
    /// ```
    /// use ablo_runtime::client::Query;
    /// let q: Query<()> = Query::new().cursor("abc");
    /// assert!(q.to_params().unwrap().contains(&("cursor".to_string(), "abc".to_string())));
    /// ```
    pub fn cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    /// The page size, if one was set.
    ///
    /// ```
    /// use ablo_runtime::client::Query;
    /// assert_eq!(Query::<()>::new().limit_value(), None);
    /// ```
    pub fn limit_value(&self) -> Option<usize> {
        self.limit
    }

    /// Whether a row (flat JSON) passes every condition, by the rules of
    /// [`crate::filter`] (the server's).
    ///
    /// ```
    /// use ablo_runtime::client::Query;
    /// let q: Query<()> = Query::new().where_eq("points", 3);
    /// assert!(q.matches(&serde_json::json!({"points": 3})));
    /// assert!(q.matches(&serde_json::json!({"points": 3.0})));
    /// assert!(!q.matches(&serde_json::json!({"points": 4})));
    /// ```
    pub fn matches(&self, row: &Json) -> bool {
        self.filters.iter().all(|filter| filter.matches(row))
    }

    /// The query's conditions, in the order they were added.
    ///
    /// ```
    /// use ablo_runtime::client::Query;
    /// let q: Query<()> = Query::new().where_eq("status", "todo");
    /// assert_eq!(q.conditions()[0].field, "status");
    /// ```
    pub fn conditions(&self) -> &[FieldFilter] {
        &self.filters
    }

    /// Sorts rows by the query's key, ties by id (both in the key's
    /// direction, as the server pages them); applies the limit.
    ///
    /// ```
    /// use ablo_runtime::client::Query;
    /// let q: Query<()> = Query::new().order_by_desc("n").limit(2);
    /// let rows = vec![serde_json::json!({"id": "a", "n": 1}), serde_json::json!({"id": "b", "n": 3}),
    ///                 serde_json::json!({"id": "c", "n": 2})];
    /// let ids: Vec<_> = q.sort_and_limit(rows).into_iter().map(|r| r["id"].clone()).collect();
    /// assert_eq!(ids, vec!["b", "c"]);
    /// ```
    pub fn sort_and_limit(&self, mut rows: Vec<Json>) -> Vec<Json> {
        let (field, direction) = match &self.order {
            Some((field, direction)) => (field.as_str(), *direction),
            None => ("id", Direction::Asc),
        };
        rows.sort_by(|a, b| {
            let ordering = rules::compare_values(
                a.get(field).unwrap_or(&Json::Null),
                b.get(field).unwrap_or(&Json::Null),
            )
            .then_with(|| {
                rules::compare_values(
                    a.get("id").unwrap_or(&Json::Null),
                    b.get("id").unwrap_or(&Json::Null),
                )
            });
            match direction {
                Direction::Asc => ordering,
                Direction::Desc => ordering.reverse(),
            }
        });
        if let Some(limit) = self.limit {
            rows.truncate(limit);
        }
        rows
    }

    /// The query string parameters of `GET /v1/models/{model}`: `where` (a
    /// JSON object of field → value or operators, [`crate::filter::to_where`]), `orderBy` (`field:asc` or
    /// `field:desc`), `limit` and `cursor`.
    ///
    /// ```
    /// use ablo_runtime::client::Query;
    /// let q: Query<()> = Query::new().where_eq("status", "todo").order_by("title").limit(3);
    /// let params = q.to_params().unwrap();
    /// assert_eq!(params[0], ("where".to_string(), r#"{"status":"todo"}"#.to_string()));
    /// assert_eq!(params[2], ("limit".to_string(), "3".to_string()));
    /// ```
    pub fn to_params(&self) -> Result<Vec<(String, String)>, Error> {
        if let Some(problem) = &self.invalid {
            return Err(Error::validation("invalid_query", problem.clone()));
        }
        let mut params = Vec::new();
        if !self.filters.is_empty() {
            let object: JsonObject = rules::to_where(&self.filters)
                .map_err(|message| Error::validation("invalid_query", message))?;
            params.push(("where".to_owned(), Json::Object(object).to_string()));
        }
        if let Some((field, direction)) = &self.order {
            let key = match direction {
                Direction::Asc => format!("{field}:asc"),
                Direction::Desc => format!("{field}:desc"),
            };
            params.push(("orderBy".to_owned(), key));
        }
        if let Some(limit) = self.limit {
            params.push(("limit".to_owned(), limit.to_string()));
        }
        if let Some(cursor) = &self.cursor {
            params.push(("cursor".to_owned(), cursor.clone()));
        }
        Ok(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_compare_whole_json_values() {
        let q: Query<()> = Query::new()
            .where_eq("status", "todo")
            .where_eq("points", 3);
        assert!(q.matches(&json!({"status": "todo", "points": 3})));
        assert!(!q.matches(&json!({"status": "todo", "points": 4})));
        assert!(!q.matches(&json!({"status": "todo"})));
        let nulls: Query<()> = Query::new().where_eq("summary", Option::<String>::None);
        assert!(nulls.matches(&json!({"summary": null})));
        assert!(nulls.matches(&json!({})));
    }

    #[test]
    fn sorting_is_stable_on_ties_by_id_and_mixed_types() {
        let q: Query<()> = Query::new().order_by("n");
        let rows = vec![
            json!({"id": "b", "n": 1}),
            json!({"id": "a", "n": 1}),
            json!({"id": "c", "n": null}),
            json!({"id": "d", "n": 1.5}),
            json!({"id": "e", "n": -2}),
        ];
        let ids: Vec<Json> = q
            .sort_and_limit(rows)
            .into_iter()
            .map(|r| r["id"].clone())
            .collect();
        assert_eq!(ids, vec!["c", "e", "a", "b", "d"]);
    }

    #[test]
    fn params_encode_every_part() {
        let q: Query<()> = Query::new()
            .where_eq("status", "todo")
            .order_by("title")
            .order_by_desc("createdAt")
            .limit(10)
            .cursor("next");
        assert_eq!(
            q.to_params().unwrap(),
            vec![
                ("where".into(), r#"{"status":"todo"}"#.into()),
                ("orderBy".into(), "createdAt:desc".into()),
                ("limit".into(), "10".into()),
                ("cursor".into(), "next".into()),
            ]
        );
        assert!(Query::<()>::new().to_params().unwrap().is_empty());
    }

    #[test]
    fn unserializable_values_are_a_validation_error() {
        let mut map = std::collections::HashMap::new();
        map.insert((1, 2), "tuple keys are not JSON");
        let q: Query<()> = Query::new().where_eq("x", map);
        let err = q.to_params().unwrap_err();
        assert!(matches!(err, Error::Validation(_)));
        assert_eq!(err.code(), "invalid_query");
    }
}

#[cfg(test)]
mod validation_tests {
    use super::*;
    use crate::fields::Field;
    use crate::schema::FieldDescriptor;
    use crate::schema::FieldType;
    use serde_json::json;

    fn tasks() -> ModelDescriptor {
        let field = |name: &str, ty: FieldType| FieldDescriptor {
            name: name.into(),
            rust_name: name.into(),
            ty,
            indexed: false,
            doc: None,
        };
        ModelDescriptor {
            name: "tasks".into(),
            type_name: "Task".into(),
            doc: None,
            fields: vec![
                field("title", FieldType::String),
                field("summary", FieldType::optional(FieldType::String)),
                field("tags", FieldType::list(FieldType::String)),
            ],
            sync_groups: vec![],
            ts: String::new(),
            json_schema: json!({}),
        }
    }

    #[test]
    fn unknown_fields_are_refused_as_the_server_refuses_them() {
        let model = tasks();
        let err = Query::<()>::new()
            .where_eq("titel", "x")
            .validate(&model)
            .unwrap_err();
        assert!(matches!(err, Error::Validation(_)));
        assert_eq!(err.code(), "invalid_query");
        assert_eq!(err.message(), "`where`: model `tasks` has no field `titel`");
        let err = Query::<()>::new()
            .order_by("titel")
            .validate(&model)
            .unwrap_err();
        assert_eq!(err.code(), "invalid_query");
        assert_eq!(
            err.message(),
            "`orderBy`: model `tasks` has no field `titel`"
        );
        let err = Query::<()>::new()
            .where_eq("tags", "x")
            .validate(&model)
            .unwrap_err();
        assert_eq!(err.code(), "invalid_query");
        let err = Query::<()>::new()
            .order_by_desc("tags")
            .validate(&model)
            .unwrap_err();
        assert_eq!(err.message(), "`orderBy`: field `tags` is not sortable");
        let err = Query::<()>::new()
            .where_eq("title", vec!["a"])
            .validate(&model)
            .unwrap_err();
        assert_eq!(err.code(), "invalid_query");
        for key in ["id", "stamp", "createdAt", "updatedAt", "title", "summary"] {
            assert!(
                Query::<()>::new().order_by(key).validate(&model).is_ok(),
                "{key}"
            );
        }
        assert!(
            Query::<()>::new()
                .where_eq("summary", Option::<String>::None)
                .validate(&model)
                .is_ok()
        );
    }

    #[test]
    fn typed_filters_and_sort_keys() {
        let title: Field<(), String> = Field::new("title");
        let summary: Field<(), Option<String>> = Field::new("summary");
        let q = Query::new()
            .filter(title.eq("Plan"))
            .filter(summary.is_null())
            .order_by_desc(title);
        assert!(q.matches(&json!({"title": "Plan", "summary": null})));
        assert!(q.matches(&json!({"title": "Plan"})));
        assert!(!q.matches(&json!({"title": "Plan", "summary": "s"})));
        assert!(!q.matches(&json!({"title": "Other"})));
        assert_eq!(
            q.to_params().unwrap(),
            vec![
                ("where".into(), r#"{"summary":null,"title":"Plan"}"#.into()),
                ("orderBy".into(), "title:desc".into()),
            ]
        );
        assert!(q.validate(&tasks()).is_ok());
        let some = Query::<()>::new().filter(summary.eq_some("s"));
        assert!(some.matches(&json!({"summary": "s"})));
    }
}
