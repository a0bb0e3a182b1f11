//! The fan-out capacity phase: more subscribers each step until one is not sustained.

use super::*;

pub(crate) struct Step {
    pub(crate) rate: f64,
    pub(crate) subscribers: usize,
    /// Deliveries per second asked for (writes/s times subscribers).
    pub(crate) asked: f64,
    /// Deliveries received inside the window, per second.
    pub(crate) delivered: f64,
    /// Of the writes sent in the window: deliveries received / expected.
    pub(crate) complete: f64,
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
    pub(crate) ended: usize,
    pub(crate) sustained: bool,
    pub(crate) cpu: CpuUse,
}

pub(crate) async fn fanout(
    http: &reqwest::Client,
    nodes: &[ServerProcess],
    first_per_node: usize,
    rate: f64,
    base: Instant,
) -> Vec<Step> {
    let urls: Vec<String> = nodes.iter().map(|n| n.url.clone()).collect();
    let mut subscribers = Subscribers::connect(http, &urls, 0, base).await;
    let step_secs = env_number("ABLO_BENCH_STEP_SECS", if quick() { 2 } else { 4 }) as u64;
    let duration = Duration::from_secs(step_secs.max(2));
    let skip = Duration::from_secs(1);
    let mut steps = Vec::new();
    let mut per_node = first_per_node as f64;
    while (per_node.round() as usize) <= MAX_PER_NODE {
        let count = per_node.round() as usize * urls.len();
        let more = count - subscribers.receipts.len();
        subscribers.add(http, &urls, more, base).await;
        subscribers.drain();
        let before = sample(nodes);
        let paced = paced_writes(http, &urls, rate, duration, skip, base).await;
        let cpu = CpuUse::between(before, sample(nodes));
        // Every write sent; give the deliveries up to two seconds more.
        let total = (rate * duration.as_secs_f64()).round() as usize;
        settle(&subscribers, total * count, Duration::from_secs(2)).await;
        let receipts = subscribers.drain();
        let window = (paced.until - paced.from) as f64 / 1e6;
        let delivered = receipts
            .iter()
            .filter(|(_, _, received, _)| *received >= paced.from && *received < paced.until)
            .count() as f64
            / window;
        let mut latencies: Vec<u64> = receipts
            .iter()
            .filter(|(_, sent, _, _)| *sent >= paced.from && *sent < paced.until)
            .map(|(_, sent, received, _)| received.saturating_sub(*sent))
            .collect();
        latencies.sort_unstable();
        let expected = paced.sent as usize * count;
        let complete = latencies.len() as f64 / expected.max(1) as f64;
        let (p50, p99) = if latencies.is_empty() {
            (f64::NAN, f64::NAN)
        } else {
            (
                ms(percentile(&latencies, 0.5)),
                ms(percentile(&latencies, 0.99)),
            )
        };
        let asked = rate * count as f64;
        let ended = subscribers.ended();
        let sustained = paced.errors == 0
            && ended == 0
            && latencies.len() >= expected
            && delivered >= SUSTAINED_SHARE * asked
            && p99 <= SUSTAINED_P99_MS;
        let step = Step {
            rate,
            subscribers: count,
            asked,
            delivered,
            complete,
            p50,
            p99,
            errors: paced.errors,
            first_error: paced.first_error,
            ended,
            sustained,
            cpu,
        };
        println!(
            "  {rate:.0} writes/s x {count}: {:.0} delivered/s of {asked:.0}, p50 {p50:.1} ms, p99 {p99:.1} ms, {}",
            step.delivered,
            if sustained {
                "sustained"
            } else {
                "not sustained"
            }
        );
        steps.push(step);
        if !sustained {
            break;
        }
        per_node *= STEP_FACTOR;
    }
    steps
}
