//! Rows on PostgreSQL: reading and writing them, and the list query.
//!
//! Filters and sort keys compare a field as its schema type: text byte-wise
//! (`COLLATE "C"`, as SQLite compares), numbers as `numeric`, booleans as
//! `boolean` (`false` before `true`). A missing field and JSON `null` are
//! both SQL `NULL`, which sorts first ascending and last descending.

use std::collections::BTreeMap;

use ablo_runtime::{FieldType, Json, SyncId};
use postgres::types::ToSql;
use postgres::{Statement, ToStatement, Transaction};

use super::timestamp;
use crate::storage::{FieldFilter, FilterOp, ListQuery, SortKey, StorageError, StoredRow};

/// How a field compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FieldKind {
    Text,
    Number,
    Boolean,
    /// JSON, objects and lists: not filtered or sorted on.
    Unordered,
}

impl FieldKind {
    pub(super) fn of(ty: &FieldType) -> FieldKind {
        match ty {
            FieldType::Optional { of } => FieldKind::of(of),
            FieldType::Integer { .. } | FieldType::Float { .. } => FieldKind::Number,
            FieldType::Boolean => FieldKind::Boolean,
            FieldType::Json | FieldType::Object { .. } | FieldType::List { .. } => {
                FieldKind::Unordered
            }
            _ => FieldKind::Text,
        }
    }

    /// The SQL text of a JSON scalar of this kind, or `None` when the value
    /// is of another type (it then equals nothing).
    fn text_of(self, value: &Json) -> Option<String> {
        match (self, value) {
            (FieldKind::Text, Json::String(s)) => Some(s.clone()),
            (FieldKind::Number, Json::Number(n)) => Some(n.to_string()),
            (FieldKind::Boolean, Json::Bool(b)) => Some(b.to_string()),
            _ => None,
        }
    }

    /// A text parameter cast to this kind.
    fn param(self, n: usize) -> String {
        match self {
            FieldKind::Number => format!("(${n}::text)::numeric"),
            FieldKind::Boolean => format!("(${n}::text)::boolean"),
            _ => format!("(${n}::text COLLATE \"C\")"),
        }
    }
}

/// The SQL expression of a field as its kind. Field names are checked
/// against `[A-Za-z_][A-Za-z0-9_]*` when the schema is pushed, so they are
/// safe inside the literal.
pub(super) fn field_expr(field: &str, kind: FieldKind) -> String {
    match kind {
        FieldKind::Number => format!("(rows.data ->> '{field}')::numeric"),
        FieldKind::Boolean => format!("(rows.data ->> '{field}')::boolean"),
        FieldKind::Text => format!("((rows.data ->> '{field}') COLLATE \"C\")"),
        FieldKind::Unordered => format!("(rows.data -> '{field}')"),
    }
}

pub(super) const ROW_COLUMNS: &str =
    "model, id, data, field_stamps, stamp, created_at, updated_at, sync_groups";

/// A row and the size of its fields' JSON text.
pub(super) fn decode_row(r: &postgres::Row) -> Result<(StoredRow, usize), StorageError> {
    let data: Json = r.get(2);
    let size = data.to_string().len();
    let Json::Object(data) = data else {
        return Err(StorageError::Corrupt("row data is not an object".into()));
    };
    let field_stamps: BTreeMap<String, SyncId> = serde_json::from_value(r.get(3))?;
    let stamp: i64 = r.get(4);
    Ok((
        StoredRow {
            model: r.get(0),
            id: r.get(1),
            data,
            field_stamps,
            stamp: SyncId(stamp as u64),
            created_at: timestamp(r.get(5))?,
            updated_at: timestamp(r.get(6))?,
            sync_groups: serde_json::from_value(r.get(7))?,
        },
        size,
    ))
}

/// A row by model and id ([`select_row`]'s statement).
pub(super) static SELECT_ROW: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("SELECT {ROW_COLUMNS} FROM rows WHERE model = $1 AND id = $2")
});

/// One row's upsert ([`upsert_row`]'s statement).
pub(super) const UPSERT_ROW: &str =
    "INSERT INTO rows (model, id, data, field_stamps, stamp, created_at, updated_at, sync_groups)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (model, id) DO UPDATE SET data = excluded.data,
           field_stamps = excluded.field_stamps, stamp = excluded.stamp,
           updated_at = excluded.updated_at, sync_groups = excluded.sync_groups";

/// A row by model and id, with `statement` [`SELECT_ROW`] or a statement
/// prepared from it.
pub(super) fn select_row<S: ?Sized + ToStatement>(
    tx: &mut Transaction<'_>,
    statement: &S,
    model: &str,
    id: &str,
) -> Result<Option<StoredRow>, StorageError> {
    let found = tx.query_opt(statement, &[&model, &id])?;
    found
        .map(|r| decode_row(&r).map(|(row, _)| row))
        .transpose()
}

/// Writes a row, with `statement` prepared from [`UPSERT_ROW`].
pub(super) fn upsert_row(
    tx: &mut Transaction<'_>,
    statement: &Statement,
    row: &StoredRow,
) -> Result<(), StorageError> {
    tx.execute(
        statement,
        &[
            &row.model,
            &row.id,
            &Json::Object(row.data.clone()),
            &serde_json::to_value(&row.field_stamps)?,
            &(row.stamp.0 as i64),
            &row.created_at.to_string(),
            &row.updated_at.to_string(),
            &serde_json::to_value(&row.sync_groups)?,
        ],
    )?;
    Ok(())
}

/// Collects parameters and hands out their `$n` numbers.
#[derive(Default)]
pub(super) struct Args(pub(super) Vec<Box<dyn ToSql + Sync + Send>>);

impl Args {
    fn push(&mut self, value: impl ToSql + Sync + Send + 'static) -> usize {
        self.0.push(Box::new(value));
        self.0.len()
    }
}

/// One condition as SQL, by the rules of [`ablo_runtime::filter`]: the
/// field cast to its kind is NULL when null or missing; `eq` and `ne` are
/// null-safe (`IS [NOT] DISTINCT FROM`); a range is NULL, so false, for a
/// null field. The server checked each value's type against the field, so
/// a value of another type (which would equal nothing) does not occur.
fn push_filter(sql: &mut String, args: &mut Args, filter: &FieldFilter, kind: FieldKind) {
    let expr = field_expr(&filter.field, kind);
    let mut operand = |value: &Json| match kind.text_of(value) {
        Some(text) => kind.param(args.push(text)),
        None => "NULL".to_owned(),
    };
    let clause = match (filter.op, &filter.value) {
        (FilterOp::Eq, Json::Null) => format!("{expr} IS NULL"),
        (FilterOp::Ne, Json::Null) => format!("{expr} IS NOT NULL"),
        (FilterOp::Eq, value) => format!("{expr} IS NOT DISTINCT FROM {}", operand(value)),
        (FilterOp::Ne, value) => format!("{expr} IS DISTINCT FROM {}", operand(value)),
        (FilterOp::Gt, value) => format!("{expr} > {}", operand(value)),
        (FilterOp::Gte, value) => format!("{expr} >= {}", operand(value)),
        (FilterOp::Lt, value) => format!("{expr} < {}", operand(value)),
        (FilterOp::Lte, value) => format!("{expr} <= {}", operand(value)),
        (FilterOp::In, value) => {
            let values = value.as_array().map(Vec::as_slice).unwrap_or(&[]);
            let present: Vec<String> = values
                .iter()
                .filter(|v| !v.is_null())
                .map(&mut operand)
                .collect();
            let mut alternatives = Vec::new();
            if !present.is_empty() {
                alternatives.push(format!("{expr} IN ({})", present.join(", ")));
            }
            if values.iter().any(Json::is_null) {
                alternatives.push(format!("{expr} IS NULL"));
            }
            if alternatives.is_empty() {
                "FALSE".to_owned()
            } else {
                format!("({})", alternatives.join(" OR "))
            }
        }
    };
    sql.push_str(" AND ");
    sql.push_str(&clause);
}

/// `AND` every group of the row matches a pattern of the scope.
pub(super) fn scope_clause(patterns: &crate::scope::GroupPatterns, args: &mut Args) -> String {
    let mut allowed: Vec<String> = Vec::new();
    for group in &patterns.exact {
        let n = args.push(group.clone());
        allowed.push(format!("g.v = ${n}"));
    }
    for prefix in &patterns.prefixes {
        let n = args.push(prefix.clone());
        allowed.push(format!("starts_with(g.v, ${n})"));
    }
    let allowed = if allowed.is_empty() {
        "FALSE".to_owned()
    } else {
        allowed.join(" OR ")
    };
    format!(
        " AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(rows.sync_groups) AS g(v) WHERE NOT ({allowed}))"
    )
}

/// The snapshot query: every row (by model and id) within the scope.
pub(super) fn snapshot_sql(visible_to: Option<&crate::scope::GroupPatterns>) -> (String, Args) {
    let mut args = Args::default();
    let mut sql = format!("SELECT {ROW_COLUMNS} FROM rows WHERE TRUE");
    if let Some(patterns) = visible_to {
        sql.push_str(&scope_clause(patterns, &mut args));
    }
    sql.push_str(" ORDER BY model, id");
    (sql, args)
}

/// The list query as SQL and its parameters; `kind_of` says how a field of
/// the query's model compares.
pub(super) fn build_list_sql(
    query: &ListQuery,
    kind_of: impl Fn(&str) -> FieldKind,
) -> (String, Args) {
    let mut args = Args::default();
    let model = args.push(query.model.clone());
    let mut sql = format!("SELECT {ROW_COLUMNS} FROM rows WHERE model = ${model}");
    for filter in &query.filters {
        push_filter(&mut sql, &mut args, filter, kind_of(&filter.field));
    }
    if let Some(patterns) = &query.visible_to {
        sql.push_str(&scope_clause(patterns, &mut args));
    }
    let (key, key_kind) = match &query.sort {
        SortKey::Id => ("rows.id".to_owned(), FieldKind::Text),
        SortKey::Stamp => ("rows.stamp".to_owned(), FieldKind::Number),
        SortKey::CreatedAt => ("rows.created_at".to_owned(), FieldKind::Text),
        SortKey::UpdatedAt => ("rows.updated_at".to_owned(), FieldKind::Text),
        SortKey::Field(name) => {
            let kind = kind_of(name);
            (field_expr(name, kind), kind)
        }
    };
    if let Some(after) = &query.after {
        let id = args.push(after.id.clone());
        let id_param = FieldKind::Text.param(id);
        let older = if query.descending { "<" } else { ">" };
        if query.sort == SortKey::Id {
            sql.push_str(&format!(" AND rows.id {older} {id_param}"));
        } else if after.value.is_null() {
            // Nulls sort first ascending and last descending.
            if query.descending {
                sql.push_str(&format!(" AND ({key} IS NULL AND rows.id < {id_param})"));
            } else {
                sql.push_str(&format!(
                    " AND (({key} IS NULL AND rows.id > {id_param}) OR {key} IS NOT NULL)"
                ));
            }
        } else {
            let value = match (&query.sort, &after.value) {
                (SortKey::Stamp, Json::Number(n)) => Some(n.to_string()),
                (_, value) => key_kind.text_of(value),
            };
            let value = args.push(value.unwrap_or_default());
            let value = key_kind.param(value);
            if query.descending {
                sql.push_str(&format!(
                    " AND ({key} < {value} OR ({key} = {value} AND rows.id < {id_param}) OR {key} IS NULL)"
                ));
            } else {
                sql.push_str(&format!(
                    " AND ({key} > {value} OR ({key} = {value} AND rows.id > {id_param}))"
                ));
            }
        }
    }
    let direction = if query.descending {
        "DESC NULLS LAST"
    } else {
        "ASC NULLS FIRST"
    };
    let id_direction = if query.descending { "DESC" } else { "ASC" };
    if query.sort == SortKey::Id {
        sql.push_str(&format!(" ORDER BY rows.id {id_direction}"));
    } else {
        sql.push_str(&format!(
            " ORDER BY {key} {direction}, rows.id {id_direction}"
        ));
    }
    let limit = args.push(query.limit as i64);
    sql.push_str(&format!(" LIMIT ${limit}"));
    (sql, args)
}
