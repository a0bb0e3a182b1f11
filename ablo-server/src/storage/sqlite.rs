//! The embedded SQLite backend: one file `ablo.db` in the data directory, WAL
//! journal, `synchronous = FULL` so a confirmed commit survives a crash.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ablo_runtime::wire::{CommitReceipt, Delta};
use ablo_runtime::{FieldType, Json, SchemaDescriptor, SyncId, Timestamp};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

mod authz;
mod sources;
mod transfer;

use super::{
    ApiKeyRecord, FieldFilter, FilterOp, IdempotencyRecord, ListQuery, LogPage, RowPage,
    SnapshotRow, SortKey, Storage, StorageError, StoredRow, UnitResult, WriteTx,
};

const SCHEMA_SQL: &str = "
CREATE TABLE IF NOT EXISTS rows (
    model TEXT NOT NULL,
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    field_stamps TEXT NOT NULL,
    stamp INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    sync_groups TEXT NOT NULL,
    PRIMARY KEY (model, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sync_log (
    sync_id INTEGER NOT NULL,
    position INTEGER NOT NULL,
    delta TEXT NOT NULL,
    PRIMARY KEY (sync_id, position)
) WITHOUT ROWID;
DROP TABLE IF EXISTS idempotency;
CREATE TABLE IF NOT EXISTS idempotency_records (
    principal TEXT NOT NULL,
    client_tx_id TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    receipt TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (principal, client_tx_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_records_by_age ON idempotency_records (created_at_ms);
CREATE TABLE IF NOT EXISTS server_secrets (
    name TEXT PRIMARY KEY,
    secret BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS pushed_schema (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    hash TEXT NOT NULL,
    descriptor TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sync_head (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    head INTEGER NOT NULL
);
INSERT OR IGNORE INTO sync_head (singleton, head)
    SELECT 1, COALESCE(MAX(sync_id), 0) FROM sync_log;
CREATE TABLE IF NOT EXISTS sync_floor (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    floor INTEGER NOT NULL
);
INSERT OR IGNORE INTO sync_floor (singleton, floor) VALUES (1, 0);
CREATE TABLE IF NOT EXISTS sync_marks (
    head INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sync_marks_by_time ON sync_marks (at_ms);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    created_at TEXT NOT NULL
);
";

impl From<rusqlite::Error> for StorageError {
    fn from(err: rusqlite::Error) -> StorageError {
        StorageError::database("sqlite", err)
    }
}

/// Storage on embedded SQLite: one write connection (used by the group
/// commit writer) and a small pool of read connections.
///
/// ```no_run
/// use ablo_server::storage::{SqliteStorage, Storage};
/// let storage = SqliteStorage::open(std::path::Path::new("/tmp/ablo-data")).unwrap();
/// assert!(storage.schema().unwrap().is_none());
/// ```
pub struct SqliteStorage {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<ReaderPool>,
    /// Signalled when a read connection is returned to the pool.
    returned: std::sync::Condvar,
}

/// At most [`MAX_READERS`] read connections exist; a read waits for one
/// rather than opening more, so no number of concurrent readers (say,
/// thousands of WebSocket replays) can make the server's memory grow with
/// them.
#[derive(Default)]
struct ReaderPool {
    idle: Vec<Connection>,
    open: usize,
}

const MAX_READERS: usize = 16;

/// The page cache of each read connection, in KiB (SQLite's default is
/// 2 MiB). Readers walking the log (replays, snapshots) fill their cache
/// with pages the operating system's file cache holds anyway; at the
/// default, sixteen of them kept 32 MiB.
const READER_CACHE_KIB: i64 = 512;

/// Opens a connection with the pragmas every connection of the server uses
/// (also used by the benchmark's raw SQLite baseline).
///
/// ```no_run
/// let conn = ablo_server::storage::open_connection(std::path::Path::new("/tmp/x.db")).unwrap();
/// ```
pub fn open_connection(path: &Path) -> Result<Connection, StorageError> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "busy_timeout", 5000)?;
    Ok(conn)
}

impl SqliteStorage {
    /// Opens (creating on first use) `ablo.db` inside `data_dir`.
    ///
    /// ```
    /// use ablo_server::storage::{SqliteStorage, Storage};
    /// let dir = tempfile::tempdir().unwrap();
    /// let storage = SqliteStorage::open(dir.path()).unwrap();
    /// assert_eq!(storage.head().unwrap(), ablo_runtime::SyncId::ZERO);
    /// ```
    pub fn open(data_dir: &Path) -> Result<Self, StorageError> {
        create_private_dir(data_dir)?;
        let path = data_dir.join("ablo.db");
        create_private_file(&path)?;
        let writer = open_connection(&path)?;
        writer.execute_batch(SCHEMA_SQL)?;
        writer.execute_batch(authz::SCHEMA_SQL)?;
        writer.execute_batch(sources::SCHEMA_SQL)?;
        sources::upgrade(&writer)?;
        Ok(SqliteStorage {
            path,
            writer: Mutex::new(writer),
            readers: Mutex::new(ReaderPool::default()),
            returned: std::sync::Condvar::new(),
        })
    }

    /// The write connection. A panic while it was held (a bug in code run
    /// inside a write) leaves no transaction open ([`RollbackUnlessDone`]),
    /// so the connection stays usable for the writes that do not go through
    /// the commit writer (keys, capabilities).
    pub(super) fn write_connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `read` on a pooled read connection inside one read transaction
    /// (one consistent snapshot).
    pub(super) fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let conn = {
            let mut pool = self.readers.lock().expect("reader pool");
            loop {
                if let Some(conn) = pool.idle.pop() {
                    break Some(conn);
                }
                if pool.open < MAX_READERS {
                    pool.open += 1;
                    break None;
                }
                pool = self.returned.wait(pool).expect("reader pool");
            }
        };
        let conn = match conn {
            Some(conn) => conn,
            None => match open_connection(&self.path).and_then(|conn| {
                conn.pragma_update(None, "cache_size", -READER_CACHE_KIB)?;
                Ok(conn)
            }) {
                Ok(conn) => conn,
                Err(err) => {
                    self.readers.lock().expect("reader pool").open -= 1;
                    self.returned.notify_one();
                    return Err(err);
                }
            },
        };
        let outcome = conn
            .execute_batch("BEGIN")
            .map_err(StorageError::from)
            .and_then(|()| {
                let result = read(&conn);
                conn.execute_batch("COMMIT")
                    .map_err(StorageError::from)
                    .map(|()| result)
            });
        let mut pool = self.readers.lock().expect("reader pool");
        if outcome.is_ok() {
            pool.idle.push(conn);
        } else {
            pool.open -= 1;
        }
        drop(pool);
        self.returned.notify_one();
        outcome?
    }
}

/// Creates the data directory readable by its owner only (`0700`).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

/// Creates the database file readable by its owner only (`0600`) before
/// SQLite opens it (its `-wal` and `-shm` files take the same mode).
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(|_| ())
}

fn head_of(conn: &Connection) -> Result<SyncId, StorageError> {
    let head: i64 = conn
        .prepare_cached("SELECT head FROM sync_head")?
        .query_row([], |r| r.get(0))?;
    Ok(SyncId(head as u64))
}

const ROW_COLUMNS: &str =
    "model, id, data, field_stamps, stamp, created_at, updated_at, sync_groups";

fn row_from_sql(r: &rusqlite::Row<'_>) -> rusqlite::Result<[String; 8]> {
    Ok([
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get::<_, i64>(4)?.to_string(),
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ])
}

fn decode_row(raw: [String; 8]) -> Result<StoredRow, StorageError> {
    let [
        model,
        id,
        data,
        field_stamps,
        stamp,
        created_at,
        updated_at,
        sync_groups,
    ] = raw;
    let time = |text: &str| {
        Timestamp::parse(text).map_err(|e| StorageError::Corrupt(format!("timestamp {text}: {e}")))
    };
    Ok(StoredRow {
        data: serde_json::from_str(&data)?,
        field_stamps: serde_json::from_str::<BTreeMap<String, SyncId>>(&field_stamps)?,
        stamp: SyncId(
            stamp
                .parse()
                .map_err(|_| StorageError::Corrupt(format!("stamp {stamp}")))?,
        ),
        created_at: time(&created_at)?,
        updated_at: time(&updated_at)?,
        sync_groups: serde_json::from_str(&sync_groups)?,
        model,
        id,
    })
}

fn select_row(conn: &Connection, model: &str, id: &str) -> Result<Option<StoredRow>, StorageError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ROW_COLUMNS} FROM rows WHERE model = ?1 AND id = ?2"
    ))?;
    let raw = stmt
        .query_row(params![model, id], row_from_sql)
        .optional()?;
    raw.map(decode_row).transpose()
}

/// One row of the snapshot query as [`SnapshotRow`]: the wire object is
/// the stored `data` text with `id`, `stamp` and the timestamps appended
/// (reserved names, never fields).
fn snapshot_row(raw: &rusqlite::Row<'_>) -> Result<SnapshotRow, StorageError> {
    use rusqlite::types::ValueRef;
    let text = |i: usize| -> Result<&str, StorageError> {
        match raw.get_ref(i)? {
            ValueRef::Text(bytes) => std::str::from_utf8(bytes)
                .map_err(|e| StorageError::Corrupt(format!("column {i}: {e}"))),
            other => Err(StorageError::Corrupt(format!(
                "column {i}: {:?} instead of text",
                other.data_type()
            ))),
        }
    };
    let id = text(1)?;
    let wire = super::wire_text::wire_row(text(2)?, id, raw.get::<_, i64>(3)?, text(4)?, text(5)?)?;
    Ok(SnapshotRow {
        model: text(0)?.to_owned(),
        id: id.to_owned(),
        sync_groups: serde_json::from_str(text(6)?)?,
        wire,
    })
}

/// The SQL expression of a sort key or filter field. Field names are
/// checked against `[A-Za-z_][A-Za-z0-9_]*` when the schema is pushed, so
/// they are safe inside the JSON path literal.
fn field_expr(field: &str) -> String {
    format!("json_extract(data, '$.{field}')")
}

fn sort_expr(key: &SortKey) -> String {
    match key {
        SortKey::Id => "id".into(),
        SortKey::Stamp => "stamp".into(),
        SortKey::CreatedAt => "created_at".into(),
        SortKey::UpdatedAt => "updated_at".into(),
        SortKey::Field(name) => field_expr(name),
    }
}

/// A JSON scalar as the SQL value `json_extract` yields for it.
fn sql_value(value: &Json) -> SqlValue {
    match value {
        Json::Null => SqlValue::Null,
        Json::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Json::Number(n) => match n.as_i64() {
            Some(i) => SqlValue::Integer(i),
            None => SqlValue::Real(n.as_f64().unwrap_or(0.0)),
        },
        Json::String(s) => SqlValue::Text(s.clone()),
        other => SqlValue::Text(other.to_string()),
    }
}

/// One condition as SQL, by the rules of [`ablo_runtime::filter`]:
/// `json_extract` yields NULL for a null or missing field, integers and
/// reals compare by value, text by byte (UTF-8, so by code point; the
/// default BINARY collation), booleans as 0 and 1 (the value was checked to
/// be a boolean, so it meets only booleans). `IS` / `IS NOT` make `eq` and
/// `ne` null-safe; a range is NULL, so false, for a null field.
fn push_filter(sql: &mut String, args: &mut Vec<SqlValue>, filter: &FieldFilter) {
    let expr = field_expr(&filter.field);
    let comparison = match filter.op {
        FilterOp::Eq => "IS",
        FilterOp::Ne => "IS NOT",
        FilterOp::Gt => ">",
        FilterOp::Gte => ">=",
        FilterOp::Lt => "<",
        FilterOp::Lte => "<=",
        FilterOp::In => {
            let values = filter.value.as_array().map(Vec::as_slice).unwrap_or(&[]);
            let mut alternatives = Vec::new();
            let present: Vec<&Json> = values.iter().filter(|v| !v.is_null()).collect();
            if !present.is_empty() {
                alternatives.push(format!(
                    "{expr} IN ({})",
                    vec!["?"; present.len()].join(", ")
                ));
                args.extend(present.into_iter().map(sql_value));
            }
            if values.iter().any(Json::is_null) {
                alternatives.push(format!("{expr} IS NULL"));
            }
            if alternatives.is_empty() {
                sql.push_str(" AND 0");
            } else {
                sql.push_str(&format!(" AND ({})", alternatives.join(" OR ")));
            }
            return;
        }
    };
    sql.push_str(&format!(" AND {expr} {comparison} ?"));
    args.push(sql_value(&filter.value));
}

/// `AND` every group of the row matches a pattern of the scope.
fn scope_clause(patterns: &crate::scope::GroupPatterns, args: &mut Vec<SqlValue>) -> String {
    let mut allowed: Vec<String> = Vec::new();
    for group in &patterns.exact {
        allowed.push("g.value = ?".into());
        args.push(SqlValue::Text(group.clone()));
    }
    for prefix in &patterns.prefixes {
        allowed.push("substr(g.value, 1, ?) = ?".into());
        args.push(SqlValue::Integer(prefix.chars().count() as i64));
        args.push(SqlValue::Text(prefix.clone()));
    }
    let allowed = if allowed.is_empty() {
        "0".to_owned()
    } else {
        allowed.join(" OR ")
    };
    format!(" AND NOT EXISTS (SELECT 1 FROM json_each(rows.sync_groups) g WHERE NOT ({allowed}))")
}

fn floor_of(conn: &Connection) -> Result<SyncId, StorageError> {
    let floor: i64 = conn
        .prepare_cached("SELECT floor FROM sync_floor")?
        .query_row([], |r| r.get(0))?;
    Ok(SyncId(floor as u64))
}

fn build_list_sql(query: &ListQuery) -> (String, Vec<SqlValue>) {
    let mut sql = format!("SELECT {ROW_COLUMNS} FROM rows WHERE model = ?");
    let mut args = vec![SqlValue::Text(query.model.clone())];
    for filter in &query.filters {
        push_filter(&mut sql, &mut args, filter);
    }
    if let Some(patterns) = &query.visible_to {
        sql.push_str(&scope_clause(patterns, &mut args));
    }
    let key = sort_expr(&query.sort);
    if let Some(after) = &query.after {
        let id = SqlValue::Text(after.id.clone());
        if query.sort == SortKey::Id {
            sql.push_str(if query.descending {
                " AND id < ?"
            } else {
                " AND id > ?"
            });
            args.push(id);
        } else if after.value.is_null() {
            // Nulls sort first ascending and last descending.
            if query.descending {
                sql.push_str(&format!(" AND ({key} IS NULL AND id < ?)"));
            } else {
                sql.push_str(&format!(
                    " AND (({key} IS NULL AND id > ?) OR {key} IS NOT NULL)"
                ));
            }
            args.push(id);
        } else {
            let value = sql_value(&after.value);
            if query.descending {
                sql.push_str(&format!(
                    " AND ({key} < ? OR ({key} = ? AND id < ?) OR {key} IS NULL)"
                ));
            } else {
                sql.push_str(&format!(" AND ({key} > ? OR ({key} = ? AND id > ?))"));
            }
            args.extend([value.clone(), value, id]);
        }
    }
    let direction = if query.descending { "DESC" } else { "ASC" };
    if query.sort == SortKey::Id {
        sql.push_str(&format!(" ORDER BY id {direction}"));
    } else {
        sql.push_str(&format!(" ORDER BY {key} {direction}, id {direction}"));
    }
    sql.push_str(" LIMIT ?");
    args.push(SqlValue::Integer(query.limit as i64));
    (sql, args)
}

fn is_scalar(ty: &FieldType) -> bool {
    match ty {
        FieldType::Optional { of } => is_scalar(of),
        FieldType::Json | FieldType::Object { .. } | FieldType::List { .. } => false,
        _ => true,
    }
}

/// Stores the schema (replacing the previous one) and its fields' indexes,
/// inside the caller's transaction.
fn store_schema(conn: &Connection, schema: &SchemaDescriptor) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO pushed_schema (singleton, hash, descriptor) VALUES (1, ?1, ?2)
         ON CONFLICT (singleton) DO UPDATE SET hash = excluded.hash, descriptor = excluded.descriptor",
        params![schema.hash, serde_json::to_string(schema)?],
    )?;
    for model in &schema.models {
        for field in model
            .fields
            .iter()
            .filter(|f| f.indexed && is_scalar(&f.ty))
        {
            conn.execute_batch(&format!(
                "CREATE INDEX IF NOT EXISTS \"rows_{m}_{f}\" ON rows (model, {expr})",
                m = model.name,
                f = field.name,
                expr = field_expr(&field.name),
            ))?;
        }
    }
    Ok(())
}

/// Rolls back the open transaction when dropped, unless it was committed:
/// on an error and on a panic alike.
pub(super) struct RollbackUnlessDone<'c>(pub(super) &'c Connection);

impl Drop for RollbackUnlessDone<'_> {
    fn drop(&mut self) {
        if !self.0.is_autocommit() {
            let _ = self.0.execute_batch("ROLLBACK");
        }
    }
}

impl Storage for SqliteStorage {
    fn head(&self) -> Result<SyncId, StorageError> {
        self.read(head_of)
    }

    fn schema(&self) -> Result<Option<SchemaDescriptor>, StorageError> {
        self.read(|conn| {
            let text: Option<String> = conn
                .query_row("SELECT descriptor FROM pushed_schema", [], |r| r.get(0))
                .optional()?;
            Ok(text.map(|t| serde_json::from_str(&t)).transpose()?)
        })
    }

    fn put_schema(&self, schema: &SchemaDescriptor) -> Result<(), StorageError> {
        let conn = open_connection(&self.path)?;
        let tx = conn.unchecked_transaction()?;
        store_schema(&tx, schema)?;
        tx.commit()?;
        Ok(())
    }

    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StorageError> {
        self.read(|conn| {
            let mut stmt = conn.prepare("SELECT id, key_hash, label, created_at FROM api_keys")?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?;
            let mut keys = Vec::new();
            for row in rows {
                let (id, key_hash, label, created_at) = row?;
                keys.push(ApiKeyRecord {
                    id,
                    key_hash,
                    label,
                    created_at: Timestamp::parse(&created_at)
                        .map_err(|e| StorageError::Corrupt(e.to_string()))?,
                });
            }
            Ok(keys)
        })
    }

    fn put_api_key(&self, key: &ApiKeyRecord) -> Result<(), StorageError> {
        let conn = open_connection(&self.path)?;
        conn.execute(
            "INSERT INTO api_keys (id, key_hash, label, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING",
            params![key.id, key.key_hash, key.label, key.created_at.to_string()],
        )?;
        Ok(())
    }

    fn row(&self, model: &str, id: &str) -> Result<(Option<StoredRow>, SyncId), StorageError> {
        self.read(|conn| Ok((select_row(conn, model, id)?, head_of(conn)?)))
    }

    fn list(&self, query: &ListQuery) -> Result<RowPage, StorageError> {
        let (sql, args) = build_list_sql(query);
        let max_bytes = query.max_bytes.unwrap_or(usize::MAX);
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut found = stmt.query(params_from_iter(args))?;
            let (mut raws, mut bytes, mut cut_short) = (Vec::new(), 0usize, false);
            while let Some(raw) = found.next()? {
                if bytes >= max_bytes {
                    cut_short = true;
                    break;
                }
                let raw = row_from_sql(raw)?;
                bytes += raw[2].len();
                raws.push(raw);
            }
            drop(found);
            let rows = raws.into_iter().map(decode_row).collect::<Result<_, _>>()?;
            Ok(RowPage {
                rows,
                head: head_of(conn)?,
                cut_short,
            })
        })
    }

    fn deltas_after(
        &self,
        after: SyncId,
        limit: usize,
        max_bytes: usize,
    ) -> Result<LogPage, StorageError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT sync_id, delta FROM sync_log WHERE sync_id > ?1 ORDER BY sync_id, position LIMIT ?2",
            )?;
            let mut found = stmt.query(params![after.0 as i64, limit.max(1) as i64])?;
            let (mut raws, mut bytes, mut cut) = (Vec::<(i64, String)>::new(), 0usize, false);
            while let Some(raw) = found.next()? {
                let (id, text): (i64, String) = (raw.get(0)?, raw.get(1)?);
                // Stop at a commit boundary once the page is full.
                if bytes >= max_bytes && raws.last().is_some_and(|(last, _)| *last != id) {
                    cut = true;
                    break;
                }
                bytes += text.len();
                raws.push((id, text));
            }
            drop(found);
            if !cut && let Some(&(last, _)) = raws.last() {
                // Finish the last commit so a page never splits one.
                let mut rest = conn.prepare_cached(
                    "SELECT sync_id, delta FROM sync_log WHERE sync_id = ?1 ORDER BY position",
                )?;
                let whole: Vec<(i64, String)> = rest
                    .query_map(params![last], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?;
                raws.retain(|(id, _)| *id != last);
                raws.extend(whole);
            }
            let head = head_of(conn)?;
            let floor = floor_of(conn)?;
            let deltas = raws
                .iter()
                .map(|(_, text)| serde_json::from_str::<Delta>(text))
                .collect::<Result<Vec<_>, _>>()?;
            let last = deltas.last().map(|d| d.sync_id).unwrap_or(after);
            Ok(LogPage {
                deltas,
                head,
                has_more: head > last,
                floor,
            })
        })
    }

    fn server_secret(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        let conn = self.write_connection();
        let fresh: [u8; 32] = rand::random();
        conn.execute(
            "INSERT INTO server_secrets (name, secret) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![name, fresh.to_vec()],
        )?;
        Ok(conn.query_row(
            "SELECT secret FROM server_secrets WHERE name = ?1",
            params![name],
            |r| r.get(0),
        )?)
    }

    fn purge_idempotency(&self, before: Timestamp) -> Result<usize, StorageError> {
        let conn = self.write_connection();
        Ok(conn.execute(
            "DELETE FROM idempotency_records WHERE created_at_ms < ?1",
            params![before.as_millis()],
        )?)
    }

    fn write_group(
        &self,
        units: usize,
        run: &mut dyn FnMut(usize, &mut dyn WriteTx) -> UnitResult,
    ) -> Result<(), StorageError> {
        let conn = self.write_connection();
        conn.execute_batch("BEGIN IMMEDIATE")?;
        // Rolls the group back if `run` panics, so the database is not left
        // locked by a transaction nobody will finish.
        let guard = RollbackUnlessDone(&conn);
        let outcome = (|| {
            let start = head_of(&conn)?;
            let mut tx = SqliteTx {
                conn: &conn,
                head: start,
            };
            for unit in 0..units {
                conn.execute_batch("SAVEPOINT unit")?;
                let before = tx.head;
                match run(unit, &mut tx) {
                    Ok(Ok(())) => conn.execute_batch("RELEASE unit")?,
                    Ok(Err(_rolled_back)) => {
                        tx.head = before;
                        conn.execute_batch("ROLLBACK TO unit; RELEASE unit")?
                    }
                    Err(err) => return Err(err),
                }
            }
            if tx.head != start {
                conn.prepare_cached("UPDATE sync_head SET head = ?1")?
                    .execute(params![tx.head.0 as i64])?;
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO sync_marks (head, at_ms) VALUES (?1, ?2)",
                )?
                .execute(params![tx.head.0 as i64, Timestamp::now().as_millis()])?;
            }
            conn.execute_batch("COMMIT")?;
            Ok(())
        })();
        // On an error the guard rolls back (best effort): nothing of the
        // group applies.
        drop(guard);
        outcome
    }

    fn log_floor(&self) -> Result<SyncId, StorageError> {
        self.read(floor_of)
    }

    fn compact_log(&self, through: SyncId) -> Result<usize, StorageError> {
        let conn = self.write_connection();
        let tx = conn.unchecked_transaction()?;
        let through = through.min(head_of(&tx)?);
        if through <= floor_of(&tx)? {
            return Ok(0);
        }
        let at = through.0 as i64;
        let removed = tx.execute("DELETE FROM sync_log WHERE sync_id <= ?1", params![at])?;
        tx.execute("DELETE FROM sync_marks WHERE head < ?1", params![at])?;
        tx.execute("UPDATE sync_floor SET floor = ?1", params![at])?;
        tx.commit()?;
        Ok(removed)
    }

    fn head_before(&self, at: Timestamp) -> Result<SyncId, StorageError> {
        self.read(|conn| {
            let head: Option<i64> = conn
                .prepare_cached("SELECT MAX(head) FROM sync_marks WHERE at_ms < ?1")?
                .query_row(params![at.as_millis()], |r| r.get(0))?;
            Ok(SyncId(head.unwrap_or(0).max(0) as u64))
        })
    }

    fn snapshot(
        &self,
        visible_to: Option<&crate::scope::GroupPatterns>,
        page_rows: usize,
        sink: &mut dyn FnMut(SyncId, Vec<SnapshotRow>) -> bool,
    ) -> Result<SyncId, StorageError> {
        // The wire row is built from the stored text: `data` is not parsed
        // and no field stamps are read.
        let mut sql = "SELECT model, id, data, stamp, created_at, updated_at, sync_groups \
                       FROM rows WHERE 1"
            .to_owned();
        let mut args = Vec::new();
        if let Some(patterns) = visible_to {
            sql.push_str(&scope_clause(patterns, &mut args));
        }
        sql.push_str(" ORDER BY model, id");
        let page_rows = page_rows.max(1);
        self.read(|conn| {
            let head = head_of(conn)?;
            let mut stmt = conn.prepare(&sql)?;
            let mut found = stmt.query(params_from_iter(args))?;
            let mut page = Vec::with_capacity(page_rows);
            while let Some(raw) = found.next()? {
                page.push(snapshot_row(raw)?);
                if page.len() >= page_rows
                    && !sink(
                        head,
                        std::mem::replace(&mut page, Vec::with_capacity(page_rows)),
                    )
                {
                    return Ok(head);
                }
            }
            if !page.is_empty() {
                sink(head, page);
            }
            Ok(head)
        })
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

struct SqliteTx<'c> {
    conn: &'c Connection,
    head: SyncId,
}

impl WriteTx for SqliteTx<'_> {
    fn head(&self) -> SyncId {
        self.head
    }

    fn advance_head(&mut self, sync_id: SyncId) {
        self.head = self.head.max(sync_id);
    }

    fn row(&mut self, model: &str, id: &str) -> Result<Option<StoredRow>, StorageError> {
        select_row(self.conn, model, id)
    }

    fn put_row(&mut self, row: &StoredRow) -> Result<(), StorageError> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO rows (model, id, data, field_stamps, stamp, created_at, updated_at, sync_groups)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (model, id) DO UPDATE SET data = excluded.data,
               field_stamps = excluded.field_stamps, stamp = excluded.stamp,
               updated_at = excluded.updated_at, sync_groups = excluded.sync_groups",
        )?;
        stmt.execute(params![
            row.model,
            row.id,
            serde_json::to_string(&row.data)?,
            serde_json::to_string(&row.field_stamps)?,
            row.stamp.0 as i64,
            row.created_at.to_string(),
            row.updated_at.to_string(),
            serde_json::to_string(&row.sync_groups)?,
        ])?;
        Ok(())
    }

    fn delete_row(&mut self, model: &str, id: &str) -> Result<(), StorageError> {
        let mut stmt = self
            .conn
            .prepare_cached("DELETE FROM rows WHERE model = ?1 AND id = ?2")?;
        stmt.execute(params![model, id])?;
        Ok(())
    }

    fn append_delta(&mut self, position: usize, delta: &Delta) -> Result<(), StorageError> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO sync_log (sync_id, position, delta) VALUES (?1, ?2, ?3)",
        )?;
        stmt.execute(params![
            delta.sync_id.0 as i64,
            position as i64,
            serde_json::to_string(delta)?
        ])?;
        Ok(())
    }

    fn idempotency(
        &mut self,
        principal: &str,
        client_tx_id: &str,
    ) -> Result<Option<IdempotencyRecord>, StorageError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT body_hash, receipt, created_at_ms FROM idempotency_records
             WHERE principal = ?1 AND client_tx_id = ?2",
        )?;
        let raw: Option<(String, String, i64)> = stmt
            .query_row(params![principal, client_tx_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        raw.map(|(body_hash, receipt, created_at_ms)| {
            Ok(IdempotencyRecord {
                principal: principal.to_owned(),
                client_tx_id: client_tx_id.to_owned(),
                body_hash,
                receipt: serde_json::from_str::<CommitReceipt>(&receipt)?,
                created_at: Timestamp::from_millis(created_at_ms)
                    .ok_or_else(|| StorageError::Corrupt("idempotency time".into()))?,
            })
        })
        .transpose()
    }

    fn put_idempotency(&mut self, record: &IdempotencyRecord) -> Result<(), StorageError> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO idempotency_records (principal, client_tx_id, body_hash, receipt, created_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        stmt.execute(params![
            record.principal,
            record.client_tx_id,
            record.body_hash,
            serde_json::to_string(&record.receipt)?,
            record.created_at.as_millis()
        ])?;
        Ok(())
    }

    fn put_source_commit(&mut self, client_tx_id: &str) -> Result<(), StorageError> {
        self.conn
            .prepare_cached(
                "INSERT INTO source_commits (client_tx_id, at_ms) VALUES (?1, ?2)
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![client_tx_id, Timestamp::now().as_millis()])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{ListPosition, UnitRolledBack};

    fn row(id: &str, title: Json, stamp: u64) -> StoredRow {
        let mut data = serde_json::Map::new();
        data.insert("title".into(), title);
        StoredRow {
            model: "tasks".into(),
            id: id.into(),
            data,
            field_stamps: BTreeMap::new(),
            stamp: SyncId(stamp),
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
            sync_groups: vec!["default".into()],
        }
    }

    #[test]
    fn a_rolled_back_unit_leaves_the_others_applied() {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(dir.path()).unwrap();
        storage
            .write_group(3, &mut |unit, tx| {
                tx.put_row(&row(&format!("t{unit}"), Json::from(unit), 1))?;
                Ok(if unit == 1 {
                    Err(UnitRolledBack)
                } else {
                    Ok(())
                })
            })
            .unwrap();
        assert!(storage.row("tasks", "t0").unwrap().0.is_some());
        assert!(storage.row("tasks", "t1").unwrap().0.is_none());
        assert!(storage.row("tasks", "t2").unwrap().0.is_some());
    }

    #[test]
    fn keyset_pages_cover_every_row_once_with_nulls() {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(dir.path()).unwrap();
        let titles = [
            Json::Null,
            "b".into(),
            "a".into(),
            Json::Null,
            "b".into(),
            "c".into(),
        ];
        storage
            .write_group(1, &mut |_, tx| {
                for (i, title) in titles.iter().enumerate() {
                    tx.put_row(&row(&format!("t{i}"), title.clone(), 1))?;
                }
                Ok(Ok(()))
            })
            .unwrap();
        for descending in [false, true] {
            let mut seen = Vec::new();
            let mut after = None;
            loop {
                let query = ListQuery {
                    model: "tasks".into(),
                    filters: vec![],
                    sort: SortKey::Field("title".into()),
                    descending,
                    limit: 2,
                    after: after.clone(),
                    visible_to: None,
                    max_bytes: None,
                };
                let rows = storage.list(&query).unwrap().rows;
                let Some(last) = rows.last() else { break };
                after = Some(ListPosition {
                    value: last.data["title"].clone(),
                    id: last.id.clone(),
                });
                seen.extend(rows.iter().map(|r| r.id.clone()));
            }
            let mut expected = vec!["t0", "t3", "t2", "t1", "t4", "t5"];
            if descending {
                expected.reverse();
            }
            assert_eq!(seen, expected, "descending: {descending}");
        }
    }
}
