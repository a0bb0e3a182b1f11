//! `ablo-server export`, `import` and `copy`: moving a deployment between
//! stores (`ablo_server::transfer`). Progress bars of large tables are drawn
//! on stderr, and only when stderr is a terminal, so a dump on stdout is
//! never garbled; a one-line summary follows on stderr.

use std::io::{BufReader, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use ablo_server::storage::{StorageLocation, StoreContents};
use ablo_server::transfer::{self, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::store_args::StoreArgs;

/// `ablo-server export`.
#[derive(clap::Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Write the dump to this new file (created readable by its owner only)
    /// instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

/// `ablo-server import`.
#[derive(clap::Args)]
pub(crate) struct ImportArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Read the dump from this file instead of stdin.
    #[arg(long, short)]
    input: Option<PathBuf>,
}

/// `ablo-server copy`.
#[derive(clap::Args)]
pub(crate) struct CopyArgs {
    /// The store to copy: a data directory or a postgres:// URL.
    #[arg(long)]
    from: String,
    /// The empty store to fill: a data directory or a postgres:// URL.
    #[arg(long)]
    to: String,
}

/// Tables with at least this many records get a progress bar.
const BAR_FROM: u64 = 1000;

/// Progress bars on stderr, one per large table, and a summary at the end.
struct Bars {
    verb: &'static str,
    started: Instant,
    totals: StoreContents,
    table: Option<&'static str>,
    bar: Option<ProgressBar>,
    visible: bool,
}

impl Bars {
    fn new(verb: &'static str) -> Bars {
        Bars {
            verb,
            started: Instant::now(),
            totals: StoreContents::default(),
            table: None,
            bar: None,
            visible: std::io::stderr().is_terminal(),
        }
    }

    fn total(&self, table: &str) -> u64 {
        self.totals
            .counts()
            .iter()
            .find(|(name, _)| *name == table)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    }

    fn close_bar(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish();
        }
    }
}

impl Progress for Bars {
    fn start(&mut self, contents: &StoreContents) {
        self.started = Instant::now();
        self.totals = contents.clone();
    }

    fn record(&mut self, table: &'static str) {
        if self.table != Some(table) {
            self.close_bar();
            self.table = Some(table);
            let total = self.total(table);
            if total >= BAR_FROM {
                let target = if self.visible {
                    ProgressDrawTarget::stderr()
                } else {
                    ProgressDrawTarget::hidden()
                };
                let style = ProgressStyle::with_template(
                    "{prefix:>20} [{bar:40}] {human_pos}/{human_len} {rate} eta {eta}",
                )
                .expect("a valid template")
                .with_key(
                    "rate",
                    |state: &ProgressState, out: &mut dyn std::fmt::Write| {
                        let rate = format!("{:.0}/s", state.per_sec());
                        let _ = std::fmt::Write::write_str(out, &rate);
                    },
                )
                .progress_chars("=> ");
                let bar = ProgressBar::with_draw_target(Some(total), target)
                    .with_style(style)
                    .with_prefix(table);
                self.bar = Some(bar);
            }
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    fn finish(&mut self) {
        self.close_bar();
        eprintln!(
            "{} {} in {:.1} s",
            self.verb,
            self.totals.summary(),
            self.started.elapsed().as_secs_f64()
        );
    }
}

fn report(command: &str, outcome: Result<(), String>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ablo-server {command}: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `ablo-server export`.
pub(crate) fn export(args: ExportArgs) -> ExitCode {
    report("export", run_export(args))
}

/// A directory to read from must hold a store: opening would make one.
fn existing(location: &StorageLocation) -> Result<(), String> {
    match location {
        StorageLocation::Directory(dir) if !dir.join("ablo.db").exists() => Err(format!(
            "{}: no store here (no ablo.db)",
            location.display_safe()
        )),
        _ => Ok(()),
    }
}

fn run_export(args: ExportArgs) -> Result<(), String> {
    let location = args.store.location()?;
    existing(&location)?;
    let storage = args.store.open()?;
    let mut bars = Bars::new("exported");
    let failed = |e: transfer::TransferError| format!("{}: {e}", location.display_safe());
    match &args.output {
        Some(path) => {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options
                .open(path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            transfer::export(&*storage, &mut file, &mut bars).map_err(failed)?;
            file.sync_all()
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        None => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                return Err(
                    "not writing a dump to a terminal: redirect stdout (`> dump.jsonl`) or pass --output"
                        .into(),
                );
            }
            let mut out = stdout.lock();
            transfer::export(&*storage, &mut out, &mut bars).map_err(failed)?;
            out.flush().map_err(|e| format!("stdout: {e}"))?;
        }
    }
    Ok(())
}

/// Runs `ablo-server import`.
pub(crate) fn import(args: ImportArgs) -> ExitCode {
    report("import", run_import(args))
}

fn run_import(args: ImportArgs) -> Result<(), String> {
    let location = args.store.location()?;
    let storage = args.store.open()?;
    let mut bars = Bars::new("imported");
    let failed = |e: transfer::TransferError| {
        format!("{}: {e}; nothing was imported", location.display_safe())
    };
    let header = match &args.input {
        Some(path) => {
            let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let mut input = BufReader::with_capacity(1 << 16, file);
            transfer::import(&*storage, &mut input, &mut bars).map_err(failed)?
        }
        None => {
            let mut input = std::io::stdin().lock();
            transfer::import(&*storage, &mut input, &mut bars).map_err(failed)?
        }
    };
    eprintln!(
        "{}: the next commit takes sync id {} (dump of a {} store taken {})",
        location.display_safe(),
        header.head.next(),
        header.backend,
        header.exported_at
    );
    Ok(())
}

/// Runs `ablo-server copy`.
pub(crate) fn copy(args: CopyArgs) -> ExitCode {
    report("copy", run_copy(args))
}

fn run_copy(args: CopyArgs) -> Result<(), String> {
    let from = StorageLocation::parse(&args.from).map_err(|e| e.to_string())?;
    let to = StorageLocation::parse(&args.to).map_err(|e| e.to_string())?;
    if from == to {
        return Err("--from and --to name the same store".into());
    }
    existing(&from)?;
    let open = |location: &StorageLocation| {
        ablo_server::storage::open(location)
            .map_err(|e| format!("{}: {e}", location.display_safe()))
    };
    let (source, target) = (open(&from)?, open(&to)?);
    let mut bars = Bars::new("copied");
    let header = transfer::copy(&*source, &*target, &mut bars).map_err(|e| {
        format!(
            "{} to {}: {e}; nothing was imported",
            from.display_safe(),
            to.display_safe()
        )
    })?;
    eprintln!(
        "{}: the next commit takes sync id {}",
        to.display_safe(),
        header.head.next()
    );
    Ok(())
}
