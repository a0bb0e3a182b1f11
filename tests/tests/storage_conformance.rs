//! One conformance suite over every storage backend: each test below runs
//! on the embedded SQLite store and on PostgreSQL (a fresh database per
//! test; skipped with a notice when `ABLO_TEST_POSTGRES_URL` is not set).
//! A backend is correct when it passes all of them.

use std::collections::BTreeMap;
use std::sync::Arc;

use ablo_runtime::filter::{FieldFilter, FilterOp};
use ablo_runtime::wire::{Actor, Delta, DeltaAction, Participant, ParticipantKind};
use ablo_runtime::{
    FieldDescriptor, FieldType, Json, ModelDescriptor, SchemaDescriptor, SyncId, Timestamp,
    TypeRegistry,
};
use ablo_server::audit::AuditEntry;
use ablo_server::capability::GroupPatterns;
use ablo_server::storage::{
    AgentRunRecord, ApiKeyRecord, AuditFilter, CapabilityRecord, IdempotencyRecord, ListPosition,
    ListQuery, SortKey, SourceRecord, Storage, StorageLocation, StoredRow, UnitRolledBack, open,
};
use serde_json::json;

type Opener = dyn Fn() -> Arc<dyn Storage>;

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let location = ablo_server::storage::StorageLocation::Directory(dir.path().into());
                    super::$name(&move || super::open(&location).expect("open sqlite"));
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    let Some(url) = ablo_tests::postgres::fresh_database(stringify!($name)) else {
                        return;
                    };
                    let location = ablo_server::storage::StorageLocation::Postgres(url);
                    super::$name(&move || super::open(&location).expect("open postgres"));
                }
            )*
        }
    };
}

conformance!(
    a_rolled_back_unit_leaves_the_others_applied,
    keyset_pages_cover_every_row_once_in_typed_order,
    filters_select_what_the_shared_rules_select,
    a_scope_sees_rows_all_of_whose_groups_it_allows,
    log_pages_never_split_a_commit,
    idempotency_records_belong_to_their_principal,
    secrets_and_keys_are_shared_by_every_handle,
    capabilities_runs_and_audit_round_trip,
    sources_round_trip,
    source_records_expire_by_their_time,
    concurrent_writers_take_every_sync_id_once_in_order,
    other_handles_commits_are_announced,
    compaction_raises_the_floor_and_keeps_the_tail,
    a_snapshot_streams_the_rows_in_scope_from_one_read,
);

fn schema() -> SchemaDescriptor {
    let field = |name: &str, ty: FieldType| FieldDescriptor::new(name, name, ty);
    let opt = FieldType::optional;
    let tasks = ModelDescriptor {
        name: "tasks".into(),
        type_name: "Task".into(),
        doc: None,
        fields: vec![
            field("title", opt(FieldType::String)),
            field("points", opt(FieldType::Float { bits: 64 })),
            field("done", opt(FieldType::Boolean)),
        ],
        sync_groups: vec![],
        ts: String::new(),
        json_schema: json!({"type": "object"}),
    };
    SchemaDescriptor::build("App", vec![tasks], TypeRegistry::default())
}

fn row(id: &str, data: Json, stamp: u64, groups: &[&str]) -> StoredRow {
    let now = Timestamp::now();
    StoredRow {
        model: "tasks".into(),
        id: id.into(),
        data: data.as_object().cloned().unwrap_or_default(),
        field_stamps: BTreeMap::new(),
        stamp: SyncId(stamp),
        created_at: now,
        updated_at: now,
        sync_groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

fn delta(sync_id: SyncId, id: &str, data: Json) -> Delta {
    Delta {
        sync_id,
        model: "tasks".into(),
        id: id.into(),
        action: DeltaAction::Insert,
        data,
        changed_fields: vec![],
        client_tx_id: format!("tx_{}", sync_id.0),
        actor: Actor {
            kind: ParticipantKind::System,
            id: "key_test".into(),
        },
        sync_groups: vec!["default".into()],
        left_sync_groups: vec![],
        entered_sync_groups: vec![],
        flagged: false,
    }
}

/// Writes rows as one commit (one sync id) each.
fn seed(storage: &dyn Storage, rows: Vec<StoredRow>) {
    storage
        .write_group(rows.len(), &mut |unit, tx| {
            let sync_id = tx.head().next();
            let mut row = rows[unit].clone();
            row.stamp = sync_id;
            tx.put_row(&row)?;
            tx.append_delta(0, &delta(sync_id, &row.id, Json::Object(row.data.clone())))?;
            tx.advance_head(sync_id);
            Ok(Ok(()))
        })
        .expect("seed rows");
}

fn list(storage: &dyn Storage, query: ListQuery) -> Vec<String> {
    storage
        .list(&query)
        .expect("list")
        .rows
        .into_iter()
        .map(|r| r.id)
        .collect()
}

fn query(filters: Vec<FieldFilter>) -> ListQuery {
    ListQuery {
        model: "tasks".into(),
        filters,
        sort: SortKey::Id,
        descending: false,
        limit: 1000,
        after: None,
        visible_to: None,
        max_bytes: None,
    }
}

fn a_rolled_back_unit_leaves_the_others_applied(open: &Opener) {
    let storage = open();
    storage
        .write_group(3, &mut |unit, tx| {
            let sync_id = tx.head().next();
            tx.put_row(&row(
                &format!("t{unit}"),
                json!({"title": "x"}),
                sync_id.0,
                &["default"],
            ))?;
            tx.append_delta(0, &delta(sync_id, &format!("t{unit}"), json!({})))?;
            tx.advance_head(sync_id);
            Ok(if unit == 1 {
                Err(UnitRolledBack)
            } else {
                Ok(())
            })
        })
        .unwrap();
    assert!(storage.row("tasks", "t0").unwrap().0.is_some());
    assert!(storage.row("tasks", "t1").unwrap().0.is_none());
    let (t2, head) = storage.row("tasks", "t2").unwrap();
    assert_eq!(
        t2.unwrap().stamp,
        SyncId(2),
        "the rolled-back unit gave its sync id back"
    );
    assert_eq!(head, SyncId(2));
    let log = storage.deltas_after(SyncId::ZERO, 100, usize::MAX).unwrap();
    let ids: Vec<u64> = log.deltas.iter().map(|d| d.sync_id.0).collect();
    assert_eq!(ids, vec![1, 2]);
    assert!(!log.has_more);
}

fn keyset_pages_cover_every_row_once_in_typed_order(open: &Opener) {
    let storage = open();
    storage.put_schema(&schema()).unwrap();
    let values = [
        json!({"title": null, "points": 10, "done": true}),
        json!({"title": "b", "points": 2.5, "done": false}),
        json!({"title": "a", "points": 2}),
        json!({"points": null, "done": true}),
        json!({"title": "b", "points": -1, "done": false}),
        json!({"title": "B", "points": 100, "done": null}),
        json!({"title": "é", "points": 2, "done": true}),
    ];
    seed(
        storage.as_ref(),
        values
            .iter()
            .enumerate()
            .map(|(i, v)| row(&format!("t{i}"), v.clone(), 0, &["default"]))
            .collect(),
    );
    // Ascending: null first, text by code point, numbers by value,
    // false before true; ties by id.
    let expected = [
        ("title", vec!["t0", "t3", "t5", "t2", "t1", "t4", "t6"]),
        ("points", vec!["t3", "t4", "t2", "t6", "t1", "t0", "t5"]),
        ("done", vec!["t2", "t5", "t1", "t4", "t0", "t3", "t6"]),
    ];
    for (field, ascending) in expected {
        for descending in [false, true] {
            let mut seen = Vec::new();
            let mut after = None;
            loop {
                let mut q = query(vec![]);
                q.sort = SortKey::Field(field.into());
                q.descending = descending;
                q.limit = 2;
                q.after = after.clone();
                let rows = storage.list(&q).unwrap().rows;
                let Some(last) = rows.last() else { break };
                after = Some(ListPosition {
                    value: last.data.get(field).cloned().unwrap_or(Json::Null),
                    id: last.id.clone(),
                });
                seen.extend(rows.iter().map(|r| r.id.clone()));
            }
            let mut want = ascending.clone();
            if descending {
                want.reverse();
            }
            assert_eq!(seen, want, "{field} descending: {descending}");
        }
    }
}

fn filters_select_what_the_shared_rules_select(open: &Opener) {
    let storage = open();
    storage.put_schema(&schema()).unwrap();
    let values = [
        json!({"title": "a", "points": 1, "done": true}),
        json!({"title": "b", "points": 2.5, "done": false}),
        json!({"title": null, "points": 3}),
        json!({"title": "B", "done": true}),
        json!({"title": "ab", "points": -4.0, "done": null}),
    ];
    let rows: Vec<StoredRow> = values
        .iter()
        .enumerate()
        .map(|(i, v)| row(&format!("t{i}"), v.clone(), 0, &["default"]))
        .collect();
    seed(storage.as_ref(), rows.clone());
    let filters = [
        FieldFilter::new("title", FilterOp::Eq, json!("a")),
        FieldFilter::new("title", FilterOp::Eq, Json::Null),
        FieldFilter::new("title", FilterOp::Ne, json!("a")),
        FieldFilter::new("title", FilterOp::Ne, Json::Null),
        FieldFilter::new("title", FilterOp::Gt, json!("a")),
        FieldFilter::new("title", FilterOp::Lte, json!("b")),
        FieldFilter::new("title", FilterOp::In, json!(["a", "B", null])),
        FieldFilter::new("title", FilterOp::In, json!([])),
        FieldFilter::new("points", FilterOp::Eq, json!(1.0)),
        FieldFilter::new("points", FilterOp::Gte, json!(2.5)),
        FieldFilter::new("points", FilterOp::Lt, json!(2)),
        FieldFilter::new("points", FilterOp::In, json!([3, -4])),
        FieldFilter::new("points", FilterOp::Ne, json!(3)),
        FieldFilter::new("done", FilterOp::Eq, json!(true)),
        FieldFilter::new("done", FilterOp::Ne, json!(true)),
        FieldFilter::new("done", FilterOp::In, json!([false, null])),
    ];
    for filter in filters {
        let want: Vec<String> = rows
            .iter()
            .filter(|r| filter.matches(&Json::Object(r.data.clone())))
            .map(|r| r.id.clone())
            .collect();
        let got = list(storage.as_ref(), query(vec![filter.clone()]));
        assert_eq!(got, want, "{filter:?}");
    }
}

fn a_scope_sees_rows_all_of_whose_groups_it_allows(open: &Opener) {
    let storage = open();
    seed(
        storage.as_ref(),
        vec![
            row("t1", json!({}), 0, &["org:a"]),
            row("t2", json!({}), 0, &["org:a", "project:x"]),
            row("t3", json!({}), 0, &["org:b"]),
            row("t4", json!({}), 0, &["org:a", "team:1"]),
            row("t5", json!({}), 0, &[]),
        ],
    );
    let scoped = |exact: &[&str], prefixes: &[&str]| {
        let mut q = query(vec![]);
        q.visible_to = Some(GroupPatterns {
            exact: exact.iter().map(|s| s.to_string()).collect(),
            prefixes: prefixes.iter().map(|s| s.to_string()).collect(),
        });
        list(storage.as_ref(), q)
    };
    assert_eq!(scoped(&["org:a"], &[]), vec!["t1", "t5"]);
    assert_eq!(scoped(&["org:a"], &["team:"]), vec!["t1", "t4", "t5"]);
    assert_eq!(scoped(&[], &["org:"]), vec!["t1", "t3", "t5"]);
    assert_eq!(scoped(&[], &[]), vec!["t5"]);
}

fn log_pages_never_split_a_commit(open: &Opener) {
    let storage = open();
    storage
        .write_group(4, &mut |_, tx| {
            let sync_id = tx.head().next();
            for position in 0..3 {
                tx.append_delta(
                    position,
                    &delta(
                        sync_id,
                        &format!("r{position}"),
                        json!({"pad": "x".repeat(50)}),
                    ),
                )?;
            }
            tx.advance_head(sync_id);
            Ok(Ok(()))
        })
        .unwrap();
    let page = storage.deltas_after(SyncId::ZERO, 4, usize::MAX).unwrap();
    let ids: Vec<u64> = page.deltas.iter().map(|d| d.sync_id.0).collect();
    assert_eq!(ids, vec![1, 1, 1, 2, 2, 2], "the page finishes commit 2");
    assert!(page.has_more);
    assert_eq!(page.head, SyncId(4));
    let small = storage.deltas_after(SyncId(1), 100, 10).unwrap();
    let ids: Vec<u64> = small.deltas.iter().map(|d| d.sync_id.0).collect();
    assert_eq!(
        ids,
        vec![2, 2, 2],
        "a byte bound ends the page at a commit boundary"
    );
    let rest = storage.deltas_after(SyncId(4), 100, usize::MAX).unwrap();
    assert!(rest.deltas.is_empty() && !rest.has_more);
}

fn idempotency_records_belong_to_their_principal(open: &Opener) {
    let storage = open();
    let old = Timestamp::from_millis(1_000).unwrap();
    let receipt: ablo_runtime::wire::CommitReceipt =
        serde_json::from_value(json!({"object": ablo_runtime::wire::COMMIT_RECEIPT_OBJECT, "syncId": 1, "clientTxId": "tx_1", "status": "confirmed", "rows": [], "flagged": false}))
            .expect("a receipt");
    let record = |principal: &str, at: Timestamp| IdempotencyRecord {
        principal: principal.into(),
        client_tx_id: "tx_1".into(),
        body_hash: "abc".into(),
        receipt: receipt.clone(),
        created_at: at,
    };
    storage
        .write_group(1, &mut |_, tx| {
            tx.put_idempotency(&record("alice", old))?;
            tx.put_idempotency(&record("bob", Timestamp::now()))?;
            assert_eq!(tx.idempotency("alice", "tx_1")?, Some(record("alice", old)));
            assert!(tx.idempotency("carol", "tx_1")?.is_none());
            Ok(Ok(()))
        })
        .unwrap();
    assert!(storage.commit_remembered("alice", "tx_1").unwrap());
    assert!(!storage.commit_remembered("carol", "tx_1").unwrap());
    assert_eq!(
        storage
            .purge_idempotency(Timestamp::from_millis(2_000).unwrap())
            .unwrap(),
        1
    );
    assert!(!storage.commit_remembered("alice", "tx_1").unwrap());
    assert!(storage.commit_remembered("bob", "tx_1").unwrap());
}

fn secrets_and_keys_are_shared_by_every_handle(open: &Opener) {
    let (first, second) = (open(), open());
    let secret = first.server_secret("list_cursor").unwrap();
    assert_eq!(secret.len(), 32);
    assert_eq!(second.server_secret("list_cursor").unwrap(), secret);
    assert_ne!(second.server_secret("other").unwrap(), secret);
    let key = ApiKeyRecord {
        id: "key_1".into(),
        key_hash: "hash_1".into(),
        label: "bootstrap".into(),
        created_at: Timestamp::from_millis(5_000).unwrap(),
    };
    first.put_api_key(&key).unwrap();
    first.put_api_key(&key).unwrap();
    assert_eq!(second.list_api_keys().unwrap(), vec![key]);
    assert!(second.delete_api_key("key_1").unwrap());
    assert!(!second.delete_api_key("key_1").unwrap());
    assert!(first.api_keys().unwrap().is_empty());
    assert!(first.schema().unwrap().is_none());
    first.put_schema(&schema()).unwrap();
    assert_eq!(second.schema().unwrap(), Some(schema()));
}

fn capabilities_runs_and_audit_round_trip(open: &Opener) {
    let storage = open();
    let mut capability = CapabilityRecord::example();
    capability.on_behalf_of = Some(Participant {
        id: "user_1".into(),
        kind: ParticipantKind::User,
    });
    capability.label = Some("triage".into());
    capability.created_at = Timestamp::from_millis(10_000).unwrap();
    capability.expires_at = Timestamp::from_millis(70_000).unwrap();
    storage.put_capability(&capability).unwrap();
    assert_eq!(storage.capabilities().unwrap(), vec![capability.clone()]);
    let at = Timestamp::from_millis(20_000).unwrap();
    assert!(storage.revoke_capability(&capability.id, at).unwrap());
    assert!(!storage.revoke_capability("cap_missing", at).unwrap());
    assert_eq!(storage.capabilities().unwrap()[0].revoked_at, Some(at));

    let run = AgentRunRecord {
        id: "task_1".into(),
        participant: capability.participant.clone(),
        on_behalf_of: None,
        capability_id: Some(capability.id.clone()),
        prompt: Some("triage".into()),
        surface: None,
        parent_task_id: None,
        metadata: Some(json!({"k": 1})),
        status: "running".into(),
        created_at: Timestamp::from_millis(30_000).unwrap(),
        closed_at: None,
        cost_input_tokens: 0,
        cost_output_tokens: 0,
        cost_compute_ms: 0,
    };
    storage.put_agent_run(&run).unwrap();
    let closed = AgentRunRecord {
        status: "completed".into(),
        closed_at: Some(Timestamp::from_millis(40_000).unwrap()),
        cost_input_tokens: 12,
        ..run.clone()
    };
    storage.close_agent_run(&closed).unwrap();
    assert_eq!(storage.agent_run("task_1").unwrap(), Some(closed));
    assert!(storage.agent_run("task_missing").unwrap().is_none());

    let entry = |seq: u64, model: &str| AuditEntry {
        chain_seq: seq,
        at_ms: 50_000 + seq as i64,
        actor: Actor {
            kind: ParticipantKind::Agent,
            id: "agent_1".into(),
        },
        on_behalf_of: None,
        capability_id: Some(capability.id.clone()),
        capability_label: None,
        task_id: Some("task_1".into()),
        model: model.into(),
        action: "update".into(),
        row_ids: vec!["t1".into()],
        sync_id: seq,
        flagged: seq == 2,
        changed_fields: vec!["title".into()],
        prev_hash: format!("h{}", seq - 1),
        row_hash: format!("h{seq}"),
    };
    storage
        .write_group(1, &mut |_, tx| {
            assert!(tx.audit_head("agent", "agent_1")?.is_none());
            tx.append_audit(&entry(1, "tasks"))?;
            tx.append_audit(&entry(2, "projects"))?;
            assert_eq!(tx.audit_head("agent", "agent_1")?, Some((2, "h2".into())));
            assert_eq!(tx.agent_run_status("task_1")?.as_deref(), Some("completed"));
            Ok(Ok(()))
        })
        .unwrap();
    assert_eq!(
        storage.audit_chain("agent", "agent_1").unwrap(),
        vec![entry(1, "tasks"), entry(2, "projects")]
    );
    let only_projects = AuditFilter {
        model: Some("projects".into()),
        ..AuditFilter::default()
    };
    let page = storage.audit_page(&only_projects, 0, 10).unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].1, entry(2, "projects"));
    let after_first = storage
        .audit_page(&AuditFilter::default(), page[0].0 - 1, 1)
        .unwrap();
    assert_eq!(after_first[0].1, entry(2, "projects"));
}

fn sources_round_trip(open: &Opener) {
    let storage = open();
    let record = SourceRecord {
        name: "crm".into(),
        url: "http://127.0.0.1:9/ablo".into(),
        secret: "whsec_0123456789abcdef".into(),
        models: vec!["tasks".into()],
        events_cursor: Json::Null,
        updated_at: Timestamp::from_millis(60_000).unwrap(),
    };
    storage.put_source(&record).unwrap();
    storage
        .put_events_cursor("crm", &json!({"after": 7}))
        .unwrap();
    let stored = storage.sources().unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].events_cursor, json!({"after": 7}));
    assert!(!storage.event_applied("crm", "ev_1").unwrap());
    storage.mark_event_applied("crm", "ev_1").unwrap();
    storage.mark_event_applied("crm", "ev_1").unwrap();
    assert!(storage.event_applied("crm", "ev_1").unwrap());
    assert!(!storage.is_source_commit("tx_9").unwrap());
    storage
        .write_group(1, &mut |_, tx| {
            tx.put_source_commit("tx_9")?;
            tx.put_source_commit("tx_9")?;
            Ok(Ok(()))
        })
        .unwrap();
    assert!(storage.is_source_commit("tx_9").unwrap());
}

/// Applied event ids and sent commit ids recorded before the cut are
/// forgotten; those recorded after it stay.
fn source_records_expire_by_their_time(open: &Opener) {
    let storage = open();
    let at = |ms: i64| ablo_runtime::Timestamp::from_millis(ms).unwrap();
    storage.mark_event_applied("crm", "ev_old").unwrap();
    storage
        .write_group(1, &mut |_, tx| {
            tx.put_source_commit("tx_old")?;
            Ok(Ok(()))
        })
        .unwrap();
    let recorded = ablo_runtime::Timestamp::now().as_millis();
    // Nothing was recorded an hour ago: nothing goes.
    assert_eq!(
        storage
            .purge_source_records(at(recorded - 3_600_000))
            .unwrap(),
        0
    );
    assert!(storage.event_applied("crm", "ev_old").unwrap());
    assert!(storage.is_source_commit("tx_old").unwrap());
    std::thread::sleep(std::time::Duration::from_millis(5));
    let cut = ablo_runtime::Timestamp::now();
    std::thread::sleep(std::time::Duration::from_millis(5));
    storage.mark_event_applied("crm", "ev_new").unwrap();
    assert_eq!(storage.purge_source_records(cut).unwrap(), 2);
    assert!(!storage.event_applied("crm", "ev_old").unwrap());
    assert!(!storage.is_source_commit("tx_old").unwrap());
    assert!(storage.event_applied("crm", "ev_new").unwrap());
    // A forgotten event can be recorded again.
    storage.mark_event_applied("crm", "ev_old").unwrap();
    assert!(storage.event_applied("crm", "ev_old").unwrap());
}

/// Two handles on one store stand for two nodes: each increments one
/// counter row in its own groups. Every sync id is taken once, in order,
/// and no increment is lost.
fn concurrent_writers_take_every_sync_id_once_in_order(open: &Opener) {
    let (first, second) = (open(), open());
    seed(
        first.as_ref(),
        vec![row("c", json!({"n": 0}), 0, &["default"])],
    );
    let per_writer = 60;
    let writers: Vec<_> = [first.clone(), second.clone(), first.clone(), second.clone()]
        .into_iter()
        .map(|storage| {
            std::thread::spawn(move || {
                for _ in 0..per_writer {
                    storage
                        .write_group(1, &mut |_, tx| {
                            let sync_id = tx.head().next();
                            let mut counter = tx.row("tasks", "c")?.expect("counter");
                            let n = counter.data["n"].as_i64().unwrap();
                            counter.data.insert("n".into(), json!(n + 1));
                            counter.stamp = sync_id;
                            tx.put_row(&counter)?;
                            tx.append_delta(0, &delta(sync_id, "c", json!({"n": n + 1})))?;
                            tx.advance_head(sync_id);
                            Ok(Ok(()))
                        })
                        .expect("write group");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let total = 4 * per_writer + 1;
    let (counter, head) = second.row("tasks", "c").unwrap();
    assert_eq!(
        counter.unwrap().data["n"],
        json!(4 * per_writer),
        "no lost update"
    );
    assert_eq!(head, SyncId(total as u64));
    let mut ids = Vec::new();
    let mut after = SyncId::ZERO;
    loop {
        let page = first.deltas_after(after, 50, usize::MAX).unwrap();
        ids.extend(page.deltas.iter().map(|d| d.sync_id.0));
        match page.deltas.last() {
            Some(last) if page.has_more => after = last.sync_id,
            _ => break,
        }
    }
    assert_eq!(ids, (1..=total as u64).collect::<Vec<_>>());
    // The counter's value at each sync id is that id minus the seed:
    // commits applied in sync-id order.
    let log = first.deltas_after(SyncId(1), 1000, usize::MAX).unwrap();
    for d in log.deltas {
        assert_eq!(d.data["n"], json!(d.sync_id.0 - 1));
    }
}

fn other_handles_commits_are_announced(open: &Opener) {
    let (listener, writer) = (open(), open());
    let Some(mut feed) = listener.commit_feed().unwrap() else {
        assert!(
            !listener.is_shared(),
            "a shared store must announce commits"
        );
        return;
    };
    assert!(listener.is_shared());
    // The first wait opens the listening connection.
    assert_eq!(
        feed.wait(std::time::Duration::from_millis(50)).unwrap(),
        None
    );
    seed(writer.as_ref(), vec![row("t1", json!({}), 0, &["default"])]);
    let announced = feed.wait(std::time::Duration::from_secs(5)).unwrap();
    assert_eq!(announced, Some(SyncId(1)));
}

fn compaction_raises_the_floor_and_keeps_the_tail(open: &Opener) {
    let storage = open();
    let before = Timestamp::now();
    std::thread::sleep(std::time::Duration::from_millis(5));
    seed(
        storage.as_ref(),
        (0..10)
            .map(|i| row(&format!("t{i}"), json!({}), 0, &["default"]))
            .collect(),
    );
    assert_eq!(storage.log_floor().unwrap(), SyncId::ZERO);
    assert_eq!(
        storage.head_before(before).unwrap(),
        SyncId::ZERO,
        "nothing committed before"
    );
    assert_eq!(storage.head_before(Timestamp::now()).unwrap(), SyncId(10));
    assert_eq!(storage.compact_log(SyncId(7)).unwrap(), 7);
    assert_eq!(
        storage.compact_log(SyncId(5)).unwrap(),
        0,
        "the floor never goes down"
    );
    assert_eq!(storage.log_floor().unwrap(), SyncId(7));
    let page = storage.deltas_after(SyncId(7), 100, usize::MAX).unwrap();
    assert_eq!(page.floor, SyncId(7));
    let ids: Vec<u64> = page.deltas.iter().map(|d| d.sync_id.0).collect();
    assert_eq!(ids, vec![8, 9, 10]);
    let gap = storage.deltas_after(SyncId(3), 100, usize::MAX).unwrap();
    assert!(
        gap.floor > SyncId(3),
        "a reader from before the floor is told"
    );
    assert_eq!(
        storage.compact_log(SyncId(99)).unwrap(),
        3,
        "never past the head"
    );
    assert_eq!(storage.log_floor().unwrap(), SyncId(10));
    // Rows are untouched, and the next commit follows the head.
    assert_eq!(storage.row("tasks", "t0").unwrap().1, SyncId(10));
    seed(
        storage.as_ref(),
        vec![row("t10", json!({}), 0, &["default"])],
    );
    assert_eq!(storage.head().unwrap(), SyncId(11));
    // A second handle (a restart) sees the same floor.
    assert_eq!(open().log_floor().unwrap(), SyncId(10));
}

fn a_snapshot_streams_the_rows_in_scope_from_one_read(open: &Opener) {
    let storage = open();
    let mut rows: Vec<StoredRow> = (0..7)
        .map(|i| row(&format!("t{i}"), json!({"title": i}), 0, &["org:a"]))
        .collect();
    rows.push(row("secret", json!({}), 0, &["org:b"]));
    seed(storage.as_ref(), rows);
    let mut pages = Vec::new();
    let head = storage
        .snapshot(None, 3, &mut |head, page| {
            pages.push((head, page.iter().map(|r| r.id.clone()).collect::<Vec<_>>()));
            true
        })
        .unwrap();
    assert_eq!(head, SyncId(8));
    let sizes: Vec<usize> = pages.iter().map(|(_, p)| p.len()).collect();
    assert_eq!(sizes, vec![3, 3, 2]);
    assert!(pages.iter().all(|(h, _)| *h == head), "one snapshot");
    let scope = GroupPatterns {
        exact: vec!["org:a".into()],
        prefixes: vec![],
    };
    let mut seen = Vec::new();
    storage
        .snapshot(Some(&scope), 100, &mut |_, page| {
            seen.extend(page.into_iter().map(|r| r.id));
            true
        })
        .unwrap();
    assert_eq!(seen, (0..7).map(|i| format!("t{i}")).collect::<Vec<_>>());
    // Each row's wire text is the row as a list returns it.
    storage
        .snapshot(None, 100, &mut |_, page| {
            for snap in page {
                let (stored, _) = storage.row(&snap.model, &snap.id).unwrap();
                let wire: serde_json::Value = serde_json::from_str(&snap.wire).unwrap();
                assert_eq!(wire, stored.unwrap().to_wire(), "{}", snap.id);
            }
            true
        })
        .unwrap();
    // A sink that stops is not called again.
    let mut calls = 0;
    storage
        .snapshot(None, 2, &mut |_, _| {
            calls += 1;
            false
        })
        .unwrap();
    assert_eq!(calls, 1);
}

#[test]
fn locations_name_their_backend() {
    assert_eq!(
        StorageLocation::parse("postgresql://u@h/db")
            .unwrap()
            .backend(),
        "postgres"
    );
    assert!(StorageLocation::parse("mysql://h/db").is_err());
}
