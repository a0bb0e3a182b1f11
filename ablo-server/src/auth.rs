//! API keys: generation, hashing (only SHA-256 hashes are stored) and the
//! in-memory key table requests are checked against.

use std::collections::HashMap;
use std::sync::RwLock;

use ablo_runtime::wire::{Actor, ParticipantKind};
use sha2::{Digest, Sha256};

use crate::storage::ApiKeyRecord;

/// Who a request acts as, taken from its credential.
///
/// ```
/// use ablo_server::auth::Principal;
/// use ablo_runtime::wire::{Actor, ParticipantKind};
/// let p = Principal { actor: Actor { kind: ParticipantKind::System, id: "key_ab12".into() } };
/// assert_eq!(p.actor.id, "key_ab12");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Principal {
    /// The participant: for an API key, `system` with the key's id.
    pub actor: Actor,
}

/// Hex SHA-256 of a key's text.
///
/// ```
/// let h = ablo_server::auth::hash_key("sk_test_x");
/// assert_eq!(h.len(), 64);
/// ```
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
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
    format!(
        "sk_test_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
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
#[derive(Default, Debug)]
pub struct ApiKeys {
    by_hash: RwLock<HashMap<String, ApiKeyRecord>>,
}

impl ApiKeys {
    /// Adds a key.
    pub fn insert(&self, record: ApiKeyRecord) {
        self.by_hash
            .write()
            .expect("key table")
            .insert(record.key_hash.clone(), record);
    }

    /// Whether no key is known.
    pub fn is_empty(&self) -> bool {
        self.by_hash.read().expect("key table").is_empty()
    }

    /// The principal of a presented key, if the key is known.
    pub fn principal_for(&self, key: &str) -> Option<Principal> {
        let table = self.by_hash.read().expect("key table");
        table.get(&hash_key(key)).map(|record| Principal {
            actor: Actor {
                kind: ParticipantKind::System,
                id: record.id.clone(),
            },
        })
    }
}
