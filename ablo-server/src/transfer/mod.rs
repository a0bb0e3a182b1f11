//! Moving a deployment between stores (SQLite to PostgreSQL, or any two):
//! [`export`] writes a whole store as a dump ([`format`]), [`import`]
//! reads one into an empty store, [`copy`] does both at once.
//!
//! Everything moves as it was stored: rows with their stamps and field
//! stamps, the sync log, the head (the next commit takes the next sync id),
//! API key and capability hashes, agent runs, the audit log with its
//! positions and hashes (every chain still verifies), idempotency records
//! (a retried commit still replays), server secrets (sealed list cursors
//! stay valid), the pushed schema and Data Source configurations with
//! their bookkeeping.
//!
//! An export reads one snapshot; an import is **atomic**: one transaction
//! that refuses a store that is not empty, checks the dump is complete
//! (its end line) and that the store then holds exactly what the header
//! says, and commits only then. A failed import leaves the target empty,
//! so it is simply run again.
//!
//! ```
//! use ablo_server::storage::{StorageLocation, open};
//! use ablo_server::transfer::{NoProgress, export, import};
//! let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
//! let from = open(&StorageLocation::Directory(a.path().into())).unwrap();
//! let to = open(&StorageLocation::Directory(b.path().into())).unwrap();
//! let mut dump = Vec::new();
//! export(&*from, &mut dump, &mut NoProgress).unwrap();
//! let header = import(&*to, &mut dump.as_slice(), &mut NoProgress).unwrap();
//! assert_eq!(header.backend, "sqlite");
//! assert_eq!(to.contents().unwrap(), from.contents().unwrap());
//! ```

mod format;

use std::io::{BufRead, BufWriter, Write};

pub use format::{DumpHeader, FORMAT_NAME, FORMAT_VERSION};

use crate::storage::{ImportError, Storage, StorageError, StoreContents, StoreRecord};
use format::{EndLine, Line, Parsed};

/// Why a move failed. After a failed import the target holds nothing of
/// it.
///
/// ```
/// use ablo_server::transfer::TransferError;
/// let err = TransferError::Truncated { lines: 12 };
/// assert!(err.to_string().contains("truncated"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The target already holds data: an import goes only into an empty
    /// store (a new database, or a directory never served from).
    #[error(
        "the target store is not empty (it holds {}): import into a new database or an empty directory",
        .0.summary()
    )]
    TargetNotEmpty(StoreContents),
    /// The input is not a dump of this format, or a line is malformed.
    #[error("dump line {line}: {message}")]
    Format {
        /// The 1-based line number.
        line: u64,
        /// What is wrong with it.
        message: String,
    },
    /// The dump was written by a newer format version.
    #[error("dump format version {found} is newer than this server reads (up to {FORMAT_VERSION})")]
    UnsupportedVersion {
        /// The version in the header.
        found: u32,
    },
    /// The dump ends before its end line (an export that was cut off).
    #[error("the dump is truncated: it ends after line {lines} without its end line")]
    Truncated {
        /// How many lines it has.
        lines: u64,
    },
    /// The records, or the store after the import, do not match the
    /// header.
    #[error("the dump's {table}: the header says {expected}, found {found}")]
    Mismatch {
        /// Which table (or `records`, `head`).
        table: String,
        /// What the header says.
        expected: String,
        /// What was found.
        found: String,
    },
    /// A store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Reading or writing the dump failed.
    #[error("dump: {0}")]
    Io(#[from] std::io::Error),
}

impl From<ImportError> for TransferError {
    fn from(err: ImportError) -> TransferError {
        match err {
            ImportError::NotEmpty(contents) => TransferError::TargetNotEmpty(contents),
            ImportError::Storage(err) => TransferError::Storage(err),
            ImportError::Input(err) => match err.downcast::<TransferError>() {
                Ok(err) => *err,
                Err(other) => TransferError::Format {
                    line: 0,
                    message: other.to_string(),
                },
            },
        }
    }
}

/// Told how a move advances (the CLI draws progress bars with it).
///
/// ```
/// use ablo_server::storage::StoreContents;
/// use ablo_server::transfer::Progress;
/// #[derive(Default)]
/// struct Count(u64);
/// impl Progress for Count {
///     fn start(&mut self, _contents: &StoreContents) {}
///     fn record(&mut self, _table: &'static str) { self.0 += 1; }
///     fn finish(&mut self) {}
/// }
/// ```
pub trait Progress {
    /// The move begins; `contents` says how many records each table has.
    fn start(&mut self, contents: &StoreContents);
    /// One record of `table` was moved (tables come one after another, in
    /// the order of [`StoreContents::counts`]).
    fn record(&mut self, table: &'static str);
    /// The move is complete.
    fn finish(&mut self);
}

/// A [`Progress`] that shows nothing.
///
/// ```
/// use ablo_server::transfer::{NoProgress, Progress};
/// NoProgress.finish();
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&mut self, _contents: &StoreContents) {}
    fn record(&mut self, _table: &'static str) {}
    fn finish(&mut self) {}
}

/// Writes the whole of `storage`, read from one snapshot, to `out` as a
/// dump; returns what it held. A server may keep running meanwhile: the
/// dump is the store as of its header's head.
///
/// ```
/// use ablo_server::storage::{StorageLocation, open};
/// let dir = tempfile::tempdir().unwrap();
/// let storage = open(&StorageLocation::Directory(dir.path().into())).unwrap();
/// let mut dump = Vec::new();
/// let contents = ablo_server::transfer::export(&*storage, &mut dump, &mut ablo_server::transfer::NoProgress).unwrap();
/// assert!(contents.is_empty());
/// let text = String::from_utf8(dump).unwrap();
/// assert!(text.starts_with(r#"{"header":{"format":"ablo-dump","version":1,"#));
/// assert!(text.ends_with("{\"end\":{\"records\":0}}\n"));
/// ```
pub fn export(
    storage: &dyn Storage,
    out: &mut dyn Write,
    progress: &mut dyn Progress,
) -> Result<StoreContents, TransferError> {
    /// What both callbacks of the read share.
    struct Sink<'a> {
        out: BufWriter<&'a mut dyn Write>,
        progress: &'a mut dyn Progress,
        // A failed write stops the read; the error is kept here to report
        // it as what it is.
        write_error: Option<std::io::Error>,
        contents: StoreContents,
        records: u64,
    }
    impl Sink<'_> {
        fn write(&mut self, line: &Line) -> Result<(), StorageError> {
            write_line(&mut self.out, line).map_err(|e| {
                self.write_error = Some(e);
                StorageError::Corrupt("export stopped: the output failed".into())
            })
        }
    }
    let sink = std::cell::RefCell::new(Sink {
        out: BufWriter::with_capacity(1 << 16, out),
        progress,
        write_error: None,
        contents: StoreContents::default(),
        records: 0,
    });
    let outcome = storage.export_all(
        &mut |found| {
            let mut sink = sink.borrow_mut();
            sink.contents = found.clone();
            sink.progress.start(found);
            sink.write(&Line::Header(DumpHeader::new(
                storage.backend(),
                found.clone(),
            )))
        },
        &mut |record| {
            let mut sink = sink.borrow_mut();
            let table = record.table();
            sink.records += 1;
            sink.write(&Line::from(record))?;
            sink.progress.record(table);
            Ok(())
        },
    );
    let mut sink = sink.into_inner();
    if let Some(err) = sink.write_error.take() {
        return Err(TransferError::Io(err));
    }
    outcome?;
    write_line(
        &mut sink.out,
        &Line::End(EndLine {
            records: sink.records,
        }),
    )?;
    sink.out.flush()?;
    sink.progress.finish();
    Ok(sink.contents)
}

fn write_line(out: &mut impl Write, line: &Line) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, line)?;
    out.write_all(b"\n")
}

/// Reads the dump's header: the first line of `input`.
///
/// ```
/// let mut input: &[u8] = b"{\"row\":{}}\n";
/// let err = ablo_server::transfer::read_header(&mut input).unwrap_err();
/// assert!(err.to_string().contains("not an Ablo dump"));
/// ```
pub fn read_header(input: &mut dyn BufRead) -> Result<DumpHeader, TransferError> {
    let mut first = String::new();
    if input.read_line(&mut first)? == 0 {
        return Err(TransferError::Format {
            line: 1,
            message: "the input is empty, not an Ablo dump".into(),
        });
    }
    let not_a_dump = |message: String| TransferError::Format {
        line: 1,
        message: format!("not an Ablo dump ({message})"),
    };
    let header = match serde_json::from_str::<Line>(&first) {
        Ok(Line::Header(header)) => header,
        Ok(_) => return Err(not_a_dump("the first line is not its header".into())),
        Err(err) => {
            // A header of a newer version may have fields this one does
            // not know: name the version if it can be read.
            let version = serde_json::from_str::<serde_json::Value>(&first)
                .ok()
                .and_then(|v| v["header"]["version"].as_u64());
            return Err(match version {
                Some(found) if found > u64::from(FORMAT_VERSION) => {
                    TransferError::UnsupportedVersion {
                        found: found as u32,
                    }
                }
                _ => not_a_dump(err.to_string()),
            });
        }
    };
    if header.format != FORMAT_NAME {
        return Err(not_a_dump(format!("format `{}`", header.format)));
    }
    if header.version > FORMAT_VERSION {
        return Err(TransferError::UnsupportedVersion {
            found: header.version,
        });
    }
    Ok(header)
}

/// Reads a dump from `input` into `storage`, which must be empty
/// ([`TransferError::TargetNotEmpty`] otherwise), in one transaction: on
/// any error (a malformed or truncated dump, a failing store) nothing is
/// imported. Returns the dump's header.
///
/// ```
/// use ablo_server::storage::{StorageLocation, open};
/// use ablo_server::transfer::{NoProgress, TransferError, export, import};
/// let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
/// let from = open(&StorageLocation::Directory(a.path().into())).unwrap();
/// from.server_secret("list_cursor").unwrap();
/// let mut dump = Vec::new();
/// export(&*from, &mut dump, &mut NoProgress).unwrap();
/// // Cut off the end line, as an interrupted export would.
/// let cut = &dump[..dump[..dump.len() - 1].iter().rposition(|b| *b == b'\n').unwrap() + 1];
/// let to = open(&StorageLocation::Directory(b.path().into())).unwrap();
/// let err = import(&*to, &mut &cut[..], &mut NoProgress).unwrap_err();
/// assert!(matches!(err, TransferError::Truncated { .. }));
/// ```
pub fn import(
    storage: &dyn Storage,
    input: &mut dyn BufRead,
    progress: &mut dyn Progress,
) -> Result<DumpHeader, TransferError> {
    let header = read_header(input)?;
    let expected = header.contents.clone();
    storage.import_all(&mut |tx| {
        progress.start(&expected);
        let fail = |err: TransferError| ImportError::Input(Box::new(err));
        let mut seen = StoreContents::default();
        let mut text = String::new();
        let mut line_no = 1u64;
        let end = loop {
            text.clear();
            let read = input
                .read_line(&mut text)
                .map_err(|e| fail(TransferError::Io(e)))?;
            if read == 0 {
                return Err(fail(TransferError::Truncated { lines: line_no }));
            }
            line_no += 1;
            if text.trim().is_empty() {
                continue;
            }
            let parsed = serde_json::from_str::<Line>(&text)
                .map_err(|e| e.to_string())
                .and_then(Parsed::try_from)
                .map_err(|message| {
                    fail(TransferError::Format {
                        line: line_no,
                        message,
                    })
                })?;
            let record = match parsed {
                Parsed::End(end) => break end,
                Parsed::Header => {
                    return Err(fail(TransferError::Format {
                        line: line_no,
                        message: "a second header".into(),
                    }));
                }
                Parsed::Record(record) => record,
            };
            if let StoreRecord::Delta { delta, .. } = &record
                && delta.sync_id > header.head
            {
                return Err(fail(TransferError::Format {
                    line: line_no,
                    message: format!(
                        "a delta at sync id {} after the header's head {}",
                        delta.sync_id, header.head
                    ),
                }));
            }
            count(&mut seen, &record);
            tx.put(&record)?;
            progress.record(record.table());
        };
        let records: u64 =
            seen.counts().iter().map(|(_, n)| n).sum::<u64>() + u64::from(seen.schema);
        if end.records != records {
            return Err(fail(TransferError::Mismatch {
                table: "records".into(),
                expected: end.records.to_string(),
                found: records.to_string(),
            }));
        }
        tx.set_head(header.head)?;
        seen.head = header.head;
        check_same("dump", &expected, &seen).map_err(fail)?;
        let stored = tx.contents()?;
        check_same("imported store", &expected, &stored).map_err(fail)?;
        Ok(())
    })?;
    progress.finish();
    Ok(header)
}

fn count(seen: &mut StoreContents, record: &StoreRecord) {
    let slot = match record {
        StoreRecord::Schema(_) => {
            seen.schema = true;
            return;
        }
        StoreRecord::ServerSecret { .. } => &mut seen.server_secrets,
        StoreRecord::ApiKey(_) => &mut seen.api_keys,
        StoreRecord::Capability(_) => &mut seen.capabilities,
        StoreRecord::AgentRun(_) => &mut seen.agent_runs,
        StoreRecord::Source(_) => &mut seen.sources,
        StoreRecord::SourceEvent { .. } => &mut seen.source_events,
        StoreRecord::SourceCommit { .. } => &mut seen.source_commits,
        StoreRecord::Row(_) => &mut seen.rows,
        StoreRecord::Delta { .. } => &mut seen.deltas,
        StoreRecord::Audit { .. } => &mut seen.audit,
        StoreRecord::Idempotency(_) => &mut seen.idempotency,
    };
    *slot += 1;
}

fn check_same(
    what: &str,
    expected: &StoreContents,
    found: &StoreContents,
) -> Result<(), TransferError> {
    let mismatch = |table: &str, e: String, f: String| TransferError::Mismatch {
        table: format!("{table} ({what})"),
        expected: e,
        found: f,
    };
    if expected.head != found.head {
        return Err(mismatch(
            "head",
            expected.head.to_string(),
            found.head.to_string(),
        ));
    }
    if expected.schema != found.schema {
        return Err(mismatch(
            "schema",
            expected.schema.to_string(),
            found.schema.to_string(),
        ));
    }
    for ((table, e), (_, f)) in expected.counts().into_iter().zip(found.counts()) {
        if e != f {
            return Err(mismatch(table, e.to_string(), f.to_string()));
        }
    }
    Ok(())
}

/// Copies the whole of `from` into `to` (which must be empty) through the
/// dump format, without a file: an export on one thread feeds the import
/// on this one. Atomic as [`import`] is. Returns the header of the moved
/// dump.
///
/// ```
/// use ablo_server::storage::{StorageLocation, open};
/// use ablo_server::transfer::{NoProgress, copy};
/// let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
/// let from = open(&StorageLocation::Directory(a.path().into())).unwrap();
/// let to = open(&StorageLocation::Directory(b.path().into())).unwrap();
/// from.server_secret("list_cursor").unwrap();
/// copy(&*from, &*to, &mut NoProgress).unwrap();
/// assert_eq!(to.server_secret("list_cursor").unwrap(), from.server_secret("list_cursor").unwrap());
/// ```
pub fn copy(
    from: &dyn Storage,
    to: &dyn Storage,
    progress: &mut dyn Progress,
) -> Result<DumpHeader, TransferError> {
    // Refuse at once (the import checks again under its lock).
    let found = to.contents()?;
    if !found.is_empty() {
        return Err(TransferError::TargetNotEmpty(found));
    }
    let (reader, mut writer) = std::io::pipe()?;
    std::thread::scope(|scope| {
        let exporter = scope.spawn(move || {
            let outcome = export(from, &mut writer, &mut NoProgress);
            drop(writer);
            outcome
        });
        let mut reader = std::io::BufReader::with_capacity(1 << 16, reader);
        let imported = import(to, &mut reader, progress);
        // An import that stopped early leaves the export writing into a
        // pipe nobody reads: closing it ends the export.
        drop(reader);
        let exported = exporter.join().expect("the export thread does not panic");
        match (imported, exported) {
            (Ok(header), Ok(_)) => Ok(header),
            // The dump was cut short because its export failed: say why.
            (Err(TransferError::Truncated { .. }), Err(err)) => Err(err),
            (Err(err), _) | (Ok(_), Err(err)) => Err(err),
        }
    })
}
