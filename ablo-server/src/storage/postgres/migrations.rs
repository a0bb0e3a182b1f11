//! The PostgreSQL schema, as numbered migrations. Each is applied once, in
//! order, inside a transaction holding an advisory lock, so nodes starting
//! together do not race; `schema_migrations` records what was applied.

use postgres::Client;

use crate::storage::StorageError;

/// Any fixed number: the advisory lock migrations hold.
const MIGRATION_LOCK: i64 = 0x61_62_6c_6f;

/// The migrations, by version. A released migration is never edited; a
/// change is a new one.
const MIGRATIONS: &[(u32, &str)] = &[
    (
        1,
        r#"
CREATE TABLE rows (
    model TEXT NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    data JSONB NOT NULL,
    field_stamps JSONB NOT NULL,
    stamp BIGINT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL,
    sync_groups JSONB NOT NULL,
    PRIMARY KEY (model, id)
);
CREATE TABLE sync_log (
    sync_id BIGINT NOT NULL,
    position INTEGER NOT NULL,
    delta TEXT NOT NULL,
    PRIMARY KEY (sync_id, position)
);
CREATE TABLE sync_head (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    head BIGINT NOT NULL
);
INSERT INTO sync_head (singleton, head) VALUES (1, 0);
CREATE TABLE idempotency_records (
    principal TEXT NOT NULL,
    client_tx_id TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    receipt TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (principal, client_tx_id)
);
CREATE INDEX idempotency_records_by_age ON idempotency_records (created_at_ms);
CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY,
    secret BYTEA NOT NULL
);
CREATE TABLE pushed_schema (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    hash TEXT NOT NULL,
    descriptor TEXT NOT NULL
);
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE capabilities (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    participant_kind TEXT NOT NULL,
    participant_id TEXT NOT NULL,
    on_behalf_of_kind TEXT,
    on_behalf_of_id TEXT,
    operations TEXT NOT NULL,
    sync_groups TEXT NOT NULL,
    label TEXT,
    created_by TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    revoked_at_ms BIGINT
);
CREATE TABLE agent_runs (
    id TEXT PRIMARY KEY,
    participant_kind TEXT NOT NULL,
    participant_id TEXT NOT NULL,
    on_behalf_of_kind TEXT,
    on_behalf_of_id TEXT,
    capability_id TEXT,
    prompt TEXT,
    surface TEXT,
    parent_task_id TEXT,
    metadata TEXT,
    status TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    closed_at_ms BIGINT,
    cost_input_tokens BIGINT NOT NULL DEFAULT 0,
    cost_output_tokens BIGINT NOT NULL DEFAULT 0,
    cost_compute_ms BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE audit_log (
    position BIGSERIAL PRIMARY KEY,
    principal_kind TEXT NOT NULL,
    principal_id TEXT NOT NULL,
    chain_seq BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    on_behalf_of_kind TEXT,
    on_behalf_of_id TEXT,
    capability_id TEXT,
    capability_label TEXT,
    task_id TEXT,
    model TEXT NOT NULL,
    action TEXT NOT NULL,
    row_ids TEXT NOT NULL,
    sync_id BIGINT NOT NULL,
    flagged BOOLEAN NOT NULL,
    changed_fields TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL,
    UNIQUE (principal_kind, principal_id, chain_seq)
);
CREATE INDEX audit_by_time ON audit_log (at_ms);
CREATE TABLE sources (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    models TEXT NOT NULL,
    events_cursor TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE source_events (
    source TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (source, event_id)
);
CREATE TABLE source_commits (
    client_tx_id TEXT PRIMARY KEY
);
"#,
    ),
    (
        2,
        r#"
CREATE TABLE sync_floor (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    floor BIGINT NOT NULL
);
INSERT INTO sync_floor (singleton, floor) VALUES (1, 0);
CREATE TABLE sync_marks (
    head BIGINT PRIMARY KEY,
    at_ms BIGINT NOT NULL
);
CREATE INDEX sync_marks_by_time ON sync_marks (at_ms);
"#,
    ),
    (
        3,
        r#"
CREATE TABLE coordination_intents (
    id TEXT PRIMARY KEY,
    seq BIGSERIAL NOT NULL,
    model TEXT NOT NULL,
    row_id TEXT NOT NULL,
    field TEXT,
    participant_kind TEXT NOT NULL,
    participant_id TEXT NOT NULL,
    action TEXT NOT NULL,
    exclusive BOOLEAN NOT NULL,
    waiting BOOLEAN NOT NULL,
    ttl_ms BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    sync_groups TEXT NOT NULL,
    guard_stamp BIGINT,
    credential TEXT,
    node TEXT NOT NULL
);
CREATE INDEX coordination_intents_by_row ON coordination_intents (model, row_id, seq);
CREATE INDEX coordination_intents_by_expiry ON coordination_intents (expires_at_ms);
CREATE INDEX coordination_intents_by_participant
    ON coordination_intents (participant_kind, participant_id);
CREATE INDEX coordination_intents_by_credential ON coordination_intents (credential);
CREATE TABLE coordination_events (
    seq BIGSERIAL PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    event TEXT NOT NULL
);
CREATE INDEX coordination_events_by_time ON coordination_events (at_ms);
CREATE TABLE coordination_floor (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    floor BIGINT NOT NULL
);
INSERT INTO coordination_floor (singleton, floor) VALUES (1, 0);
"#,
    ),
    (
        4,
        // Data Source records expire; those made before get the
        // migration's time, so each is kept for the whole retention.
        r#"
ALTER TABLE source_events ADD COLUMN at_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE source_commits ADD COLUMN at_ms BIGINT NOT NULL DEFAULT 0;
UPDATE source_events SET at_ms = (extract(epoch FROM now()) * 1000)::BIGINT;
UPDATE source_commits SET at_ms = (extract(epoch FROM now()) * 1000)::BIGINT;
CREATE INDEX source_events_by_time ON source_events (at_ms);
CREATE INDEX source_commits_by_time ON source_commits (at_ms);
"#,
    ),
];

/// Applies the migrations not applied yet; returns their versions.
pub(super) fn apply(client: &mut Client) -> Result<Vec<u32>, StorageError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )?;
    let done: Vec<i32> = tx
        .query("SELECT version FROM schema_migrations", &[])?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut applied = Vec::new();
    for (version, sql) in MIGRATIONS {
        if done.contains(&(*version as i32)) {
            continue;
        }
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&(*version as i32)],
        )?;
        applied.push(*version);
    }
    tx.commit()?;
    if !applied.is_empty() {
        tracing::info!(?applied, "postgres migrations applied");
    }
    Ok(applied)
}
