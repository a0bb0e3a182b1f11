//! The durable write queue: with a queue directory configured
//! ([`super::ClientBuilder::queue_dir`]), every queued commit is written to
//! its own file and fsynced before the write is acknowledged locally, and
//! removed once the server settled it. A client connecting with the same
//! directory replays what is left, in order and with the original request
//! bodies (so the original `clientTxId`s): the server's idempotency makes a
//! commit that had landed before the crash answer its original receipt
//! instead of applying again.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Error;
use crate::types::Json;

/// A queued commit on disk.
pub(crate) struct Entry {
    pub(crate) seq: u64,
    pub(crate) client_tx_id: String,
    pub(crate) body: Json,
}

pub(crate) struct Journal {
    dir: PathBuf,
    next: AtomicU64,
}

fn io_error(action: &str, path: &Path, err: std::io::Error) -> Error {
    Error::configuration(
        "queue_dir_failed",
        format!("cannot {action} {}: {err}", path.display()),
    )
}

impl Journal {
    /// Opens (creating) the directory and reads the entries left in it,
    /// oldest first.
    pub(crate) fn open(dir: &Path) -> Result<(Journal, Vec<Entry>), Error> {
        fs::create_dir_all(dir).map_err(|e| io_error("create", dir, e))?;
        let mut entries = Vec::new();
        for item in fs::read_dir(dir).map_err(|e| io_error("read", dir, e))? {
            let path = item.map_err(|e| io_error("read", dir, e))?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Some(seq) = name
                .strip_suffix(".commit.json")
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            let text = fs::read(&path).map_err(|e| io_error("read", &path, e))?;
            // A file that does not parse was never completely written (it is
            // renamed into place only after an fsync), so skip it.
            let Ok(value) = serde_json::from_slice::<Json>(&text) else {
                continue;
            };
            let (Some(client_tx_id), Some(body)) =
                (value["clientTxId"].as_str(), value.get("body"))
            else {
                continue;
            };
            entries.push(Entry {
                seq,
                client_tx_id: client_tx_id.to_owned(),
                body: body.clone(),
            });
        }
        entries.sort_by_key(|e| e.seq);
        let next = entries.last().map_or(1, |e| e.seq + 1);
        Ok((
            Journal {
                dir: dir.to_owned(),
                next: AtomicU64::new(next),
            },
            entries,
        ))
    }

    /// Writes a commit and makes it durable: a temporary file, fsynced,
    /// renamed into place, then the directory fsynced.
    pub(crate) fn write(&self, client_tx_id: &str, body: &Json) -> Result<u64, Error> {
        let seq = self.next.fetch_add(1, Ordering::SeqCst);
        let path = self.path(seq);
        let temp = self.dir.join(format!("{seq:020}.tmp"));
        let bytes = serde_json::to_vec(&serde_json::json!({
            "clientTxId": client_tx_id,
            "body": body,
        }))
        .map_err(|e| Error::validation("invalid_data", e.to_string()))?;
        let mut file = File::create(&temp).map_err(|e| io_error("write", &temp, e))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| io_error("write", &temp, e))?;
        fs::rename(&temp, &path).map_err(|e| io_error("write", &path, e))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_error("sync", &self.dir, e))?;
        Ok(seq)
    }

    /// Forgets a settled commit. A removal lost in a crash only makes the
    /// next start replay a commit the server answers from its idempotency
    /// record.
    pub(crate) fn remove(&self, seq: u64) {
        let _ = fs::remove_file(self.path(seq));
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}.commit.json"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_reopening_in_order_and_removed_ones_do_not() {
        let dir = std::env::temp_dir().join(format!("ablo-journal-{}", uuid::Uuid::now_v7()));
        let (journal, left) = Journal::open(&dir).unwrap();
        assert!(left.is_empty());
        let a = journal
            .write("tx_a", &serde_json::json!({"clientTxId": "tx_a"}))
            .unwrap();
        let b = journal
            .write("tx_b", &serde_json::json!({"clientTxId": "tx_b"}))
            .unwrap();
        let c = journal
            .write("tx_c", &serde_json::json!({"clientTxId": "tx_c"}))
            .unwrap();
        journal.remove(b);
        std::fs::write(dir.join("00000000000000000099.tmp"), b"{half").unwrap();
        drop(journal);
        let (journal, left) = Journal::open(&dir).unwrap();
        let ids: Vec<_> = left.iter().map(|e| e.client_tx_id.as_str()).collect();
        assert_eq!(ids, ["tx_a", "tx_c"]);
        assert_eq!(left[0].seq, a);
        assert!(journal.write("tx_d", &Json::Null).unwrap() > c);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
