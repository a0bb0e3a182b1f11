//! Credentials: API keys (generation, hashing: only SHA-256 hashes are
//! stored) and the [`Principal`] a request acts as. Capability tokens are
//! minted and checked in [`crate::capability`].

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use ablo_runtime::Timestamp;
use ablo_runtime::wire::{Actor, Participant, ParticipantKind};
use sha2::{Digest, Sha256};

use crate::scope::Scope;
use crate::storage::ApiKeyRecord;

/// The capability a principal presented: its id, label and expiry.
///
/// ```
/// use ablo_server::auth::Grant;
/// let grant = Grant { id: "cap_1".into(), label: Some("triage".into()),
///     expires_at: ablo_runtime::Timestamp::now() };
/// assert_eq!(grant.id, "cap_1");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Grant {
    /// The capability's id (`cap_...`, never its token).
    pub id: String,
    /// Its label, if minted with one.
    pub label: Option<String>,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// Who a request acts as, taken from its credential, never from the body.
///
/// ```
/// use ablo_server::auth::Principal;
/// use ablo_runtime::wire::ParticipantKind;
/// let p = Principal::api_key("key_ab12");
/// assert_eq!(p.actor.kind, ParticipantKind::System);
/// assert!(p.is_api_key());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Principal {
    /// The participant: for an API key, `system` with the key's id; for a
    /// capability, the participant it was minted for.
    pub actor: Actor,
    /// The participant the actor works for, if the capability names one.
    pub on_behalf_of: Option<Participant>,
    /// The capability presented; `None` for an API key.
    pub grant: Option<Grant>,
    /// What the credential allows (everything for an API key).
    pub scope: Arc<Scope>,
}

impl Principal {
    /// The principal of an API key with id `key_id`: `system`, unrestricted.
    pub fn api_key(key_id: &str) -> Principal {
        Principal {
            actor: Actor {
                kind: ParticipantKind::System,
                id: key_id.to_owned(),
            },
            on_behalf_of: None,
            grant: None,
            scope: Arc::new(Scope::unrestricted()),
        }
    }

    /// Whether the credential is an API key (not a capability).
    pub fn is_api_key(&self) -> bool {
        self.grant.is_none()
    }

    /// The key idempotency records are kept under: the participant and the
    /// exact scope it acted with. A fresh capability for the same
    /// participant and scope (a browser's refreshed token) replays its
    /// predecessor's commits; any other credential's replay is a new commit,
    /// judged by its own scope.
    ///
    /// ```
    /// let a = ablo_server::auth::Principal::api_key("key_1");
    /// let b = ablo_server::auth::Principal::api_key("key_2");
    /// assert_ne!(a.idempotency_key(), b.idempotency_key());
    /// assert_eq!(a.idempotency_key(), a.clone().idempotency_key());
    /// ```
    pub fn idempotency_key(&self) -> String {
        let mut operations = self.scope.operations().to_vec();
        let mut groups = self.scope.sync_groups().to_vec();
        operations.sort();
        groups.sort();
        let mut hasher = Sha256::new();
        let on_behalf = self
            .on_behalf_of
            .as_ref()
            .map(|p| format!("{}:{}", p.kind.as_str(), p.id))
            .unwrap_or_default();
        for part in [
            self.actor.kind.as_str().to_owned(),
            self.actor.id.clone(),
            on_behalf,
            operations.join("\u{1f}"),
            groups.join("\u{1f}"),
        ] {
            hasher.update(part.as_bytes());
            hasher.update([0u8]);
        }
        hex::encode(&hasher.finalize()[..16])
    }

    /// The acting participant as intents and presence name it.
    ///
    /// ```
    /// let p = ablo_server::auth::Principal::api_key("key_1");
    /// assert_eq!(p.participant().id, "key_1");
    /// ```
    pub fn participant(&self) -> Participant {
        Participant {
            id: self.actor.id.clone(),
            kind: self.actor.kind,
        }
    }
}

/// Hex SHA-256 of a key's or token's text.
///
/// ```
/// let h = ablo_server::auth::hash_key("sk_test_x");
/// assert_eq!(h.len(), 64);
/// ```
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// 64 hex digits from the operating system's random source.
fn random_hex() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// A new random test key: `sk_test_` and 64 hex digits from the operating
/// system's random source.
///
/// ```
/// let key = ablo_server::auth::generate_key();
/// assert!(key.starts_with("sk_test_"));
/// assert_ne!(key, ablo_server::auth::generate_key());
/// ```
pub fn generate_key() -> String {
    format!("sk_test_{}", random_hex())
}

/// A new random live key: `sk_live_` and 64 hex digits.
///
/// ```
/// assert!(ablo_server::auth::generate_live_key().starts_with("sk_live_"));
/// ```
pub fn generate_live_key() -> String {
    format!("sk_live_{}", random_hex())
}

/// A new random capability token: `cap_` and 64 hex digits.
///
/// ```
/// let token = ablo_server::auth::generate_capability_token();
/// assert!(token.starts_with("cap_") && token.len() == 68);
/// ```
pub fn generate_capability_token() -> String {
    format!("cap_{}", random_hex())
}

/// Whether `key` has the shape of an API key: `sk_test_` or `sk_live_`
/// followed by at least 16 characters of `[A-Za-z0-9_]`.
///
/// ```
/// use ablo_server::auth::is_api_key_format;
/// assert!(is_api_key_format("sk_live_0123456789abcdef"));
/// assert!(!is_api_key_format("sk_test_short"));
/// assert!(!is_api_key_format("pk_test_0123456789abcdef"));
/// ```
pub fn is_api_key_format(key: &str) -> bool {
    let body = key
        .strip_prefix("sk_test_")
        .or_else(|| key.strip_prefix("sk_live_"));
    matches!(body, Some(b) if b.len() >= 16 && b.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

/// A stored record for `key`: its id is `key_` and the first 12 hex digits
/// of its hash.
///
/// ```
/// let record = ablo_server::auth::record_for("sk_test_0123456789abcdef", "bootstrap");
/// assert!(record.id.starts_with("key_"));
/// assert_ne!(record.key_hash, "sk_test_0123456789abcdef");
/// ```
pub fn record_for(key: &str, label: &str) -> ApiKeyRecord {
    let key_hash = hash_key(key);
    ApiKeyRecord {
        id: format!("key_{}", &key_hash[..12]),
        key_hash,
        label: label.to_owned(),
        created_at: ablo_runtime::Timestamp::now(),
    }
}

/// The keys a server accepts, by hash.
///
/// ```
/// use ablo_server::auth::{record_for, ApiKeys};
/// let keys = ApiKeys::default();
/// keys.insert(record_for("sk_test_0123456789abcdef", "test"));
/// assert!(keys.principal_for("sk_test_0123456789abcdef").is_some());
/// assert!(keys.principal_for("sk_test_something_else_entirely").is_none());
/// ```
#[derive(Debug)]
pub struct ApiKeys {
    by_hash: RwLock<HashMap<String, ApiKeyRecord>>,
    revoked: tokio::sync::broadcast::Sender<String>,
}

impl Default for ApiKeys {
    fn default() -> Self {
        ApiKeys {
            by_hash: RwLock::default(),
            revoked: tokio::sync::broadcast::channel(64).0,
        }
    }
}

impl ApiKeys {
    /// Adds a key.
    ///
    /// ```
    /// let keys = ablo_server::auth::ApiKeys::default();
    /// keys.insert(ablo_server::auth::record_for("sk_test_0123456789abcdef", "test"));
    /// assert!(!keys.is_empty());
    /// ```
    pub fn insert(&self, record: ApiKeyRecord) {
        self.by_hash
            .write()
            .expect("key table")
            .insert(record.key_hash.clone(), record);
    }

    /// Replaces every key (keys created or revoked from the command line
    /// while the server runs are picked up this way); returns the ids of
    /// the keys that are gone, and tells their open sessions.
    ///
    /// ```
    /// use ablo_server::auth::{record_for, ApiKeys};
    /// let keys = ApiKeys::default();
    /// let record = record_for("sk_test_0123456789abcdef", "test");
    /// keys.insert(record.clone());
    /// assert_eq!(keys.replace_all(vec![]), vec![record.id]);
    /// ```
    pub fn replace_all(&self, records: Vec<ApiKeyRecord>) -> Vec<String> {
        let table: HashMap<String, ApiKeyRecord> = records
            .into_iter()
            .map(|record| (record.key_hash.clone(), record))
            .collect();
        let mut current = self.by_hash.write().expect("key table");
        let gone: Vec<String> = current
            .iter()
            .filter(|(hash, _)| !table.contains_key(*hash))
            .map(|(_, record)| record.id.clone())
            .collect();
        *current = table;
        drop(current);
        for id in &gone {
            let _ = self.revoked.send(id.clone());
        }
        gone
    }

    /// Whether a key with this id is known.
    pub fn contains_id(&self, id: &str) -> bool {
        self.by_hash
            .read()
            .expect("key table")
            .values()
            .any(|record| record.id == id)
    }

    /// Resolves when the API key `key_id` is revoked (at once if it is not
    /// known), so its open sessions can be told.
    pub async fn ended(&self, key_id: &str) {
        let mut revoked = self.revoked.subscribe();
        if !self.contains_id(key_id) {
            return;
        }
        loop {
            match revoked.recv().await {
                Ok(id) if id == key_id => return,
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    if !self.contains_id(key_id) {
                        return;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                    return std::future::pending().await;
                }
            }
        }
    }

    /// Whether no key is known.
    ///
    /// ```
    /// assert!(ablo_server::auth::ApiKeys::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.by_hash.read().expect("key table").is_empty()
    }

    /// The principal of a presented key, if the key is known.
    ///
    /// ```
    /// use ablo_server::auth::{record_for, ApiKeys};
    /// let keys = ApiKeys::default();
    /// let record = record_for("sk_test_0123456789abcdef", "test");
    /// keys.insert(record.clone());
    /// assert_eq!(keys.principal_for("sk_test_0123456789abcdef").unwrap().actor.id, record.id);
    /// ```
    pub fn principal_for(&self, key: &str) -> Option<Principal> {
        let table = self.by_hash.read().expect("key table");
        table
            .get(&hash_key(key))
            .map(|record| Principal::api_key(&record.id))
    }
}
