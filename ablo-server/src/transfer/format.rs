//! The dump format: line-delimited JSON (one object per line, UTF-8).
//!
//! The first line is the [`DumpHeader`] (`{"header": {...}}`): the format
//! name and version, the backend it came from, the head and what the store
//! held, table by table. Then one line per record, `{"<kind>": {...}}`,
//! table by table in the order of
//! [`StoreContents::counts`](crate::storage::StoreContents::counts) after
//! the schema; the last line is `{"end": {"records": n}}`. A dump without
//! its end line is truncated and is refused whole.
//!
//! ```text
//! {"header":{"format":"ablo-dump","version":1,"backend":"sqlite","head":42,...}}
//! {"schema":{...}}
//! {"serverSecret":{"name":"list_cursor","secret":"9f2c..."}}
//! {"apiKey":{"id":"key_...","keyHash":"...","label":"bootstrap","createdAt":"..."}}
//! {"row":{"model":"tasks","id":"t1","data":{...},"fieldStamps":{...},"stamp":3,...}}
//! {"delta":{"position":0,"delta":{"syncId":3,...}}}
//! {"audit":{"position":1,"entry":{"chainSeq":1,...,"rowHash":"..."}}}
//! {"end":{"records":57}}
//! ```

use std::collections::BTreeMap;

use ablo_runtime::wire::{CommitReceipt, Delta, JsonObject, Participant};
use ablo_runtime::{Json, SchemaDescriptor, SyncId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::audit::AuditEntry;
use crate::storage::{
    AgentRunRecord, ApiKeyRecord, CapabilityRecord, IdempotencyRecord, SourceRecord, StoreContents,
    StoreRecord, StoredRow,
};

/// The format's name, in every header.
///
/// ```
/// assert_eq!(ablo_server::transfer::FORMAT_NAME, "ablo-dump");
/// ```
pub const FORMAT_NAME: &str = "ablo-dump";

/// The format version this server writes and the newest it reads.
///
/// ```
/// assert_eq!(ablo_server::transfer::FORMAT_VERSION, 1);
/// ```
pub const FORMAT_VERSION: u32 = 1;

/// The first line of a dump.
///
/// ```
/// use ablo_server::transfer::DumpHeader;
/// let header = DumpHeader::new("sqlite", Default::default());
/// let json = serde_json::to_value(&header).unwrap();
/// assert_eq!(json["format"], "ablo-dump");
/// assert_eq!(json["version"], 1);
/// assert_eq!(json["backend"], "sqlite");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DumpHeader {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// The format version ([`FORMAT_VERSION`] when written by this server).
    pub version: u32,
    /// The backend the dump was read from (`sqlite`, `postgres`).
    pub backend: String,
    /// The newest sync id of the store when it was read.
    pub head: SyncId,
    /// When the dump was taken.
    pub exported_at: Timestamp,
    /// The `ablo-server` version that wrote it.
    pub server_version: String,
    /// What the store held, table by table (the import checks it holds
    /// exactly this before it commits).
    pub contents: StoreContents,
}

impl DumpHeader {
    /// A header for a dump of a `backend` store holding `contents`, taken
    /// now.
    ///
    /// ```
    /// use ablo_server::storage::StoreContents;
    /// let header = ablo_server::transfer::DumpHeader::new("postgres", StoreContents::default());
    /// assert_eq!(header.head, ablo_runtime::SyncId::ZERO);
    /// ```
    pub fn new(backend: &str, contents: StoreContents) -> DumpHeader {
        DumpHeader {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            backend: backend.into(),
            head: contents.head,
            exported_at: Timestamp::now(),
            server_version: env!("CARGO_PKG_VERSION").into(),
            contents,
        }
    }
}

/// One line of a dump.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Line {
    Header(DumpHeader),
    Schema(SchemaDescriptor),
    ServerSecret(SecretLine),
    ApiKey(ApiKeyLine),
    Capability(CapabilityLine),
    AgentRun(AgentRunLine),
    Source(SourceLine),
    SourceEvent(SourceEventLine),
    SourceCommit(SourceCommitLine),
    Row(RowLine),
    Delta(DeltaLine),
    Audit(AuditLine),
    Idempotency(IdempotencyLine),
    End(EndLine),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SecretLine {
    name: String,
    /// Lowercase hex.
    secret: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ApiKeyLine {
    id: String,
    key_hash: String,
    label: String,
    created_at: Timestamp,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CapabilityLine {
    id: String,
    token_hash: String,
    participant: Participant,
    on_behalf_of: Option<Participant>,
    operations: Vec<String>,
    sync_groups: Vec<String>,
    label: Option<String>,
    created_by: String,
    created_at: Timestamp,
    expires_at: Timestamp,
    revoked_at: Option<Timestamp>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct AgentRunLine {
    id: String,
    participant: Participant,
    on_behalf_of: Option<Participant>,
    capability_id: Option<String>,
    prompt: Option<String>,
    surface: Option<String>,
    parent_task_id: Option<String>,
    metadata: Option<Json>,
    status: String,
    created_at: Timestamp,
    closed_at: Option<Timestamp>,
    cost_input_tokens: u64,
    cost_output_tokens: u64,
    cost_compute_ms: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SourceLine {
    name: String,
    url: String,
    secret: String,
    models: Vec<String>,
    events_cursor: Json,
    updated_at: Timestamp,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SourceEventLine {
    source: String,
    event_id: String,
    /// Missing in dumps of servers that did not record it: taken as the
    /// import's time, so the record is kept for the whole retention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    at: Option<Timestamp>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SourceCommitLine {
    client_tx_id: String,
    /// As [`SourceEventLine::at`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    at: Option<Timestamp>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RowLine {
    model: String,
    id: String,
    data: JsonObject,
    field_stamps: BTreeMap<String, SyncId>,
    stamp: SyncId,
    created_at: Timestamp,
    updated_at: Timestamp,
    sync_groups: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct DeltaLine {
    position: u32,
    delta: Delta,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct AuditLine {
    position: u64,
    entry: AuditEntry,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct IdempotencyLine {
    principal: String,
    client_tx_id: String,
    body_hash: String,
    receipt: CommitReceipt,
    created_at: Timestamp,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct EndLine {
    pub(crate) records: u64,
}

impl From<StoreRecord> for Line {
    fn from(record: StoreRecord) -> Line {
        match record {
            StoreRecord::Schema(schema) => Line::Schema(schema),
            StoreRecord::ServerSecret { name, secret } => Line::ServerSecret(SecretLine {
                name,
                secret: hex::encode(secret),
            }),
            StoreRecord::ApiKey(k) => Line::ApiKey(ApiKeyLine {
                id: k.id,
                key_hash: k.key_hash,
                label: k.label,
                created_at: k.created_at,
            }),
            StoreRecord::Capability(c) => Line::Capability(CapabilityLine {
                id: c.id,
                token_hash: c.token_hash,
                participant: c.participant,
                on_behalf_of: c.on_behalf_of,
                operations: c.operations,
                sync_groups: c.sync_groups,
                label: c.label,
                created_by: c.created_by,
                created_at: c.created_at,
                expires_at: c.expires_at,
                revoked_at: c.revoked_at,
            }),
            StoreRecord::AgentRun(r) => Line::AgentRun(AgentRunLine {
                id: r.id,
                participant: r.participant,
                on_behalf_of: r.on_behalf_of,
                capability_id: r.capability_id,
                prompt: r.prompt,
                surface: r.surface,
                parent_task_id: r.parent_task_id,
                metadata: r.metadata,
                status: r.status,
                created_at: r.created_at,
                closed_at: r.closed_at,
                cost_input_tokens: r.cost_input_tokens,
                cost_output_tokens: r.cost_output_tokens,
                cost_compute_ms: r.cost_compute_ms,
            }),
            StoreRecord::Source(s) => Line::Source(SourceLine {
                name: s.name,
                url: s.url,
                secret: s.secret,
                models: s.models,
                events_cursor: s.events_cursor,
                updated_at: s.updated_at,
            }),
            StoreRecord::SourceEvent {
                source,
                event_id,
                at,
            } => Line::SourceEvent(SourceEventLine {
                source,
                event_id,
                at: Some(at),
            }),
            StoreRecord::SourceCommit { client_tx_id, at } => {
                Line::SourceCommit(SourceCommitLine {
                    client_tx_id,
                    at: Some(at),
                })
            }
            StoreRecord::Row(r) => Line::Row(RowLine {
                model: r.model,
                id: r.id,
                data: r.data,
                field_stamps: r.field_stamps,
                stamp: r.stamp,
                created_at: r.created_at,
                updated_at: r.updated_at,
                sync_groups: r.sync_groups,
            }),
            StoreRecord::Delta { position, delta } => Line::Delta(DeltaLine { position, delta }),
            StoreRecord::Audit { position, entry } => Line::Audit(AuditLine { position, entry }),
            StoreRecord::Idempotency(i) => Line::Idempotency(IdempotencyLine {
                principal: i.principal,
                client_tx_id: i.client_tx_id,
                body_hash: i.body_hash,
                receipt: i.receipt,
                created_at: i.created_at,
            }),
        }
    }
}

/// What a line holds once read (one at a time, so its size does not
/// matter).
#[allow(clippy::large_enum_variant)]
pub(crate) enum Parsed {
    /// Another header: only the first line may be one.
    Header,
    Record(StoreRecord),
    End(EndLine),
}

impl TryFrom<Line> for Parsed {
    type Error = String;

    fn try_from(line: Line) -> Result<Parsed, String> {
        Ok(Parsed::Record(match line {
            Line::Header(_) => return Ok(Parsed::Header),
            Line::End(end) => return Ok(Parsed::End(end)),
            Line::Schema(schema) => StoreRecord::Schema(schema),
            Line::ServerSecret(s) => StoreRecord::ServerSecret {
                secret: hex::decode(&s.secret)
                    .map_err(|e| format!("server secret `{}`: {e}", s.name))?,
                name: s.name,
            },
            Line::ApiKey(k) => StoreRecord::ApiKey(ApiKeyRecord {
                id: k.id,
                key_hash: k.key_hash,
                label: k.label,
                created_at: k.created_at,
            }),
            Line::Capability(c) => StoreRecord::Capability(CapabilityRecord {
                id: c.id,
                token_hash: c.token_hash,
                participant: c.participant,
                on_behalf_of: c.on_behalf_of,
                operations: c.operations,
                sync_groups: c.sync_groups,
                label: c.label,
                created_by: c.created_by,
                created_at: c.created_at,
                expires_at: c.expires_at,
                revoked_at: c.revoked_at,
            }),
            Line::AgentRun(r) => StoreRecord::AgentRun(AgentRunRecord {
                id: r.id,
                participant: r.participant,
                on_behalf_of: r.on_behalf_of,
                capability_id: r.capability_id,
                prompt: r.prompt,
                surface: r.surface,
                parent_task_id: r.parent_task_id,
                metadata: r.metadata,
                status: r.status,
                created_at: r.created_at,
                closed_at: r.closed_at,
                cost_input_tokens: r.cost_input_tokens,
                cost_output_tokens: r.cost_output_tokens,
                cost_compute_ms: r.cost_compute_ms,
            }),
            Line::Source(s) => StoreRecord::Source(SourceRecord {
                name: s.name,
                url: s.url,
                secret: s.secret,
                models: s.models,
                events_cursor: s.events_cursor,
                updated_at: s.updated_at,
            }),
            Line::SourceEvent(e) => StoreRecord::SourceEvent {
                source: e.source,
                event_id: e.event_id,
                at: e.at.unwrap_or_else(Timestamp::now),
            },
            Line::SourceCommit(c) => StoreRecord::SourceCommit {
                client_tx_id: c.client_tx_id,
                at: c.at.unwrap_or_else(Timestamp::now),
            },
            Line::Row(r) => StoreRecord::Row(StoredRow {
                model: r.model,
                id: r.id,
                data: r.data,
                field_stamps: r.field_stamps,
                stamp: r.stamp,
                created_at: r.created_at,
                updated_at: r.updated_at,
                sync_groups: r.sync_groups,
            }),
            Line::Delta(d) => StoreRecord::Delta {
                position: d.position,
                delta: d.delta,
            },
            Line::Audit(a) => StoreRecord::Audit {
                position: a.position,
                entry: a.entry,
            },
            Line::Idempotency(i) => StoreRecord::Idempotency(IdempotencyRecord {
                principal: i.principal,
                client_tx_id: i.client_tx_id,
                body_hash: i.body_hash,
                receipt: i.receipt,
                created_at: i.created_at,
            }),
        }))
    }
}
