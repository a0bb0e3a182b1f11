//! CPU each part of the machine used over a phase.

use super::*;

/// CPU seconds used so far, by part.
#[derive(Clone, Copy)]
pub(crate) struct CpuSample {
    pub(crate) at: Instant,
    /// Busy time of the whole machine (user, nice, system, irq, softirq).
    pub(crate) machine: f64,
    /// Time stolen by the hypervisor.
    pub(crate) steal: f64,
    /// The server processes of the set-up.
    pub(crate) nodes: f64,
    /// Every process named `postgres` on the machine.
    pub(crate) postgres: f64,
    /// This program.
    pub(crate) bench: f64,
}

pub(crate) fn sample(nodes: &[ServerProcess]) -> CpuSample {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let field = |i: usize| cpu.get(i).copied().unwrap_or(0.0) / 100.0;
    // user nice system idle iowait irq softirq steal
    let machine = field(0) + field(1) + field(2) + field(5) + field(6);
    let mut postgres = 0.0;
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let name = entry.file_name();
            if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            if stat.contains("(postgres)") {
                postgres += support::cpu_seconds_in(&stat).unwrap_or(0.0);
            }
        }
    }
    CpuSample {
        at: Instant::now(),
        machine,
        steal: field(7),
        nodes: nodes.iter().map(ServerProcess::cpu_seconds).sum(),
        postgres,
        bench: support::own_cpu_seconds(),
    }
}

/// Cores busy between two samples.
#[derive(Clone, Copy, Default)]
pub(crate) struct CpuUse {
    pub(crate) machine: f64,
    pub(crate) steal: f64,
    pub(crate) nodes: f64,
    pub(crate) postgres: f64,
    pub(crate) bench: f64,
}

impl CpuUse {
    pub(crate) fn between(a: CpuSample, b: CpuSample) -> CpuUse {
        let wall = (b.at - a.at).as_secs_f64().max(1e-3);
        CpuUse {
            machine: (b.machine - a.machine) / wall,
            steal: (b.steal - a.steal) / wall,
            nodes: (b.nodes - a.nodes) / wall,
            postgres: (b.postgres - a.postgres) / wall,
            bench: (b.bench - a.bench) / wall,
        }
    }

    pub(crate) fn cells(&self) -> String {
        let rest = (self.machine - self.nodes - self.postgres - self.bench).max(0.0);
        format!(
            "{:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2}",
            self.machine, self.nodes, self.postgres, self.bench, rest, self.steal
        )
    }
}

pub(crate) const CPU_HEADER: &str = "machine | nodes | postgres | bench | other | steal";
pub(crate) const CPU_RULE: &str = "---|---|---|---|---|---";
