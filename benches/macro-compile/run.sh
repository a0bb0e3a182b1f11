#!/usr/bin/env bash
# Compile-time cost of `#[ablo::model]` against plain serde derives.
#
# Generates, in a temporary directory, one Cargo workspace holding two
# crates with the same 100 structs (one module file per struct):
#   ablo_models  - each struct under `#[ablo::model]`, plus one
#                  `ablo::schema!` listing all 100 models;
#   serde_models - each struct with `#[derive(Serialize, Deserialize)]`.
# Both crates share the workspace's target directory and profile. All
# dependencies are built first, so each measurement covers the crate itself:
#   clean build:       `cargo clean -p <crate>`, then `cargo build -p <crate>`;
#   incremental check: touch one model's file, then `cargo check -p <crate>`.
# Medians come from hyperfine (installed with `apt-get install -y hyperfine`).
#
# Usage: benches/macro-compile/run.sh [MODELS] [BUILD_RUNS] [CHECK_RUNS]
# ABLO_REPO=/path/to/checkout measures another checkout of this repository
# (default: the one holding this script, working tree as it is).
set -euo pipefail

models="${1:-100}"
build_runs="${2:-5}"
check_runs="${3:-10}"
repo="${ABLO_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if ! command -v hyperfine >/dev/null; then
  apt-get install -y hyperfine >/dev/null
fi

mkdir -p "$work/ablo_models/src" "$work/serde_models/src"
cat > "$work/Cargo.toml" <<TOML
[workspace]
resolver = "3"
members = ["ablo_models", "serde_models"]

[workspace.package]
edition = "2024"
TOML
cp "$repo/Cargo.lock" "$work/Cargo.lock"
cat > "$work/ablo_models/Cargo.toml" <<TOML
[package]
name = "ablo_models"
version = "0.1.0"
edition.workspace = true

[dependencies]
ablo = { path = "$repo/ablo" }
TOML
cat > "$work/serde_models/Cargo.toml" <<TOML
[package]
name = "serde_models"
version = "0.1.0"
edition.workspace = true

[dependencies]
serde = { version = "1", features = ["derive"] }
TOML

# The same fields in both crates: text, optional text, integers, a float,
# a flag and a list.
fields='    pub title: String,
    pub summary: Option<String>,
    pub position: i64,
    pub count: u32,
    pub weight: f64,
    pub done: bool,
    pub tags: Vec<String>,'

ablo_lib=""
serde_lib=""
entries=""
for i in $(seq 1 "$models"); do
  printf '#[ablo::model]\npub struct Model%d {\n%s\n}\n' "$i" "$fields" > "$work/ablo_models/src/m$i.rs"
  printf '#[derive(serde::Serialize, serde::Deserialize)]\npub struct Model%d {\n%s\n}\n' "$i" "$fields" > "$work/serde_models/src/m$i.rs"
  ablo_lib+="pub mod m$i;"$'\n'
  serde_lib+="pub mod m$i;"$'\n'
  entries+="    model$i: m$i::Model$i,"$'\n'
done
printf '%s\nablo::schema! {\n  pub struct App {\n%s  }\n}\n' "$ablo_lib" "$entries" > "$work/ablo_models/src/lib.rs"
printf '%s' "$serde_lib" > "$work/serde_models/src/lib.rs"

cd "$work"
export CARGO_TARGET_DIR="$work/target"
echo "pre-building dependencies ..."
cargo build --quiet -p ablo_models -p serde_models
cargo check --quiet -p ablo_models -p serde_models

hyperfine --style basic --warmup 0 --runs "$build_runs" --export-json build.json \
  --prepare 'cargo clean --quiet -p ablo_models' -n "ablo clean build" 'cargo build --quiet -p ablo_models' \
  --prepare 'cargo clean --quiet -p serde_models' -n "serde clean build" 'cargo build --quiet -p serde_models'
hyperfine --style basic --warmup 1 --runs "$check_runs" --export-json check.json \
  --prepare 'touch ablo_models/src/m1.rs' -n "ablo incremental check" 'cargo check --quiet -p ablo_models' \
  --prepare 'touch serde_models/src/m1.rs' -n "serde incremental check" 'cargo check --quiet -p serde_models'

python3 - "$models" <<'PY'
import json, sys
models = sys.argv[1]
def medians(path):
    return {r["command"]: r["median"] for r in json.load(open(path))["results"]}
build, check = medians("build.json"), medians("check.json")
print(f"\n{models} models, medians in seconds:")
for label, table, a, s in [
    ("clean build", build, "ablo clean build", "serde clean build"),
    ("incremental check", check, "ablo incremental check", "serde incremental check"),
]:
    print(f"  {label:18} ablo {table[a]:7.2f}  serde {table[s]:7.2f}  ratio {table[a] / table[s]:5.2f}x")
PY
