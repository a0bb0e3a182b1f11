//! The PostgreSQL backend: several `ablo-server` nodes share one database.
//!
//! Every group transaction first locks the one row of `sync_head`, so
//! groups of all nodes run one after another and sync ids become visible
//! in commit order: a reader that has seen `n` has seen every commit up to
//! `n`. A committed group announces its head with `NOTIFY ablo_commits`,
//! which [`PostgresStorage::commit_feed`] listens to.
//!
//! Rows keep their fields as `jsonb`; filters and ordering cast a field to
//! its schema type, compare text byte-wise (`COLLATE "C"`) and put `NULL`
//! first ascending, so lists page exactly as on the embedded store.

mod authz;
mod coordination;
mod feed;
mod migrations;
mod rows;
mod sources;
mod transfer;

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

use ablo_runtime::wire::{CommitReceipt, Delta};
use ablo_runtime::{SchemaDescriptor, SyncId, Timestamp};
use postgres::{IsolationLevel, NoTls, Statement, Transaction};
use r2d2_postgres::PostgresConnectionManager;

use super::{
    ApiKeyRecord, CommitFeed, IdempotencyRecord, ListQuery, LogPage, RowPage, Storage,
    StorageError, StoredRow, UnitResult, WriteTx,
};
use rows::FieldKind;

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;
type PooledClient = r2d2::PooledConnection<PostgresConnectionManager<NoTls>>;

impl From<postgres::Error> for StorageError {
    fn from(err: postgres::Error) -> StorageError {
        StorageError::database("postgres", err)
    }
}

impl From<r2d2::Error> for StorageError {
    fn from(err: r2d2::Error) -> StorageError {
        StorageError::database("postgres", err)
    }
}

/// The channel committed groups are announced on.
const COMMITS_CHANNEL: &str = "ablo_commits";

/// Connections a node keeps open at most.
const MAX_CONNECTIONS: u32 = 16;

/// Storage on PostgreSQL, shared by every node of a deployment.
///
/// ```no_run
/// use ablo_server::storage::{PostgresStorage, Storage};
/// let storage = PostgresStorage::open("postgres://ablo@localhost/ablo").unwrap();
/// println!("head {}", storage.head().unwrap());
/// ```
pub struct PostgresStorage {
    config: postgres::Config,
    /// Always `Some` until dropped (see the `Drop` impl).
    pool: Option<Pool>,
    /// How each model's fields compare, from the pushed schema.
    kinds: RwLock<HashMap<String, HashMap<String, FieldKind>>>,
    /// The commit writer's connection, opened on the first group.
    writer: Mutex<Option<WriterConnection>>,
}

/// The commit writer's own connection and the statements prepared on it:
/// each statement of a commit then costs one round trip to the database
/// instead of two (a prepare, then the execute).
struct WriterConnection {
    client: postgres::Client,
    statements: HashMap<String, Statement>,
}

impl PostgresStorage {
    /// Connects to `url`, applies the migrations this server needs (one
    /// node at a time) and opens a connection pool.
    ///
    /// ```no_run
    /// let storage = ablo_server::storage::PostgresStorage::open("postgres://ablo@localhost/ablo").unwrap();
    /// ```
    pub fn open(url: &str) -> Result<Self, StorageError> {
        let config: postgres::Config = url
            .parse()
            .map_err(|e| StorageError::Location(format!("postgres URL: {e}")))?;
        let manager = PostgresConnectionManager::new(config.clone(), NoTls);
        let pool = r2d2::Pool::builder()
            .max_size(MAX_CONNECTIONS)
            .min_idle(Some(1))
            .connection_timeout(std::time::Duration::from_secs(10))
            .build(manager)?;
        migrations::apply(&mut *pool.get()?)?;
        let storage = PostgresStorage {
            config,
            pool: Some(pool),
            kinds: RwLock::new(HashMap::new()),
            writer: Mutex::new(None),
        };
        if let Some(schema) = storage.schema()? {
            storage.remember_kinds(&schema);
        }
        Ok(storage)
    }

    /// Applies the migrations without opening a pool (`ablo-server
    /// migrate`); returns the versions applied now.
    ///
    /// ```no_run
    /// let applied = ablo_server::storage::PostgresStorage::migrate("postgres://ablo@localhost/ablo").unwrap();
    /// println!("applied {applied:?}");
    /// ```
    pub fn migrate(url: &str) -> Result<Vec<u32>, StorageError> {
        let config: postgres::Config = url
            .parse()
            .map_err(|e| StorageError::Location(format!("postgres URL: {e}")))?;
        let mut client = config.connect(NoTls)?;
        migrations::apply(&mut client)
    }

    fn client(&self) -> Result<PooledClient, StorageError> {
        Ok(self.pool.as_ref().expect("pool until dropped").get()?)
    }

    /// Runs `read` inside one read-only snapshot.
    fn read<T>(
        &self,
        read: impl FnOnce(&mut Transaction<'_>) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let mut client = self.client()?;
        let mut tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let value = read(&mut tx)?;
        tx.commit()?;
        Ok(value)
    }

    fn remember_kinds(&self, schema: &SchemaDescriptor) {
        let kinds = schema
            .models
            .iter()
            .map(|model| {
                let fields = model
                    .fields
                    .iter()
                    .map(|f| (f.name.clone(), FieldKind::of(&f.ty)))
                    .collect();
                (model.name.clone(), fields)
            })
            .collect();
        *self.kinds.write().expect("field kinds") = kinds;
    }

    fn kind(&self, model: &str, field: &str) -> FieldKind {
        self.kinds
            .read()
            .expect("field kinds")
            .get(model)
            .and_then(|fields| fields.get(field))
            .copied()
            .unwrap_or(FieldKind::Text)
    }
}

impl Drop for PostgresStorage {
    /// Closing a connection blocks on the driver's runtime, which may not
    /// happen on a thread that drives async tasks (the last handle of a
    /// server is often dropped on one), so the pool is closed on a thread
    /// of its own.
    fn drop(&mut self) {
        let writer = self
            .writer
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(pool) = self.pool.take() {
            let _ = std::thread::spawn(move || {
                drop(writer);
                drop(pool);
            })
            .join();
        }
    }
}

fn floor_of(tx: &mut Transaction<'_>) -> Result<SyncId, StorageError> {
    let floor: i64 = tx.query_one("SELECT floor FROM sync_floor", &[])?.get(0);
    Ok(SyncId(floor as u64))
}

fn head_of(tx: &mut Transaction<'_>) -> Result<SyncId, StorageError> {
    let head: i64 = tx.query_one("SELECT head FROM sync_head", &[])?.get(0);
    Ok(SyncId(head as u64))
}

fn timestamp(text: &str) -> Result<Timestamp, StorageError> {
    Timestamp::parse(text).map_err(|e| StorageError::Corrupt(format!("timestamp {text}: {e}")))
}

/// Stores the schema (replacing the previous one) and its fields' indexes,
/// inside the caller's transaction.
fn store_schema(tx: &mut Transaction<'_>, schema: &SchemaDescriptor) -> Result<(), StorageError> {
    tx.execute(
        "INSERT INTO pushed_schema (singleton, hash, descriptor) VALUES (1, $1, $2)
         ON CONFLICT (singleton) DO UPDATE SET hash = excluded.hash, descriptor = excluded.descriptor",
        &[&schema.hash, &serde_json::to_string(schema)?],
    )?;
    for model in &schema.models {
        for field in model.fields.iter().filter(|f| f.indexed) {
            let kind = FieldKind::of(&field.ty);
            if kind == FieldKind::Unordered {
                continue;
            }
            tx.batch_execute(&format!(
                "CREATE INDEX IF NOT EXISTS \"rows_{m}_{f}\" ON rows (model, ({expr}))",
                m = model.name,
                f = field.name,
                expr = rows::field_expr(&field.name, kind),
            ))?;
        }
    }
    Ok(())
}

impl Storage for PostgresStorage {
    fn head(&self) -> Result<SyncId, StorageError> {
        self.read(head_of)
    }

    fn schema(&self) -> Result<Option<SchemaDescriptor>, StorageError> {
        let mut client = self.client()?;
        let row = client.query_opt("SELECT descriptor FROM pushed_schema", &[])?;
        Ok(row
            .map(|r| serde_json::from_str(r.get::<_, &str>(0)))
            .transpose()?)
    }

    fn put_schema(&self, schema: &SchemaDescriptor) -> Result<(), StorageError> {
        let mut client = self.client()?;
        let mut tx = client.transaction()?;
        store_schema(&mut tx, schema)?;
        tx.commit()?;
        self.remember_kinds(schema);
        Ok(())
    }

    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StorageError> {
        let mut client = self.client()?;
        client
            .query("SELECT id, key_hash, label, created_at FROM api_keys", &[])?
            .iter()
            .map(|r| {
                Ok(ApiKeyRecord {
                    id: r.get(0),
                    key_hash: r.get(1),
                    label: r.get(2),
                    created_at: timestamp(r.get(3))?,
                })
            })
            .collect()
    }

    fn put_api_key(&self, key: &ApiKeyRecord) -> Result<(), StorageError> {
        let mut client = self.client()?;
        client.execute(
            "INSERT INTO api_keys (id, key_hash, label, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            &[
                &key.id,
                &key.key_hash,
                &key.label,
                &key.created_at.to_string(),
            ],
        )?;
        Ok(())
    }

    fn row(&self, model: &str, id: &str) -> Result<(Option<StoredRow>, SyncId), StorageError> {
        self.read(|tx| {
            Ok((
                rows::select_row(tx, rows::SELECT_ROW.as_str(), model, id)?,
                head_of(tx)?,
            ))
        })
    }

    fn list(&self, query: &ListQuery) -> Result<RowPage, StorageError> {
        let (sql, args) = rows::build_list_sql(query, |field| self.kind(&query.model, field));
        let max_bytes = query.max_bytes.unwrap_or(usize::MAX);
        self.read(|tx| {
            let params: Vec<&(dyn postgres::types::ToSql + Sync)> = args
                .0
                .iter()
                .map(|a| &**a as &(dyn postgres::types::ToSql + Sync))
                .collect();
            let found = tx.query(sql.as_str(), &params)?;
            let (mut rows, mut bytes, mut cut_short) = (Vec::new(), 0usize, false);
            for raw in &found {
                if bytes >= max_bytes {
                    cut_short = true;
                    break;
                }
                let (row, size) = rows::decode_row(raw)?;
                bytes += size;
                rows.push(row);
            }
            Ok(RowPage {
                rows,
                head: head_of(tx)?,
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
        self.read(|tx| {
            let found = tx.query(
                "SELECT sync_id, delta FROM sync_log WHERE sync_id > $1 ORDER BY sync_id, position LIMIT $2",
                &[&(after.0 as i64), &(limit.max(1) as i64)],
            )?;
            let (mut raws, mut bytes, mut cut) = (Vec::<(i64, String)>::new(), 0usize, false);
            for raw in &found {
                let (id, text): (i64, String) = (raw.get(0), raw.get(1));
                // Stop at a commit boundary once the page is full.
                if bytes >= max_bytes && raws.last().is_some_and(|(last, _)| *last != id) {
                    cut = true;
                    break;
                }
                bytes += text.len();
                raws.push((id, text));
            }
            if !cut && let Some(&(last, _)) = raws.last() {
                // Finish the last commit so a page never splits one.
                let whole: Vec<(i64, String)> = tx
                    .query(
                        "SELECT sync_id, delta FROM sync_log WHERE sync_id = $1 ORDER BY position",
                        &[&last],
                    )?
                    .iter()
                    .map(|r| (r.get(0), r.get(1)))
                    .collect();
                raws.retain(|(id, _)| *id != last);
                raws.extend(whole);
            }
            let head = head_of(tx)?;
            let floor = floor_of(tx)?;
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
        let mut client = self.client()?;
        let fresh: [u8; 32] = rand::random();
        client.execute(
            "INSERT INTO server_secrets (name, secret) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&name, &fresh.to_vec()],
        )?;
        Ok(client
            .query_one(
                "SELECT secret FROM server_secrets WHERE name = $1",
                &[&name],
            )?
            .get(0))
    }

    fn purge_idempotency(&self, before: Timestamp) -> Result<usize, StorageError> {
        let mut client = self.client()?;
        Ok(client.execute(
            "DELETE FROM idempotency_records WHERE created_at_ms < $1",
            &[&before.as_millis()],
        )? as usize)
    }

    fn write_group(
        &self,
        units: usize,
        run: &mut dyn FnMut(usize, &mut dyn WriteTx) -> UnitResult,
    ) -> Result<(), StorageError> {
        let mut slot = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(WriterConnection {
                client: self.config.connect(NoTls)?,
                statements: HashMap::new(),
            });
        }
        let connection = slot.as_mut().expect("opened above");
        let written = write_group_on(connection, units, run);
        if written.is_err() {
            // Whatever broke, the next group starts on a new connection.
            *slot = None;
        }
        written
    }

    fn log_floor(&self) -> Result<SyncId, StorageError> {
        self.read(floor_of)
    }

    fn compact_log(&self, through: SyncId) -> Result<usize, StorageError> {
        let mut client = self.client()?;
        let mut tx = client.transaction()?;
        // Under the writers' lock: no group commits while the floor moves.
        let head: i64 = tx
            .query_one("SELECT head FROM sync_head FOR UPDATE", &[])?
            .get(0);
        let through = through.min(SyncId(head as u64));
        if through <= floor_of(&mut tx)? {
            return Ok(0);
        }
        let at = through.0 as i64;
        let removed = tx.execute("DELETE FROM sync_log WHERE sync_id <= $1", &[&at])?;
        tx.execute("DELETE FROM sync_marks WHERE head < $1", &[&at])?;
        tx.execute("UPDATE sync_floor SET floor = $1", &[&at])?;
        tx.commit()?;
        Ok(removed as usize)
    }

    fn head_before(&self, at: Timestamp) -> Result<SyncId, StorageError> {
        let mut client = self.client()?;
        let head: Option<i64> = client
            .query_one(
                "SELECT MAX(head) FROM sync_marks WHERE at_ms < $1",
                &[&at.as_millis()],
            )?
            .get(0);
        Ok(SyncId(head.unwrap_or(0).max(0) as u64))
    }

    fn snapshot(
        &self,
        visible_to: Option<&crate::scope::GroupPatterns>,
        page_rows: usize,
        sink: &mut dyn FnMut(SyncId, Vec<crate::storage::SnapshotRow>) -> bool,
    ) -> Result<SyncId, StorageError> {
        let (sql, args) = rows::snapshot_sql(visible_to);
        self.read(|tx| {
            let head = head_of(tx)?;
            let params: Vec<&(dyn postgres::types::ToSql + Sync)> = args
                .0
                .iter()
                .map(|a| &**a as &(dyn postgres::types::ToSql + Sync))
                .collect();
            let portal = tx.bind(sql.as_str(), &params)?;
            loop {
                let found = tx.query_portal(&portal, page_rows.max(1) as i32)?;
                if found.is_empty() {
                    return Ok(head);
                }
                let last_page = found.len() < page_rows.max(1);
                let page = found
                    .iter()
                    .map(|r| rows::decode_row(r).map(|(row, _)| (&row).into()))
                    .collect::<Result<Vec<_>, _>>()?;
                if !sink(head, page) || last_page {
                    return Ok(head);
                }
            }
        })
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn commit_feed(&self) -> Result<Option<Box<dyn CommitFeed>>, StorageError> {
        Ok(Some(Box::new(feed::PgCommitFeed::new(self.config.clone()))))
    }

    fn coordination(&self) -> Option<std::sync::Arc<dyn super::CoordinationStorage>> {
        let pool = self.pool.as_ref().expect("pool until dropped").clone();
        Some(std::sync::Arc::new(coordination::PgCoordination::new(
            pool,
            self.config.clone(),
        )))
    }
}

/// One group commit on the writer's connection: every unit in its own
/// savepoint, under the lock of `sync_head` (the next group of any node
/// reads the head this one leaves).
fn write_group_on(
    connection: &mut WriterConnection,
    units: usize,
    run: &mut dyn FnMut(usize, &mut dyn WriteTx) -> UnitResult,
) -> Result<(), StorageError> {
    let WriterConnection { client, statements } = connection;
    let mut txn = client.transaction()?;
    let start: i64 = txn
        .query_one("SELECT head FROM sync_head FOR UPDATE", &[])?
        .get(0);
    let start = SyncId(start as u64);
    let head = {
        let mut tx = PgTx {
            txn: &mut txn,
            head: start,
            statements,
        };
        for unit in 0..units {
            tx.txn.batch_execute("SAVEPOINT unit")?;
            let before = tx.head;
            match run(unit, &mut tx)? {
                Ok(()) => tx.txn.batch_execute("RELEASE SAVEPOINT unit")?,
                Err(_rolled_back) => {
                    tx.head = before;
                    tx.txn
                        .batch_execute("ROLLBACK TO SAVEPOINT unit; RELEASE SAVEPOINT unit")?;
                }
            }
        }
        tx.head
    };
    if head != start {
        let head = head.0 as i64;
        txn.execute("UPDATE sync_head SET head = $1", &[&head])?;
        txn.execute(
            "INSERT INTO sync_marks (head, at_ms) VALUES ($1, $2) ON CONFLICT (head) DO UPDATE SET at_ms = excluded.at_ms",
            &[&head, &Timestamp::now().as_millis()],
        )?;
        txn.execute(
            "SELECT pg_notify($1, $2)",
            &[&COMMITS_CHANNEL, &head.to_string()],
        )?;
    }
    txn.commit()?;
    Ok(())
}

/// A group transaction on PostgreSQL.
struct PgTx<'t, 'c> {
    txn: &'t mut Transaction<'c>,
    head: SyncId,
    /// Prepared on this connection, by their SQL.
    statements: &'t mut HashMap<String, Statement>,
}

impl PgTx<'_, '_> {
    /// `sql` prepared on the writer's connection (once per connection).
    fn statement(&mut self, sql: &str) -> Result<Statement, StorageError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.txn.prepare(sql)?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

impl WriteTx for PgTx<'_, '_> {
    fn head(&self) -> SyncId {
        self.head
    }

    fn advance_head(&mut self, sync_id: SyncId) {
        self.head = self.head.max(sync_id);
    }

    fn row(&mut self, model: &str, id: &str) -> Result<Option<StoredRow>, StorageError> {
        let statement = self.statement(&rows::SELECT_ROW)?;
        rows::select_row(self.txn, &statement, model, id)
    }

    fn put_row(&mut self, row: &StoredRow) -> Result<(), StorageError> {
        let statement = self.statement(rows::UPSERT_ROW)?;
        rows::upsert_row(self.txn, &statement, row)
    }

    fn delete_row(&mut self, model: &str, id: &str) -> Result<(), StorageError> {
        let statement = self.statement("DELETE FROM rows WHERE model = $1 AND id = $2")?;
        self.txn.execute(&statement, &[&model, &id])?;
        Ok(())
    }

    fn append_delta(&mut self, position: usize, delta: &Delta) -> Result<(), StorageError> {
        let statement =
            self.statement("INSERT INTO sync_log (sync_id, position, delta) VALUES ($1, $2, $3)")?;
        self.txn.execute(
            &statement,
            &[
                &(delta.sync_id.0 as i64),
                &(position as i32),
                &serde_json::to_string(delta)?,
            ],
        )?;
        Ok(())
    }

    fn idempotency(
        &mut self,
        principal: &str,
        client_tx_id: &str,
    ) -> Result<Option<IdempotencyRecord>, StorageError> {
        let statement = self.statement(
            "SELECT body_hash, receipt, created_at_ms FROM idempotency_records
             WHERE principal = $1 AND client_tx_id = $2",
        )?;
        let found = self
            .txn
            .query_opt(&statement, &[&principal, &client_tx_id])?;
        found
            .map(|r| {
                Ok(IdempotencyRecord {
                    principal: principal.to_owned(),
                    client_tx_id: client_tx_id.to_owned(),
                    body_hash: r.get(0),
                    receipt: serde_json::from_str::<CommitReceipt>(r.get::<_, &str>(1))?,
                    created_at: Timestamp::from_millis(r.get(2))
                        .ok_or_else(|| StorageError::Corrupt("idempotency time".into()))?,
                })
            })
            .transpose()
    }

    fn put_idempotency(&mut self, record: &IdempotencyRecord) -> Result<(), StorageError> {
        let statement = self.statement(
            "INSERT INTO idempotency_records (principal, client_tx_id, body_hash, receipt, created_at_ms)
             VALUES ($1, $2, $3, $4, $5)",
        )?;
        self.txn.execute(
            &statement,
            &[
                &record.principal,
                &record.client_tx_id,
                &record.body_hash,
                &serde_json::to_string(&record.receipt)?,
                &record.created_at.as_millis(),
            ],
        )?;
        Ok(())
    }

    fn put_source_commit(&mut self, client_tx_id: &str) -> Result<(), StorageError> {
        let statement = self.statement(
            "INSERT INTO source_commits (client_tx_id, at_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )?;
        self.txn
            .execute(&statement, &[&client_tx_id, &Timestamp::now().as_millis()])?;
        Ok(())
    }
}
