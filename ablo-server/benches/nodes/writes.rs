//! The confirmed-writes phase.

use super::*;

pub(crate) struct RateRun {
    pub(crate) rate: f64,
    /// Milliseconds, sorted, of the counted writes' round trips.
    pub(crate) round_trips: Vec<f64>,
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
}

/// `writers` concurrent writers, writer `c` on node `c % nodes`, each
/// updating row `w{c}` in a loop; writes answered 2xx inside the window.
pub(crate) async fn write_rate(
    http: &reqwest::Client,
    urls: &[String],
    writers: usize,
    warmup: Duration,
    window: Duration,
) -> RateRun {
    let counted = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(Mutex::new(None));
    let start = Instant::now();
    let (from, until) = (start + warmup, start + warmup + window);
    let tasks: Vec<_> = (0..writers)
        .map(|c| {
            let url = format!("{}/v1/models/probes/w{c}", urls[c % urls.len()]);
            let (http, counted, errors) = (http.clone(), counted.clone(), errors.clone());
            let first_error = first_error.clone();
            tokio::spawn(async move {
                let mut value = 0u64;
                let mut round_trips = Vec::new();
                while Instant::now() < until {
                    value += 1;
                    let sent = Instant::now();
                    let outcome = http
                        .patch(&url)
                        .bearer_auth(KEY)
                        .json(&json!({"data": {"value": value}}))
                        .send()
                        .await;
                    let done = Instant::now();
                    let ok = match outcome {
                        Ok(response) if response.status().is_success() => {
                            // Read the body: the answer is the confirmation.
                            response.bytes().await.is_ok()
                        }
                        Ok(response) => {
                            let status = response.status();
                            let body = response.text().await.unwrap_or_default();
                            first_error
                                .lock()
                                .unwrap()
                                .get_or_insert(format!("{status}: {body}"));
                            false
                        }
                        Err(error) => {
                            first_error.lock().unwrap().get_or_insert(error.to_string());
                            false
                        }
                    };
                    if done >= from && done < until {
                        if ok {
                            counted.fetch_add(1, Ordering::Relaxed);
                            round_trips.push((done - sent).as_secs_f64() * 1000.0);
                        } else {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                round_trips
            })
        })
        .collect();
    let mut round_trips = Vec::new();
    for task in tasks {
        round_trips.extend(task.await.unwrap());
    }
    round_trips.sort_by(|a, b| a.partial_cmp(b).unwrap());
    RateRun {
        rate: counted.load(Ordering::Relaxed) as f64 / window.as_secs_f64(),
        round_trips,
        errors: errors.load(Ordering::Relaxed),
        first_error: first_error.lock().unwrap().take(),
    }
}

pub(crate) struct WriteFigures {
    pub(crate) median: f64,
    pub(crate) runs: Vec<f64>,
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
    pub(crate) cpu: CpuUse,
}

pub(crate) async fn writes(
    http: &reqwest::Client,
    nodes: &[ServerProcess],
    writers: usize,
) -> WriteFigures {
    let urls: Vec<String> = nodes.iter().map(|n| n.url.clone()).collect();
    let ids: Vec<String> = (0..writers).map(|c| format!("w{c}")).collect();
    create_rows(http, &urls[0], &ids).await;
    let (runs, window) = if quick() {
        (1, Duration::from_secs(1))
    } else {
        (3, Duration::from_secs(3))
    };
    // Untimed: connections opened, SQLite past its first WAL wrap.
    write_rate(http, &urls, writers, Duration::ZERO, Duration::from_secs(1)).await;
    let before = sample(nodes);
    let mut rates = Vec::new();
    let mut round_trips = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for _ in 0..runs {
        let run = write_rate(http, &urls, writers, Duration::from_millis(500), window).await;
        rates.push(run.rate);
        round_trips.extend(run.round_trips);
        errors += run.errors;
        first_error = first_error.or(run.first_error);
    }
    let cpu = CpuUse::between(before, sample(nodes));
    round_trips.sort_by(|a, b| a.partial_cmp(b).unwrap());
    WriteFigures {
        median: median(rates.clone()),
        runs: rates,
        p50: percentile(&round_trips, 0.5),
        p99: percentile(&round_trips, 0.99),
        errors,
        first_error,
        cpu,
    }
}
