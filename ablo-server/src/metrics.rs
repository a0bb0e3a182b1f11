//! `GET /metrics`: the server's counters, gauges and histograms in the
//! Prometheus text format, kept with the `prometheus` crate. What each
//! series means and what to alert on is in `docs/operations.md`.

use std::time::Duration;

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// Every series the server exports.
pub(crate) struct Metrics {
    registry: Registry,
    /// Accepted commits (`status`: `confirmed`).
    pub commits: IntCounterVec,
    /// Refused commits by error code.
    pub rejections: IntCounterVec,
    /// Seconds from a commit's arrival to its answer.
    pub commit_latency: Histogram,
    /// Commits written together in one transaction.
    pub group_size: Histogram,
    /// Commits waiting for the writer (set at scrape time).
    pub writer_queue: IntGauge,
    /// Open WebSocket connections.
    pub connections: IntGauge,
    /// Subscribed WebSocket streams.
    pub subscriptions: IntGauge,
    /// Seconds from a commit being durable to its delta leaving for a
    /// subscriber.
    pub fanout_lag: Histogram,
    /// Subscribes that replayed the log from an older cursor.
    pub replays: IntCounter,
    pub snapshots: IntCounter,
    /// Snapshots waiting for their turn to be read
    /// ([`ServerConfig::max_concurrent_snapshots`](crate::config::ServerConfig::max_concurrent_snapshots)).
    pub snapshots_waiting: IntGauge,
    pub compacted: IntCounter,
    /// Active intents and claims (set at scrape time).
    pub intents: IntGauge,
    /// Data Source calls by source and result (`ok`, `error`).
    pub source_calls: IntCounterVec,
}

fn latency_buckets() -> Vec<f64> {
    vec![
        0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    ]
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let registry = Registry::new_custom(Some("ablo".into()), None).expect("registry");
        let commits =
            IntCounterVec::new(Opts::new("commits_total", "Accepted commits"), &["status"])
                .expect("metric");
        let rejections = IntCounterVec::new(
            Opts::new("commit_rejections_total", "Refused commits by error code"),
            &["code"],
        )
        .expect("metric");
        let commit_latency = Histogram::with_opts(
            HistogramOpts::new(
                "commit_latency_seconds",
                "Seconds from a commit's arrival to its answer",
            )
            .buckets(latency_buckets()),
        )
        .expect("metric");
        let group_size = Histogram::with_opts(
            HistogramOpts::new(
                "writer_group_size",
                "Commits written together in one transaction",
            )
            .buckets(vec![
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0,
            ]),
        )
        .expect("metric");
        let writer_queue =
            IntGauge::new("writer_queue_depth", "Commits waiting for the writer").expect("metric");
        let connections =
            IntGauge::new("websocket_connections", "Open WebSocket connections").expect("metric");
        let subscriptions =
            IntGauge::new("websocket_subscriptions", "Subscribed WebSocket streams")
                .expect("metric");
        let fanout_lag = Histogram::with_opts(
            HistogramOpts::new(
                "fanout_lag_seconds",
                "Seconds from a durable commit to its delta leaving for a subscriber",
            )
            .buckets(latency_buckets()),
        )
        .expect("metric");
        let replays = IntCounter::new(
            "replays_total",
            "Subscribes that replayed the log from an older cursor",
        )
        .expect("metric");
        let snapshots = IntCounter::new(
            "snapshots_total",
            "Subscribes answered with a snapshot of the current rows",
        )
        .expect("metric");
        let snapshots_waiting = IntGauge::new(
            "snapshots_waiting",
            "Snapshots waiting for their turn to be read",
        )
        .expect("metric");
        let compacted = IntCounter::new(
            "log_compacted_deltas_total",
            "Deltas removed from the log by retention",
        )
        .expect("metric");
        let intents = IntGauge::new("intents_active", "Active intents and claims").expect("metric");
        let source_calls = IntCounterVec::new(
            Opts::new(
                "source_calls_total",
                "Data Source calls by source and result",
            ),
            &["source", "result"],
        )
        .expect("metric");
        for collector in [
            Box::new(commits.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(rejections.clone()),
            Box::new(commit_latency.clone()),
            Box::new(group_size.clone()),
            Box::new(writer_queue.clone()),
            Box::new(connections.clone()),
            Box::new(subscriptions.clone()),
            Box::new(fanout_lag.clone()),
            Box::new(replays.clone()),
            Box::new(snapshots.clone()),
            Box::new(snapshots_waiting.clone()),
            Box::new(compacted.clone()),
            Box::new(intents.clone()),
            Box::new(source_calls.clone()),
        ] {
            registry.register(collector).expect("unique metric names");
        }
        Metrics {
            registry,
            commits,
            rejections,
            commit_latency,
            group_size,
            writer_queue,
            connections,
            subscriptions,
            fanout_lag,
            replays,
            snapshots,
            snapshots_waiting,
            compacted,
            intents,
            source_calls,
        }
    }

    /// Records one commit's outcome and time.
    pub(crate) fn commit_done(&self, outcome: Result<(), &str>, took: Duration) {
        self.commit_latency.observe(took.as_secs_f64());
        match outcome {
            Ok(()) => self.commits.with_label_values(&["confirmed"]).inc(),
            Err(code) => self.rejections.with_label_values(&[code]).inc(),
        }
    }

    /// The text exposition of every series.
    pub(crate) fn render(&self) -> String {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .expect("the text format encodes")
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}
