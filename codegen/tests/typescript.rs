//! The generated `ablo.ts` compiles under the real TypeScript compiler with
//! `--strict`, next to a file that uses every generated type and proves,
//! through `@ts-expect-error` lines, that wrong values are rejected.

mod common;

use std::path::Path;
use std::process::Command;

fn tsc_in(dir: &Path, files: &[&str]) -> std::process::Output {
    Command::new(common::tsc())
        .current_dir(dir)
        .args([
            "--strict", "--noEmit", "--target", "es2022", "--module", "esnext",
        ])
        .args([
            "--moduleResolution",
            "bundler",
            "--noUnusedParameters",
            "--pretty",
            "false",
        ])
        .args(files)
        .output()
        .expect("tsc runs")
}

fn generated_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    ablo_codegen::generate(&common::tracker_schema(), dir.path()).unwrap();
    dir
}

const USAGE: &str = include_str!("fixtures/usage.ts");

#[test]
fn tsc_strict_accepts_generated_types_and_rejects_wrong_values() {
    let dir = generated_dir();
    std::fs::write(dir.path().join("usage.ts"), USAGE).unwrap();
    let out = tsc_in(dir.path(), &["ablo.ts", "usage.ts"]);
    assert!(
        out.status.success(),
        "tsc failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn usage_file_uses_every_generated_type() {
    let files = ablo_codegen::render(&common::tracker_schema()).unwrap();
    let ts = &files[Path::new("ablo.ts")];
    let exported: Vec<&str> = ts
        .lines()
        .filter_map(|line| {
            let rest = line
                .strip_prefix("export type ")
                .or_else(|| line.strip_prefix("export interface "))
                .or_else(|| line.strip_prefix("export const "))?;
            rest.split(|c: char| !c.is_alphanumeric() && c != '_')
                .next()
        })
        .collect();
    assert!(exported.len() >= 16, "{exported:?}");
    for name in exported {
        assert!(
            USAGE.contains(&format!("type {name},")) || USAGE.contains(&format!("  {name},")),
            "fixtures/usage.ts does not import {name}"
        );
    }
}

#[test]
fn tsc_reports_a_wrong_enum_value_without_the_expect_error_line() {
    // Guards against a compiler that accepts anything: the same mistakes,
    // without `@ts-expect-error`, fail with type errors at those lines.
    let dir = generated_dir();
    let bad = "import type { TaskStatus, TaskPatch } from \"./ablo\";\n\
               export const s: TaskStatus = \"finished\";\n\
               export const p: TaskPatch = { points: \"three\" };\n";
    std::fs::write(dir.path().join("bad.ts"), bad).unwrap();
    let out = tsc_in(dir.path(), &["ablo.ts", "bad.ts"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "tsc accepted a wrong enum value");
    assert!(stdout.contains("bad.ts(2,"), "{stdout}");
    assert!(stdout.contains("bad.ts(3,"), "{stdout}");
    assert!(stdout.contains("\"finished\""), "{stdout}");
}

#[test]
fn unneeded_expect_error_fails_the_build() {
    // The rejection lines in usage.ts prove something only because tsc
    // fails on an `@ts-expect-error` that is not needed.
    let dir = generated_dir();
    let ok = "import type { TaskStatus } from \"./ablo\";\n\
              // @ts-expect-error\n\
              export const s: TaskStatus = \"done\";\n";
    std::fs::write(dir.path().join("ok.ts"), ok).unwrap();
    let out = tsc_in(dir.path(), &["ablo.ts", "ok.ts"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("TS2578"));
}
