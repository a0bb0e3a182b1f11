//! The audit entry as stored: one attributed, hash-chained record per
//! accepted commit and model, with its canonical encoding and hash. The
//! chain's rules and its verification are in [`crate::audit`]; the entry
//! lives here because every backend reads and writes it.

use ablo_runtime::wire::{Actor, Participant};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `prevHash` of the first entry of every chain.
///
/// ```
/// assert_eq!(ablo_server::audit::GENESIS_HASH.len(), 64);
/// ```
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit entry: an accepted commit's effect on one model.
///
/// ```
/// use ablo_server::audit::{AuditEntry, GENESIS_HASH};
/// use ablo_runtime::wire::{Actor, ParticipantKind};
/// let mut entry = AuditEntry::example();
/// entry.seal(GENESIS_HASH);
/// assert!(entry.hash_is_valid());
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Position in the principal's chain, from 1.
    pub chain_seq: u64,
    /// When the commit was accepted, milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// Who acted (from the credential); also the chain's principal.
    pub actor: Actor,
    /// The user an agent or service acted for, if any.
    pub on_behalf_of: Option<Participant>,
    /// The capability the actor presented, if any.
    pub capability_id: Option<String>,
    /// That capability's label.
    pub capability_label: Option<String>,
    /// The agent run (task) that caused the commit, if any.
    pub task_id: Option<String>,
    /// The model written.
    pub model: String,
    /// `insert`, `update` or `delete` (the commit's action on this model).
    pub action: String,
    /// The ids of the rows written.
    pub row_ids: Vec<String>,
    /// The commit's sync id.
    pub sync_id: u64,
    /// Whether the commit was accepted under `onStale: flag` with a stale read.
    pub flagged: bool,
    /// Names of the fields that changed (a diff summary, no values).
    pub changed_fields: Vec<String>,
    /// The previous entry's `rowHash`.
    pub prev_hash: String,
    /// Hash of this entry's canonical encoding.
    pub row_hash: String,
}

impl AuditEntry {
    /// The canonical encoding hashed into `rowHash`.
    ///
    /// ```
    /// let entry = ablo_server::audit::AuditEntry::example();
    /// let bytes = entry.canonical_bytes();
    /// assert!(!String::from_utf8(bytes).unwrap().contains("rowHash"));
    /// ```
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut value = serde_json::to_value(self).expect("audit entries serialize");
        if let Some(object) = value.as_object_mut() {
            object.remove("rowHash");
        }
        // `serde_json::Value` objects iterate in sorted key order, which is
        // what makes this encoding canonical.
        serde_json::to_vec(&value).expect("audit entries serialize")
    }

    /// The hash this entry should carry.
    ///
    /// ```
    /// let entry = ablo_server::audit::AuditEntry::example();
    /// assert_eq!(entry.computed_hash().len(), 64);
    /// ```
    pub fn computed_hash(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_bytes()))
    }

    /// Links the entry after `prev_hash` and stores its hash.
    pub fn seal(&mut self, prev_hash: &str) {
        self.prev_hash = prev_hash.to_owned();
        self.row_hash = self.computed_hash();
    }

    /// Whether the stored hash matches the content.
    pub fn hash_is_valid(&self) -> bool {
        self.row_hash == self.computed_hash()
    }

    /// A filled-in entry for examples and tests.
    #[doc(hidden)]
    pub fn example() -> AuditEntry {
        AuditEntry {
            chain_seq: 1,
            at_ms: 1_700_000_000_000,
            actor: Actor {
                kind: ablo_runtime::wire::ParticipantKind::System,
                id: "key_1".into(),
            },
            on_behalf_of: None,
            capability_id: None,
            capability_label: None,
            task_id: None,
            model: "tasks".into(),
            action: "update".into(),
            row_ids: vec!["t1".into()],
            sync_id: 7,
            flagged: false,
            changed_fields: vec!["status".into()],
            prev_hash: GENESIS_HASH.into(),
            row_hash: String::new(),
        }
    }
}
