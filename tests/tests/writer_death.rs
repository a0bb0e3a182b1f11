//! A commit writer that dies must not leave a node that looks healthy and
//! refuses every write: `/v1/health` turns 503 `writer_stopped`, writes are
//! refused with the same code at once, `RunningServer::writer_died`
//! resolves (the `serve` binary exits non-zero on it), and the store holds
//! nothing of the group the writer died in.
//!
//! The panic is injected by a store that wraps the real SQLite store and
//! panics inside `write_group` once armed, the way a bug in storage code
//! would.

mod server_common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ablo_runtime::wire::{Delta, JsonObject};
use ablo_runtime::{Json, SchemaDescriptor, SyncId, Timestamp};
use ablo_server::audit::AuditEntry;
use ablo_server::capability::GroupPatterns;
use ablo_server::storage::{
    AgentRunRecord, ApiKeyRecord, AuditFilter, AuthzStorage, CapabilityRecord, ImportError,
    ImportTx, ListQuery, LogPage, RowPage, SnapshotRow, SourceRecord, SourceStorage, SqliteStorage,
    Storage, StorageError, StoreContents, StoreRecord, StoredRow, TransferStorage, UnitResult,
    WriteTx,
};
use serde_json::json;
use server_common::{API_KEY, Http, assert_error, schema, task};

/// The real SQLite store, with a `write_group` that panics once armed.
struct PanicsWhenArmed {
    inner: SqliteStorage,
    armed: AtomicBool,
}

impl Storage for PanicsWhenArmed {
    fn head(&self) -> Result<SyncId, StorageError> {
        self.inner.head()
    }
    fn schema(&self) -> Result<Option<SchemaDescriptor>, StorageError> {
        self.inner.schema()
    }
    fn put_schema(&self, schema: &SchemaDescriptor) -> Result<(), StorageError> {
        self.inner.put_schema(schema)
    }
    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StorageError> {
        self.inner.api_keys()
    }
    fn put_api_key(&self, key: &ApiKeyRecord) -> Result<(), StorageError> {
        self.inner.put_api_key(key)
    }
    fn row(&self, model: &str, id: &str) -> Result<(Option<StoredRow>, SyncId), StorageError> {
        Storage::row(&self.inner, model, id)
    }
    fn list(&self, query: &ListQuery) -> Result<RowPage, StorageError> {
        self.inner.list(query)
    }
    fn deltas_after(
        &self,
        after: SyncId,
        limit: usize,
        max_bytes: usize,
    ) -> Result<LogPage, StorageError> {
        self.inner.deltas_after(after, limit, max_bytes)
    }
    fn server_secret(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        self.inner.server_secret(name)
    }
    fn purge_idempotency(&self, before: Timestamp) -> Result<usize, StorageError> {
        self.inner.purge_idempotency(before)
    }
    fn write_group(
        &self,
        units: usize,
        run: &mut dyn FnMut(usize, &mut dyn WriteTx) -> UnitResult,
    ) -> Result<(), StorageError> {
        let armed = self.armed.load(Ordering::SeqCst);
        self.inner.write_group(units, &mut |unit, tx| {
            let applied = run(unit, tx);
            // After the unit wrote its rows and log entry, before the
            // transaction commits: nothing of it may survive.
            assert!(!armed, "injected writer fault");
            applied
        })
    }
    fn log_floor(&self) -> Result<SyncId, StorageError> {
        self.inner.log_floor()
    }
    fn compact_log(&self, through: SyncId) -> Result<usize, StorageError> {
        self.inner.compact_log(through)
    }
    fn head_before(&self, at: Timestamp) -> Result<SyncId, StorageError> {
        self.inner.head_before(at)
    }
    fn snapshot(
        &self,
        visible_to: Option<&GroupPatterns>,
        page_rows: usize,
        sink: &mut dyn FnMut(SyncId, Vec<SnapshotRow>) -> bool,
    ) -> Result<SyncId, StorageError> {
        self.inner.snapshot(visible_to, page_rows, sink)
    }
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
}

impl AuthzStorage for PanicsWhenArmed {
    fn capabilities(&self) -> Result<Vec<CapabilityRecord>, StorageError> {
        self.inner.capabilities()
    }
    fn put_capability(&self, record: &CapabilityRecord) -> Result<(), StorageError> {
        self.inner.put_capability(record)
    }
    fn revoke_capability(&self, id: &str, at: Timestamp) -> Result<bool, StorageError> {
        self.inner.revoke_capability(id, at)
    }
    fn delete_api_key(&self, id: &str) -> Result<bool, StorageError> {
        self.inner.delete_api_key(id)
    }
    fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StorageError> {
        self.inner.list_api_keys()
    }
    fn put_agent_run(&self, run: &AgentRunRecord) -> Result<(), StorageError> {
        self.inner.put_agent_run(run)
    }
    fn agent_run(&self, id: &str) -> Result<Option<AgentRunRecord>, StorageError> {
        self.inner.agent_run(id)
    }
    fn close_agent_run(&self, run: &AgentRunRecord) -> Result<(), StorageError> {
        self.inner.close_agent_run(run)
    }
    fn audit_page(
        &self,
        filter: &AuditFilter,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, AuditEntry)>, StorageError> {
        self.inner.audit_page(filter, after, limit)
    }
    fn audit_chain(&self, kind: &str, id: &str) -> Result<Vec<AuditEntry>, StorageError> {
        self.inner.audit_chain(kind, id)
    }
}

impl SourceStorage for PanicsWhenArmed {
    fn sources(&self) -> Result<Vec<SourceRecord>, StorageError> {
        self.inner.sources()
    }
    fn put_source(&self, record: &SourceRecord) -> Result<(), StorageError> {
        self.inner.put_source(record)
    }
    fn put_events_cursor(&self, source: &str, cursor: &Json) -> Result<(), StorageError> {
        self.inner.put_events_cursor(source, cursor)
    }
    fn event_applied(&self, source: &str, event_id: &str) -> Result<bool, StorageError> {
        self.inner.event_applied(source, event_id)
    }
    fn mark_event_applied(&self, source: &str, event_id: &str) -> Result<(), StorageError> {
        self.inner.mark_event_applied(source, event_id)
    }
    fn is_source_commit(&self, client_tx_id: &str) -> Result<bool, StorageError> {
        self.inner.is_source_commit(client_tx_id)
    }
    fn commit_remembered(&self, principal: &str, client_tx_id: &str) -> Result<bool, StorageError> {
        self.inner.commit_remembered(principal, client_tx_id)
    }
    fn purge_source_records(&self, before: ablo_runtime::Timestamp) -> Result<usize, StorageError> {
        self.inner.purge_source_records(before)
    }
}

impl TransferStorage for PanicsWhenArmed {
    fn contents(&self) -> Result<StoreContents, StorageError> {
        self.inner.contents()
    }
    fn export_all(
        &self,
        begin: &mut dyn FnMut(&StoreContents) -> Result<(), StorageError>,
        visit: &mut dyn FnMut(StoreRecord) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        self.inner.export_all(begin, visit)
    }
    fn import_all(
        &self,
        load: &mut dyn FnMut(&mut dyn ImportTx) -> Result<(), ImportError>,
    ) -> Result<(), ImportError> {
        self.inner.import_all(load)
    }
}

#[tokio::test]
async fn a_dead_writer_turns_the_node_unhealthy_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(PanicsWhenArmed {
        inner: SqliteStorage::open(dir.path()).unwrap(),
        armed: AtomicBool::new(false),
    });
    let config = ablo_server::ServerConfig::new(dir.path())
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_api_key(API_KEY);
    let server = ablo_server::start_with_storage(config, storage.clone())
        .await
        .unwrap();
    let http = Http::new(&server.url(), API_KEY);
    let (status, _) = http
        .put("/v1/schema", &serde_json::to_value(schema()).unwrap())
        .await;
    assert_eq!(status, 200);
    let created = http.create_task("task_1", "before").await;
    let head = created["stamp"].as_u64().expect("a stamp");
    assert_eq!(http.get("/v1/health").await.0, 200);

    storage.armed.store(true, Ordering::SeqCst);
    let died = http
        .patch(
            "/v1/models/tasks/task_1",
            &json!({ "data": { "title": "during" } }),
        )
        .await;
    assert_error(&died, 503, "server", "writer_stopped");

    tokio::time::timeout(Duration::from_secs(2), server.writer_died())
        .await
        .expect("writer_died resolves once the writer is gone");
    assert_error(
        &http.get("/v1/health").await,
        503,
        "server",
        "writer_stopped",
    );
    // Later writes are refused at once with the same code, not queued.
    let started = std::time::Instant::now();
    let refused = http
        .post("/v1/models/tasks", &json!({ "data": task("after") }))
        .await;
    assert_error(&refused, 503, "server", "writer_stopped");
    assert!(started.elapsed() < Duration::from_secs(1));
    // Writes that do not go through the commit writer still work: the
    // write connection the writer died holding was rolled back and freed.
    let minted = http
        .post(
            "/v1/capabilities",
            &json!({
                "participantKind": "agent",
                "participantId": "agent_1",
                "operations": ["tasks.read"],
                "syncGroups": ["*"],
                "ttlSeconds": 60,
            }),
        )
        .await;
    assert_eq!(minted.0, 201, "{}", minted.1);
    // Reads still work, and show the row as it was before the group.
    let (status, row) = http.get("/v1/models/tasks/task_1").await;
    assert_eq!(status, 200, "{row}");
    assert_eq!(row["data"]["title"], "before", "{row}");
    drop(server);

    // Nothing of the group the writer died in reached the store.
    let reopened = SqliteStorage::open(dir.path()).unwrap();
    assert_eq!(reopened.head().unwrap(), SyncId(head));
    let (row, _) = Storage::row(&reopened, "tasks", "task_1").unwrap();
    let data: &JsonObject = &row.expect("the row").data;
    assert_eq!(data.get("title"), Some(&json!("before")));
    let log = reopened.deltas_after(SyncId(0), 100, 1 << 20).unwrap();
    let last: Option<&Delta> = log.deltas.last();
    assert_eq!(last.map(|d| d.sync_id), Some(SyncId(head)));
}
