//! The commit-to-delivery latency phase.

use super::*;

pub(crate) struct LatencyFigures {
    pub(crate) subscribers: usize,
    pub(crate) rate: f64,
    /// µs, sorted: all, same node as the write, another node.
    pub(crate) all: Vec<u64>,
    pub(crate) same: Vec<u64>,
    pub(crate) other: Vec<u64>,
    pub(crate) expected: usize,
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
    pub(crate) cpu: CpuUse,
}

pub(crate) async fn latency(
    http: &reqwest::Client,
    nodes: &[ServerProcess],
    count: usize,
    base: Instant,
) -> LatencyFigures {
    let urls: Vec<String> = nodes.iter().map(|n| n.url.clone()).collect();
    let subscribers = Subscribers::connect(http, &urls, count, base).await;
    let rate = 100.0;
    let duration = Duration::from_secs(if quick() { 3 } else { 6 });
    let before = sample(nodes);
    let paced = paced_writes(http, &urls, rate, duration, Duration::from_secs(1), base).await;
    let expected = paced.confirmed as usize * count;
    settle(&subscribers, expected, Duration::from_secs(5)).await;
    let cpu = CpuUse::between(before, sample(nodes));
    let (mut all, mut same, mut other) = (Vec::new(), Vec::new(), Vec::new());
    for (node, sent, received, via) in subscribers.drain() {
        if sent < paced.from || sent >= paced.until {
            continue;
        }
        let micros = received.saturating_sub(sent);
        all.push(micros);
        if node == usize::from(via) {
            same.push(micros);
        } else {
            other.push(micros);
        }
    }
    for list in [&mut all, &mut same, &mut other] {
        list.sort_unstable();
    }
    LatencyFigures {
        subscribers: count,
        rate,
        all,
        same,
        other,
        expected: paced.sent as usize * count,
        errors: paced.errors,
        first_error: paced.first_error,
        cpu,
    }
}
