//! What the benchmarks that run the server in its own process share: the
//! `ablo-server` binary started on a free loopback port and a fresh data
//! directory, and what `/proc` tells of that process. Each benchmark uses
//! part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The server binary in its own process, killed when dropped.
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts `ablo-server serve` with `key` as its API key and `extra`
    /// arguments, and waits until it listens. `ABLO_SERVER_BIN` runs
    /// another build (or a profiler wrapping one) instead of this
    /// package's binary.
    pub fn start(key: &str, extra: &[&str]) -> ServerProcess {
        ServerProcess::spawn(key, None, extra)
    }

    /// [`ServerProcess::start`] on the PostgreSQL database at `database`
    /// (`--database URL`) instead of a fresh data directory; several
    /// processes may share one database (nodes).
    pub fn start_on_database(key: &str, database: &str, extra: &[&str]) -> ServerProcess {
        ServerProcess::spawn(key, Some(database), extra)
    }

    fn spawn(key: &str, database: Option<&str>, extra: &[&str]) -> ServerProcess {
        let dir = tempfile::tempdir().unwrap();
        let binary = std::env::var_os("ABLO_SERVER_BIN")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_ablo-server").into());
        let mut command = Command::new(binary);
        command.args(["serve", "--addr", "127.0.0.1:0"]);
        match database {
            Some(url) => command.args(["--database", url]),
            None => command.arg("--data").arg(dir.path()),
        };
        let mut child = command
            .args(extra)
            .env("ABLO_API_KEY", key)
            .env("ABLO_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("the server prints its address")
                .unwrap();
            if let Some(url) = line.strip_prefix("ablo-server listening on ") {
                break url.trim().to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        ServerProcess { child, url, dir }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's data directory (empty and unused on a database).
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A number field of `/proc/PID/status` (`VmRSS:`, `Threads:`, ...).
    pub fn status_field(&self, name: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// Resident memory in KiB.
    pub fn rss_kib(&self) -> u64 {
        self.status_field("VmRSS:")
    }

    /// CPU seconds (user + system) the process has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // The fields after the parenthesised command name; utime and stime
        // are the 14th and 15th fields of the line.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
        ticks / 100.0
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
