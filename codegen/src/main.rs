//! The `ablo-codegen` command: generate, check and diff from
//! `ablo.schema.json` files.
//!
//! Exit codes: 0 success; 1 stale output (`check`) or a breaking change
//! (`diff`); 2 an unreadable or invalid schema file or an output error.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Generates TypeScript, JSON Schema and OpenAPI from an Ablo schema
/// descriptor (`ablo.schema.json`), checks generated files for freshness and
/// lists breaking changes between two descriptors.
///
/// Exit codes: 0 success; 1 stale files (check) or breaking changes (diff);
/// 2 unreadable or invalid input, or a file that could not be written.
#[derive(Parser, Debug)]
#[command(name = "ablo-codegen", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write ablo.ts, schemas/<model>.schema.json and openapi.json into DIR.
    ///
    /// Files that already hold the right content are left untouched, and
    /// generated files no longer produced (for a removed model) are deleted.
    /// Output is byte-identical for the same schema.
    Generate {
        /// The schema descriptor, as written by `ablo_codegen::write_schema_json`.
        #[arg(long, value_name = "FILE", default_value = "ablo.schema.json")]
        schema: PathBuf,
        /// The output directory (created if needed); dedicate it to generated files.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Check that DIR holds exactly what `generate` would write (the CI guard).
    ///
    /// Exits 0 when fresh; otherwise prints every stale file as a unified
    /// diff, lists missing and extra files, and exits 1.
    Check {
        /// The schema descriptor.
        #[arg(long, value_name = "FILE", default_value = "ablo.schema.json")]
        schema: PathBuf,
        /// The directory holding the generated files.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// List every change from OLD to NEW, marking breaking ones.
    ///
    /// Breaking: a model, enum or object removed; a field removed; a wire
    /// name changed; a field type changed; optional made required (or
    /// required made optional); a required field added; an enum variant
    /// removed. Exits 1 if any change is breaking, 0 otherwise.
    Diff {
        /// The descriptor clients were built against.
        old: PathBuf,
        /// The new descriptor.
        new: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
    }
}

fn run(command: Command) -> Result<ExitCode, ablo_codegen::CodegenError> {
    match command {
        Command::Generate { schema, out } => {
            let descriptor = ablo_codegen::read_schema_json(&schema)?;
            let report = ablo_codegen::generate(&descriptor, &out)?;
            for path in &report.written {
                println!("wrote {}", out.join(path).display());
            }
            for path in &report.removed {
                println!("removed {}", out.join(path).display());
            }
            println!(
                "{}: {} written, {} unchanged, {} removed",
                out.display(),
                report.written.len(),
                report.unchanged.len(),
                report.removed.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { schema, out } => {
            let descriptor = ablo_codegen::read_schema_json(&schema)?;
            let report = ablo_codegen::check(&descriptor, &out)?;
            print!("{report}");
            Ok(if report.is_fresh() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Diff { old, new } => {
            let old = ablo_codegen::read_schema_json(&old)?;
            let new = ablo_codegen::read_schema_json(&new)?;
            let diff = ablo_codegen::diff(&old, &new);
            print!("{diff}");
            Ok(if diff.is_breaking() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
