//! [`Query`]: which rows of a model to read, in which order, how many. The
//! same query runs on the server (`list`, `load`) and on the local pool
//! (`get_all`, `get_count`, `watch`).

use std::cmp::Ordering;
use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;

use crate::error::Error;
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

/// A query over the rows of model `M`: equality filters on fields (wire
/// names, `id` included), sort keys, a page size and a page cursor.
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
    filters: Vec<(String, Json)>,
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
            Ok(value) => self.filters.push((field, value)),
            Err(e) => {
                self.invalid = Some(format!("the value for `{field}` does not serialize: {e}"))
            }
        }
        self
    }

    /// Sorts by `field` (wire name; `id`, `stamp`, `createdAt` and
    /// `updatedAt` too) ascending, ties broken by id. A later `order_by`
    /// replaces an earlier one.
    ///
    /// ```
    /// use ablo_runtime::client::Query;
    /// let q: Query<()> = Query::new().order_by("title");
    /// assert_eq!(q.to_params().unwrap(), vec![("orderBy".to_string(), "title:asc".to_string())]);
    /// ```
    pub fn order_by(mut self, field: impl Into<String>) -> Self {
        self.order = Some((field.into(), Direction::Asc));
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
    pub fn order_by_desc(mut self, field: impl Into<String>) -> Self {
        self.order = Some((field.into(), Direction::Desc));
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

    /// Whether a row (flat JSON) passes every filter.
    ///
    /// ```
    /// use ablo_runtime::client::Query;
    /// let q: Query<()> = Query::new().where_eq("points", 3);
    /// assert!(q.matches(&serde_json::json!({"points": 3})));
    /// assert!(!q.matches(&serde_json::json!({"points": 4})));
    /// ```
    pub fn matches(&self, row: &Json) -> bool {
        self.filters
            .iter()
            .all(|(field, expected)| row.get(field).unwrap_or(&Json::Null) == expected)
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
            let ordering = compare_json(
                a.get(field).unwrap_or(&Json::Null),
                b.get(field).unwrap_or(&Json::Null),
            )
            .then_with(|| {
                compare_json(
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
    /// JSON object of field → value), `orderBy` (`field:asc` or
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
            let object: JsonObject = self.filters.iter().cloned().collect();
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

/// A total order over JSON values: null < booleans < numbers < strings <
/// arrays < objects; numbers by value, strings by code point (RFC 3339
/// timestamps therefore sort by time).
fn compare_json(a: &Json, b: &Json) -> Ordering {
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
            .map(|(a, b)| compare_json(a, b))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        _ => rank(a).cmp(&rank(b)),
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
