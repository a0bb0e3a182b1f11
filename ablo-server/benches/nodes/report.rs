//! The tables printed at the end of a run.

use super::*;

pub(crate) struct SetupFigures {
    pub(crate) kind: Kind,
    pub(crate) load_before: String,
    pub(crate) writes: WriteFigures,
    pub(crate) latency: LatencyFigures,
    pub(crate) steps: Vec<Step>,
}

impl SetupFigures {
    pub(crate) fn capacity(&self) -> Option<&Step> {
        self.steps
            .iter()
            .filter(|s| s.sustained)
            .max_by(|a, b| a.delivered.partial_cmp(&b.delivered).unwrap())
    }
}

pub(crate) fn pcts(sorted: &[u64]) -> String {
    if sorted.is_empty() {
        return "—".into();
    }
    format!(
        "{:.2} / {:.2}",
        ms(percentile(sorted, 0.5)),
        ms(percentile(sorted, 0.99))
    )
}

pub(crate) fn report(all: &[SetupFigures], writers: usize) {
    println!("\n### Confirmed writes per second ({writers} writers, round-robin over the nodes)\n");
    println!(
        "| set-up | writes/s (median) | runs | round trip p50 / p99 ms | errors | cores busy: {CPU_HEADER} |"
    );
    println!("|---|---|---|---|---|{CPU_RULE}|");
    for s in all {
        let w = &s.writes;
        let runs: Vec<String> = w.runs.iter().map(|r| format!("{r:.0}")).collect();
        println!(
            "| {} | {:.0} | {} | {:.2} / {:.2} | {} | {} |",
            s.kind.label(),
            w.median,
            runs.join(" / "),
            w.p50,
            w.p99,
            w.errors,
            w.cpu.cells()
        );
        if let Some(error) = &w.first_error {
            println!("    first error: {error}");
        }
    }
    println!("\n### Commit-to-delivery latency (write sent to delta received)\n");
    println!(
        "| set-up | subscribers | writes/s | deliveries | p50 / p99 ms | max ms | same node p50 / p99 | other node p50 / p99 | cores busy: {CPU_HEADER} |"
    );
    println!("|---|---|---|---|---|---|---|---|{CPU_RULE}|");
    for s in all {
        let l = &s.latency;
        println!(
            "| {} | {} | {:.0} | {} of {} | {} | {:.2} | {} | {} | {} |",
            s.kind.label(),
            l.subscribers,
            l.rate,
            l.all.len(),
            l.expected,
            pcts(&l.all),
            l.all.last().map_or(f64::NAN, |m| ms(*m)),
            pcts(&l.same),
            pcts(&l.other),
            l.cpu.cells()
        );
        if let Some(error) = &l.first_error {
            println!("    {} write errors, first: {error}", l.errors);
        }
    }
    println!("\n### Fan-out: paced writes to more subscribers per node each step\n");
    println!(
        "| set-up | writes/s | subscribers | deliveries/s asked | delivered/s | received | p50 ms | p99 ms | sustained | cores busy: {CPU_HEADER} |"
    );
    println!("|---|---|---|---|---|---|---|---|---|{CPU_RULE}|");
    for s in all {
        for step in &s.steps {
            let mut note = String::new();
            if step.errors > 0 {
                note.push_str(&format!(", {} write errors", step.errors));
            }
            if step.ended > 0 {
                note.push_str(&format!(", {} subscribers ended", step.ended));
            }
            println!(
                "| {} | {:.0} | {} | {:.0} | {:.0} | {:.1} % | {:.1} | {:.1} | {}{note} | {} |",
                s.kind.label(),
                step.rate,
                step.subscribers,
                step.asked,
                step.delivered,
                step.complete * 100.0,
                step.p50,
                step.p99,
                if step.sustained { "yes" } else { "no" },
                step.cpu.cells()
            );
            if let Some(error) = &step.first_error {
                println!("    first write error: {error}");
            }
        }
    }
    println!("\n### Summary\n");
    println!(
        "| set-up | load before | writes/s | latency p50 / p99 ms | fan-out capacity deliveries/s (at writes/s x subscribers, p99 ms) | highest delivered/s of any step |"
    );
    println!("|---|---|---|---|---|---|");
    for s in all {
        let capacity = s.capacity().map_or("none sustained".to_owned(), |c| {
            format!(
                "{:.0} ({:.0} x {}, {:.1})",
                c.delivered, c.rate, c.subscribers, c.p99
            )
        });
        let highest = s.steps.iter().map(|s| s.delivered).fold(0.0, f64::max);
        println!(
            "| {} | {} | {:.0} | {} | {capacity} | {highest:.0} |",
            s.kind.label(),
            s.load_before,
            s.writes.median,
            pcts(&s.latency.all)
        );
    }
    let find = |kind: Kind| all.iter().find(|s| s.kind == kind);
    let ratio = |a: Option<&SetupFigures>, b: Option<&SetupFigures>, label: &str| {
        let (Some(a), Some(b)) = (a, b) else {
            return;
        };
        let cap = |s: &SetupFigures| s.capacity().map(|c| c.delivered);
        let capacity = match (cap(a), cap(b)) {
            (Some(x), Some(y)) => format!("{:.2}x", x / y),
            _ => "n/a (a set-up sustained no step)".into(),
        };
        println!(
            "{label}: write rate {:.2}x, fan-out capacity {capacity}, latency p50 {:.2}x, p99 {:.2}x",
            a.writes.median / b.writes.median,
            ms(percentile(&a.latency.all, 0.5)) / ms(percentile(&b.latency.all, 0.5)),
            ms(percentile(&a.latency.all, 0.99)) / ms(percentile(&b.latency.all, 0.99)),
        );
    };
    println!();
    ratio(
        find(Kind::Postgres3),
        find(Kind::Postgres1),
        "PostgreSQL 3 nodes / 1 node",
    );
    ratio(
        find(Kind::Postgres1),
        find(Kind::Sqlite),
        "PostgreSQL 1 node / SQLite 1 node",
    );
    ratio(
        find(Kind::Postgres3),
        find(Kind::Sqlite),
        "PostgreSQL 3 nodes / SQLite 1 node",
    );
}
