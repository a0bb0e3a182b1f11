//! The in-memory table of capabilities, minting, revocation and token
//! checks.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ablo_runtime::Timestamp;
use ablo_runtime::wire::{Actor, Participant, ParticipantKind};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::broadcast;

use super::{AccessError, Scope};
use crate::auth::{Grant, Principal, generate_capability_token, hash_key};
use crate::storage::CapabilityRecord;

/// Default lifetime of a capability: one hour.
const DEFAULT_TTL_SECONDS: u64 = 3600;
/// Longest lifetime: 30 days.
const MAX_TTL_SECONDS: u64 = 30 * 24 * 3600;

/// The participant a capability acts for.
///
/// ```
/// let who: ablo_server::capability::OnBehalfOf =
///     serde_json::from_str(r#"{"kind": "user", "id": "u_1"}"#).unwrap();
/// assert_eq!(who.id, "u_1");
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OnBehalfOf {
    /// `user`, `agent` or `system`.
    pub kind: ParticipantKind,
    /// The participant's id.
    pub id: String,
}

/// `POST /v1/capabilities`.
///
/// ```
/// let req: ablo_server::capability::MintRequest = serde_json::from_str(r#"{
///   "participantKind": "agent", "participantId": "triage-bot",
///   "onBehalfOf": {"kind": "user", "id": "u_1"},
///   "operations": ["tasks.read", "tasks.update"], "syncGroups": ["org:org_1"],
///   "ttlSeconds": 600, "label": "triage"}"#).unwrap();
/// assert_eq!(req.operations.len(), 2);
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MintRequest {
    /// `agent`, `user` or `system`.
    pub participant_kind: ParticipantKind,
    /// The participant's id, recorded as the actor of every write.
    pub participant_id: String,
    /// For whom the participant acts.
    #[serde(default)]
    pub on_behalf_of: Option<OnBehalfOf>,
    /// Operation patterns: `tasks.read`, `tasks.*`, `*.read`, `*`.
    pub operations: Vec<String>,
    /// Sync-group patterns: `org:org_1`, `deck:*`, `*`.
    pub sync_groups: Vec<String>,
    /// Lifetime in seconds (default 3600, at most 30 days).
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
    /// A label copied into audit rows.
    #[serde(default)]
    pub label: Option<String>,
}

/// Why a capability token was refused.
///
/// ```
/// use ablo_server::capability::{AccessError, CapabilityRejected};
/// let answered = ablo_server::ApiError::from(AccessError::from(CapabilityRejected::Revoked));
/// assert_eq!(answered.code(), "capability_revoked");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapabilityRejected {
    /// No capability has this token.
    Unknown,
    /// Its expiry has passed.
    Expired,
    /// It was revoked.
    Revoked,
}

struct Entry {
    record: CapabilityRecord,
    scope: Arc<Scope>,
}

/// Every capability the server knows, by token hash and id, and the
/// revocation signal open sessions listen to.
pub struct Capabilities {
    by_hash: RwLock<HashMap<String, Arc<Entry>>>,
    hash_by_id: RwLock<HashMap<String, String>>,
    revoked: broadcast::Sender<String>,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            by_hash: RwLock::default(),
            hash_by_id: RwLock::default(),
            revoked: broadcast::channel(256).0,
        }
    }
}

impl std::fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.by_hash.read().map(|t| t.len()).unwrap_or(0);
        f.debug_struct("Capabilities")
            .field("count", &count)
            .finish()
    }
}

fn invalid(message: impl Into<String>) -> AccessError {
    AccessError::InvalidCapability(message.into())
}

impl Capabilities {
    /// Adds a stored capability (at start, or after minting).
    pub fn insert(&self, record: CapabilityRecord) {
        let scope = Scope::new(record.operations.clone(), record.sync_groups.clone())
            .unwrap_or_else(|_| {
                Scope::new(Vec::<String>::new(), Vec::<String>::new()).expect("empty scope")
            });
        let hash = record.token_hash.clone();
        self.hash_by_id
            .write()
            .expect("capability table")
            .insert(record.id.clone(), hash.clone());
        self.by_hash.write().expect("capability table").insert(
            hash,
            Arc::new(Entry {
                record,
                scope: Arc::new(scope),
            }),
        );
    }

    /// Checks a request and builds the record and the token (shown once).
    /// Nothing is stored yet.
    pub fn prepare_mint(
        &self,
        request: MintRequest,
        minted_by: &str,
    ) -> Result<(CapabilityRecord, String), AccessError> {
        if request.participant_id.trim().is_empty() || request.participant_id.len() > 256 {
            return Err(invalid("participantId must be 1 to 256 characters"));
        }
        if request.operations.is_empty() || request.sync_groups.is_empty() {
            return Err(invalid(
                "operations and syncGroups each need at least one pattern",
            ));
        }
        Scope::new(request.operations.clone(), request.sync_groups.clone())
            .map_err(|err| invalid(err.to_string()))?;
        if let Some(who) = &request.on_behalf_of
            && who.id.trim().is_empty()
        {
            return Err(invalid("onBehalfOf.id must not be empty"));
        }
        let ttl = request.ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
        if ttl == 0 || ttl > MAX_TTL_SECONDS {
            return Err(invalid(format!(
                "ttlSeconds must be 1 to {MAX_TTL_SECONDS}"
            )));
        }
        let now = Timestamp::now();
        let token = generate_capability_token();
        let token_hash = hash_key(&token);
        let record = CapabilityRecord {
            id: format!("cap_{}", uuid::Uuid::now_v7().simple()),
            token_hash,
            participant: Participant {
                id: request.participant_id,
                kind: request.participant_kind,
            },
            on_behalf_of: request.on_behalf_of.map(|p| Participant {
                id: p.id,
                kind: p.kind,
            }),
            operations: request.operations,
            sync_groups: request.sync_groups,
            label: request.label,
            created_by: minted_by.to_owned(),
            created_at: now,
            expires_at: Timestamp::from_millis(now.as_millis() + (ttl as i64) * 1000)
                .ok_or_else(|| invalid("ttlSeconds is too large"))?,
            revoked_at: None,
        };
        Ok((record, token))
    }

    /// The principal of a presented `cap_` token.
    pub fn principal_for(&self, token: &str) -> Result<Principal, CapabilityRejected> {
        let entry = self
            .by_hash
            .read()
            .expect("capability table")
            .get(&hash_key(token))
            .cloned()
            .ok_or(CapabilityRejected::Unknown)?;
        let record = &entry.record;
        if record.revoked_at.is_some() {
            return Err(CapabilityRejected::Revoked);
        }
        if Timestamp::now() >= record.expires_at {
            return Err(CapabilityRejected::Expired);
        }
        Ok(Principal {
            actor: Actor {
                kind: record.participant.kind,
                id: record.participant.id.clone(),
            },
            on_behalf_of: record.on_behalf_of.clone(),
            grant: Some(Grant {
                id: record.id.clone(),
                label: record.label.clone(),
                expires_at: record.expires_at,
            }),
            scope: entry.scope.clone(),
        })
    }

    /// Forgets capabilities that expired or were revoked before `before`
    /// (they stay in storage); returns how many. Until then their tokens
    /// keep answering `capability_expired` or `capability_revoked` rather
    /// than an unknown credential.
    ///
    /// ```
    /// use ablo_server::capability::Capabilities;
    /// use ablo_server::storage::CapabilityRecord;
    /// let caps = Capabilities::default();
    /// let mut record = CapabilityRecord::example();
    /// record.expires_at = ablo_runtime::Timestamp::from_millis(1_000).unwrap();
    /// caps.insert(record.clone());
    /// assert_eq!(caps.prune_ended(ablo_runtime::Timestamp::from_millis(500).unwrap()), 0);
    /// assert_eq!(caps.prune_ended(ablo_runtime::Timestamp::now()), 1);
    /// assert!(caps.get(&record.id).is_none());
    /// ```
    pub fn prune_ended(&self, before: Timestamp) -> usize {
        let mut table = self.by_hash.write().expect("capability table");
        let mut ids = self.hash_by_id.write().expect("capability table");
        let ended: Vec<(String, String)> = table
            .iter()
            .filter(|(_, entry)| {
                let record = &entry.record;
                record.expires_at < before || record.revoked_at.is_some_and(|at| at < before)
            })
            .map(|(hash, entry)| (hash.clone(), entry.record.id.clone()))
            .collect();
        for (hash, id) in &ended {
            table.remove(hash);
            ids.remove(id);
        }
        ended.len()
    }

    /// A capability by id.
    pub fn get(&self, id: &str) -> Option<CapabilityRecord> {
        let hash = self
            .hash_by_id
            .read()
            .expect("capability table")
            .get(id)?
            .clone();
        self.by_hash
            .read()
            .expect("capability table")
            .get(&hash)
            .map(|e| e.record.clone())
    }

    /// Marks a capability revoked in memory and tells its open sessions.
    pub fn revoke(&self, id: &str, at: Timestamp) -> Option<CapabilityRecord> {
        let hash = self
            .hash_by_id
            .read()
            .expect("capability table")
            .get(id)?
            .clone();
        let mut table = self.by_hash.write().expect("capability table");
        let entry = table.get(&hash)?;
        let mut record = entry.record.clone();
        if record.revoked_at.is_none() {
            record.revoked_at = Some(at);
        }
        let scope = entry.scope.clone();
        table.insert(
            hash,
            Arc::new(Entry {
                record: record.clone(),
                scope,
            }),
        );
        drop(table);
        let _ = self.revoked.send(id.to_owned());
        Some(record)
    }

    /// Revokes every capability minted with the API key `key_id` (the key
    /// itself was revoked); returns their ids.
    pub fn revoke_minted_by(&self, key_id: &str, at: Timestamp) -> Vec<String> {
        let ids: Vec<String> = self
            .by_hash
            .read()
            .expect("capability table")
            .values()
            .filter(|e| e.record.created_by == key_id && e.record.revoked_at.is_none())
            .map(|e| e.record.id.clone())
            .collect();
        for id in &ids {
            self.revoke(id, at);
        }
        ids
    }

    /// Every later revocation, by capability id.
    pub fn revocations(&self) -> broadcast::Receiver<String> {
        self.revoked.subscribe()
    }

    /// Resolves when the capability of `grant` is revoked or expires, with
    /// the refusal to tell the session. Never resolves for an API key.
    pub async fn ended(&self, grant: Option<&Grant>) -> AccessError {
        let Some(grant) = grant else {
            return std::future::pending().await;
        };
        let mut revoked = self.revoked.subscribe();
        if self
            .get(&grant.id)
            .is_none_or(|record| record.revoked_at.is_some())
        {
            return CapabilityRejected::Revoked.into();
        }
        let left_ms = grant.expires_at.as_millis() - Timestamp::now().as_millis();
        let expiry = tokio::time::sleep(Duration::from_millis(left_ms.max(0) as u64));
        tokio::pin!(expiry);
        loop {
            tokio::select! {
                _ = &mut expiry => return CapabilityRejected::Expired.into(),
                id = revoked.recv() => match id {
                    Ok(id) if id == grant.id => return CapabilityRejected::Revoked.into(),
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        if self.get(&grant.id).is_none_or(|r| r.revoked_at.is_some()) {
                            return CapabilityRejected::Revoked.into();
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return std::future::pending().await,
                },
            }
        }
    }
}

/// The JSON of a capability as `GET /v1/capabilities/{id}` answers it
/// (never the token).
///
/// ```
/// let record = ablo_server::storage::CapabilityRecord::example();
/// let json = ablo_server::capability::Capabilities::to_json(&record);
/// assert_eq!(json["status"], "active");
/// assert!(json.get("token").is_none());
/// ```
impl Capabilities {
    /// The wire form of a record.
    pub fn to_json(record: &CapabilityRecord) -> serde_json::Value {
        let status = if record.revoked_at.is_some() {
            "revoked"
        } else if Timestamp::now() >= record.expires_at {
            "expired"
        } else {
            "active"
        };
        json!({
            "object": "capability",
            "id": record.id,
            "participantKind": record.participant.kind,
            "participantId": record.participant.id,
            "onBehalfOf": record.on_behalf_of.as_ref().map(|p| json!({"kind": p.kind, "id": p.id})),
            "operations": record.operations,
            "syncGroups": record.sync_groups,
            "label": record.label,
            "createdBy": record.created_by,
            "createdAt": record.created_at.to_string(),
            "expiresAt": record.expires_at.to_string(),
            "revokedAt": record.revoked_at.map(|t| t.to_string()),
            "status": status,
        })
    }
}
