//! What a confirmed write costs, against the real `ablo-server` binary (the
//! release build `cargo bench` makes) in its own process: 16 and 64 HTTP
//! clients each loop `PATCH /v1/models/counters/{its row}`; the benchmark
//! counts the confirmed updates in a window and reads the server's CPU time
//! from `/proc` before and after it. The baseline, in the same run, is raw
//! SQLite with the server's pragmas (`synchronous = FULL`): one transaction
//! per update, one `UPDATE` and one log `INSERT`, in a tight loop.
//!
//! ```text
//! cargo bench -p ablo-server --bench write_cost
//! ABLO_BENCH_QUICK=1 cargo bench -p ablo-server --bench write_cost
//! ABLO_BENCH_PERF=/tmp/write.perf cargo bench -p ablo-server --bench write_cost
//! ```
//!
//! With `ABLO_BENCH_PERF` set, `perf record -g` samples the server during
//! the 16-client window into that file (`perf report -i FILE` reads it).

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

mod support;

use support::{ServerProcess, own_cpu_seconds};

const KEY: &str = "sk_test_benchmark_write_cost_0123456789";

fn quick() -> bool {
    std::env::var_os("ABLO_BENCH_QUICK").is_some()
}

/// The one-field model every client updates.
#[ablo::model]
pub struct Counter {
    pub value: i64,
}

ablo::schema! {
    pub struct Bench {
        counters: Counter,
    }
}

/// One window of the update loop: confirmed updates per second, the
/// server's CPU microseconds per confirmed update, and the benchmark's own
/// (the clients') per update.
struct Window {
    rate: f64,
    server_us: f64,
    client_us: f64,
}

async fn update_window(
    server: &ServerProcess,
    clients: usize,
    warmup: Duration,
    window: Duration,
    perf: Option<&str>,
) -> Window {
    static WINDOWS: AtomicU64 = AtomicU64::new(0);
    let rows = format!("w{}_", WINDOWS.fetch_add(1, Ordering::Relaxed));
    let ids: Vec<String> = (0..clients).map(|c| format!("{rows}{c}")).collect();
    support::create_counters(&server.url, KEY, &ids).await;
    let start = Instant::now();
    let (from, until) = (start + warmup, start + warmup + window);
    let (counted, tasks) = support::spawn_counter_updates(&server.url, KEY, ids, from, until);
    tokio::time::sleep_until(from.into()).await;
    let (server_cpu, client_cpu) = (server.cpu_seconds(), own_cpu_seconds());
    let recorder = perf.map(|file| {
        Command::new("perf")
            .args(["record", "-q", "-F", "4999", "-g", "-o", file, "-p"])
            .arg(server.pid().to_string())
            .arg("--")
            .args(["sleep", &format!("{}", window.as_secs_f64())])
            .spawn()
            .expect("perf runs")
    });
    tokio::time::sleep_until(until.into()).await;
    let (server_cpu, client_cpu) = (
        server.cpu_seconds() - server_cpu,
        own_cpu_seconds() - client_cpu,
    );
    for task in tasks {
        task.await.unwrap();
    }
    if let Some(mut recorder) = recorder {
        recorder.wait().unwrap();
    }
    let confirmed = counted.load(Ordering::Relaxed) as f64;
    Window {
        rate: confirmed / window.as_secs_f64(),
        server_us: server_cpu * 1e6 / confirmed,
        client_us: client_cpu * 1e6 / confirmed,
    }
}

/// Raw SQLite, one transaction per update: transactions per second and CPU
/// microseconds per transaction (this process does nothing else meanwhile).
/// The first `warmup` transactions grow the WAL file and are not timed.
fn raw_sqlite(warmup: usize, window: Duration) -> Window {
    let dir = tempfile::tempdir().unwrap();
    let conn = ablo_server::storage::open_connection(&dir.path().join("raw.db")).unwrap();
    conn.execute_batch(
        "CREATE TABLE rows (id TEXT PRIMARY KEY, data TEXT NOT NULL, stamp INTEGER NOT NULL) WITHOUT ROWID;
         CREATE TABLE log (sync_id INTEGER PRIMARY KEY, delta TEXT NOT NULL);
         INSERT INTO rows VALUES ('c', '{\"value\":0}', 0);",
    )
    .unwrap();
    let delta = json!({"model": "counters", "id": "c", "action": "update", "changedFields": ["value"],
        "actor": {"kind": "system", "id": "key_0123456789ab"}, "syncGroups": ["default"],
        "data": {"id": "c", "value": 0, "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:00.000Z"}})
    .to_string();
    let update = |sync_id: i64| {
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        conn.prepare_cached("UPDATE rows SET data = ?1, stamp = ?2 WHERE id = 'c'")
            .unwrap()
            .execute(rusqlite::params![
                format!("{{\"value\":{sync_id}}}"),
                sync_id
            ])
            .unwrap();
        conn.prepare_cached("INSERT INTO log (sync_id, delta) VALUES (?1, ?2)")
            .unwrap()
            .execute(rusqlite::params![sync_id, delta])
            .unwrap();
        conn.execute_batch("COMMIT").unwrap();
    };
    let mut sync_id = 0;
    for _ in 0..warmup {
        sync_id += 1;
        update(sync_id);
    }
    let (start, cpu) = (Instant::now(), own_cpu_seconds());
    let mut done = 0u64;
    while start.elapsed() < window {
        sync_id += 1;
        update(sync_id);
        done += 1;
    }
    let (elapsed, cpu) = (start.elapsed().as_secs_f64(), own_cpu_seconds() - cpu);
    Window {
        rate: done as f64 / elapsed,
        server_us: cpu * 1e6 / done as f64,
        client_us: 0.0,
    }
}

fn median_by(windows: &mut [Window], key: impl Fn(&Window) -> f64) -> f64 {
    let mut values: Vec<f64> = windows.iter().map(key).collect();
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let (runs, warmup, window) = if quick() {
        (1, Duration::from_millis(200), Duration::from_secs(1))
    } else {
        (3, Duration::from_millis(500), Duration::from_secs(3))
    };
    let perf = std::env::var("ABLO_BENCH_PERF").ok();
    let server = ServerProcess::start(KEY, &[]);
    server.push_schema(KEY, &Bench::descriptor()).await;

    let mut raw: Vec<Window> = (0..runs).map(|_| raw_sqlite(2000, window)).collect();
    let (raw_rate, raw_us) = (
        median_by(&mut raw, |w| w.rate),
        median_by(&mut raw, |w| w.server_us),
    );
    println!(
        "| set-up | confirmed updates/s (median of {runs}) | vs raw SQLite | server CPU per update | clients' CPU per update | server CPU in use |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| raw SQLite, 1 tx per update | {raw_rate:.0} | 1.00× | {raw_us:.0} µs | — | {:.0} % |",
        raw_rate * raw_us / 1e4
    );
    for clients in [16usize, 64] {
        let mut windows = Vec::new();
        for run in 0..runs {
            let perf = perf.as_deref().filter(|_| clients == 16 && run == 0);
            windows.push(update_window(&server, clients, warmup, window, perf).await);
        }
        let rate = median_by(&mut windows, |w| w.rate);
        let server_us = median_by(&mut windows, |w| w.server_us);
        let client_us = median_by(&mut windows, |w| w.client_us);
        let per_run: Vec<String> = windows.iter().map(|w| format!("{:.0}", w.rate)).collect();
        println!(
            "| {clients} clients ({}) | {rate:.0} | {:.2}× | {server_us:.0} µs | {client_us:.0} µs | {:.0} % |",
            per_run.join(" / "),
            rate / raw_rate,
            rate * server_us / 1e4
        );
    }
    println!(
        "load average: {}",
        std::fs::read_to_string("/proc/loadavg").unwrap().trim()
    );
}
