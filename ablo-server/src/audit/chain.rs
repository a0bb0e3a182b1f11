//! The audit hash chain: verification of a principal's chain. The entry
//! itself, its canonical encoding and its hash are defined with the stored
//! records ([`crate::storage::AuditEntry`]).
//!
//! Each principal (the participant that acted: kind and id) has its own
//! chain. Entry `n` of a chain stores `prevHash` (the `rowHash` of entry
//! `n − 1`, or 64 zeros for the first) and `rowHash`: the lowercase hex
//! SHA-256 of the entry's canonical encoding. The canonical encoding is the
//! entry as a JSON object **without** `rowHash`, keys sorted by their UTF-8
//! bytes, no whitespace, numbers as integers, absent optional values as
//! `null`. Editing any stored field of an entry changes its hash; recomputing
//! that hash breaks the next entry's `prevHash` link.

use crate::storage::{AuditEntry, GENESIS_HASH};

/// The result of verifying one principal's chain; [`VerifyReport::to_json`]
/// is the body of `GET /v1/audit/verify`.
///
/// ```
/// use ablo_server::audit::VerifyReport;
/// let ok = VerifyReport::Intact { rows_checked: 0, from_seq: None, last_seq: None, last_hash: None };
/// assert_eq!(ok.to_json()["ok"], true);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum VerifyReport {
    /// Every link holds.
    Intact {
        /// Entries checked.
        rows_checked: u64,
        /// The first entry's `chainSeq`.
        from_seq: Option<u64>,
        /// The last entry's `chainSeq`.
        last_seq: Option<u64>,
        /// The last entry's `rowHash`: save it with `last_seq` elsewhere and
        /// pass both back as an anchor ([`verify_chain_against`]) to detect
        /// entries removed from the end.
        last_hash: Option<String>,
    },
    /// The first broken link.
    Broken {
        /// The `chainSeq` of the entry that fails.
        broken_at_seq: u64,
        /// `row_hash_mismatch`, `prev_hash_mismatch`, `sequence_gap`, or
        /// against an anchor `truncated` (the chain ends before it) or
        /// `anchor_mismatch` (the entry there has another hash).
        reason: String,
        /// The hash the entry should carry (or link to).
        expected_hash: String,
        /// The hash found in storage.
        found_hash: String,
    },
}

impl VerifyReport {
    /// Whether the chain is intact.
    ///
    /// ```
    /// use ablo_server::audit::VerifyReport;
    /// assert!(VerifyReport::Intact { rows_checked: 0, from_seq: None, last_seq: None, last_hash: None }.is_ok());
    /// ```
    pub fn is_ok(&self) -> bool {
        matches!(self, VerifyReport::Intact { .. })
    }

    /// The report as the JSON clients receive: `{ok, rowsChecked, fromSeq,
    /// lastSeq, lastHash}` or `{ok: false, brokenAtSeq, reason, expectedHash, foundHash}`.
    ///
    /// ```
    /// use ablo_server::audit::VerifyReport;
    /// let json = VerifyReport::Intact { rows_checked: 2, from_seq: Some(1), last_seq: Some(2),
    ///     last_hash: Some("ab".into()) }.to_json();
    /// assert_eq!(json["ok"], true);
    /// assert_eq!(json["rowsChecked"], 2);
    /// ```
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            VerifyReport::Intact {
                rows_checked,
                from_seq,
                last_seq,
                last_hash,
            } => serde_json::json!({
                "ok": true,
                "rowsChecked": rows_checked,
                "fromSeq": from_seq,
                "lastSeq": last_seq,
                "lastHash": last_hash,
            }),
            VerifyReport::Broken {
                broken_at_seq,
                reason,
                expected_hash,
                found_hash,
            } => serde_json::json!({
                "ok": false,
                "brokenAtSeq": broken_at_seq,
                "reason": reason,
                "expectedHash": expected_hash,
                "foundHash": found_hash,
            }),
        }
    }
}

/// Walks one principal's entries in `chainSeq` order and reports the first
/// broken link, if any.
///
/// ```
/// use ablo_server::audit::{verify_chain, AuditEntry, GENESIS_HASH};
/// let mut first = AuditEntry::example();
/// first.seal(GENESIS_HASH);
/// let mut second = AuditEntry { chain_seq: 2, sync_id: 8, ..AuditEntry::example() };
/// second.seal(&first.row_hash);
/// assert!(verify_chain([first, second]).is_ok());
/// ```
pub fn verify_chain(entries: impl IntoIterator<Item = AuditEntry>) -> VerifyReport {
    verify_chain_against(entries, None)
}

/// [`verify_chain`], and then the anchor `(chainSeq, rowHash)` saved from an
/// earlier report must still be in the chain: a chain that ends before it
/// lost entries from its end (`truncated`), one whose entry there has
/// another hash was rewritten (`anchor_mismatch`).
///
/// ```
/// use ablo_server::audit::{verify_chain_against, AuditEntry, GENESIS_HASH};
/// let mut first = AuditEntry::example();
/// first.seal(GENESIS_HASH);
/// let anchor = (1, first.row_hash.clone());
/// assert!(verify_chain_against([first], Some(anchor.clone())).is_ok());
/// let emptied = verify_chain_against(Vec::new(), Some(anchor));
/// assert_eq!(emptied.to_json()["reason"], "truncated");
/// ```
pub fn verify_chain_against(
    entries: impl IntoIterator<Item = AuditEntry>,
    anchor: Option<(u64, String)>,
) -> VerifyReport {
    let mut anchor_seen = false;
    let mut expected_prev = GENESIS_HASH.to_owned();
    let mut expected_seq: Option<u64> = Some(1);
    let mut first_seq = None;
    let mut last_seq = None;
    let mut rows_checked = 0;
    for entry in entries {
        if let Some(seq) = expected_seq
            && entry.chain_seq != seq
        {
            // The position the chain expected: the sequence of the entry
            // that was removed, renumbered or moved to another chain.
            return VerifyReport::Broken {
                broken_at_seq: seq,
                reason: "sequence_gap".into(),
                expected_hash: expected_prev,
                found_hash: entry.prev_hash,
            };
        }
        if entry.prev_hash != expected_prev {
            return VerifyReport::Broken {
                broken_at_seq: entry.chain_seq,
                reason: "prev_hash_mismatch".into(),
                expected_hash: expected_prev,
                found_hash: entry.prev_hash,
            };
        }
        let computed = entry.computed_hash();
        if computed != entry.row_hash {
            return VerifyReport::Broken {
                broken_at_seq: entry.chain_seq,
                reason: "row_hash_mismatch".into(),
                expected_hash: computed,
                found_hash: entry.row_hash,
            };
        }
        if let Some((seq, hash)) = &anchor
            && entry.chain_seq == *seq
        {
            if entry.row_hash != *hash {
                return VerifyReport::Broken {
                    broken_at_seq: *seq,
                    reason: "anchor_mismatch".into(),
                    expected_hash: hash.clone(),
                    found_hash: entry.row_hash,
                };
            }
            anchor_seen = true;
        }
        first_seq.get_or_insert(entry.chain_seq);
        last_seq = Some(entry.chain_seq);
        expected_seq = Some(entry.chain_seq + 1);
        expected_prev = entry.row_hash;
        rows_checked += 1;
    }
    if let Some((_, hash)) = anchor
        && !anchor_seen
    {
        return VerifyReport::Broken {
            broken_at_seq: last_seq.map_or(1, |last| last + 1),
            reason: "truncated".into(),
            expected_hash: hash,
            found_hash: String::new(),
        };
    }
    VerifyReport::Intact {
        rows_checked,
        from_seq: first_seq,
        last_hash: last_seq.is_some().then_some(expected_prev),
        last_seq,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(len: u64) -> Vec<AuditEntry> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=len)
            .map(|seq| {
                let mut entry = AuditEntry {
                    chain_seq: seq,
                    sync_id: seq * 10,
                    ..AuditEntry::example()
                };
                entry.seal(&prev);
                prev = entry.row_hash.clone();
                entry
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_reports_its_range() {
        let report = verify_chain(chain(5));
        assert_eq!(
            report,
            VerifyReport::Intact {
                rows_checked: 5,
                from_seq: Some(1),
                last_seq: Some(5),
                last_hash: Some(chain(5)[4].row_hash.clone()),
            }
        );
        assert_eq!(report.to_json()["ok"], true);
    }

    #[test]
    fn editing_any_field_breaks_that_entry() {
        let edits: Vec<fn(&mut AuditEntry)> = vec![
            |e| e.model = "projects".into(),
            |e| e.action = "delete".into(),
            |e| e.flagged = true,
            |e| e.sync_id += 1,
            |e| e.at_ms += 1,
            |e| e.actor.id = "key_2".into(),
            |e| e.row_ids.push("t9".into()),
            |e| e.changed_fields.clear(),
            |e| e.task_id = Some("task_1".into()),
            |e| e.capability_id = Some("cap_1".into()),
        ];
        for edit in edits {
            let mut entries = chain(4);
            edit(&mut entries[2]);
            match verify_chain(entries) {
                VerifyReport::Broken {
                    broken_at_seq,
                    reason,
                    ..
                } => {
                    assert_eq!(broken_at_seq, 3);
                    assert_eq!(reason, "row_hash_mismatch");
                }
                intact => panic!("edit went unnoticed: {intact:?}"),
            }
        }
    }

    #[test]
    fn a_resealed_edit_breaks_the_next_link() {
        let mut entries = chain(4);
        entries[1].model = "projects".into();
        let prev = entries[0].row_hash.clone();
        entries[1].seal(&prev);
        let report = verify_chain(entries);
        let json = report.to_json();
        assert_eq!(json["ok"], false);
        assert_eq!(json["brokenAtSeq"], 3);
        assert_eq!(json["reason"], "prev_hash_mismatch");
    }

    #[test]
    fn a_removed_entry_is_a_sequence_gap() {
        let mut entries = chain(4);
        entries.remove(1);
        let VerifyReport::Broken {
            broken_at_seq,
            reason,
            ..
        } = verify_chain(entries)
        else {
            panic!("gap went unnoticed")
        };
        assert_eq!((broken_at_seq, reason.as_str()), (2, "sequence_gap"));
    }

    #[test]
    fn the_encoding_is_stable() {
        let mut entry = AuditEntry::example();
        entry.seal(GENESIS_HASH);
        let text = String::from_utf8(entry.canonical_bytes()).unwrap();
        assert!(
            text.starts_with(r#"{"action":"update","actor":{"id":"key_1","kind":"system"}"#),
            "{text}"
        );
        assert!(!text.contains(' '));
    }
}
