//! WebSocket subscribers that time each delta, and paced writes that carry their send time.

use super::*;

/// What one subscriber received: (sent µs, received µs, node the write
/// went through) for every delta, since it was last drained.
pub(crate) struct Receipts {
    /// The node the subscriber is connected to.
    pub(crate) node: usize,
    pub(crate) log: Mutex<Vec<(u64, u64, u8)>>,
    /// The socket ended (closed, `resyncRequired`, an error).
    pub(crate) ended: AtomicBool,
}

/// Every `"sentAtUs":<n>` of a message with the `"viaNode":<n>` of the same
/// delta, without parsing the JSON (each delta has one `"syncId":`).
pub(crate) fn stamps(text: &str, mut each: impl FnMut(u64, u8)) {
    pub(crate) fn number(text: &str, field: &str) -> Option<u64> {
        let start = text.find(field)? + field.len();
        Some(
            text[start..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .fold(0u64, |n, b| n * 10 + u64::from(b - b'0')),
        )
    }
    for delta in text.split("\"syncId\":").skip(1) {
        if let Some(sent) = number(delta, "\"sentAtUs\":") {
            let via = number(delta, "\"viaNode\":").unwrap_or(0) as u8;
            each(sent, via);
        }
    }
}

/// The newest sync id, as `node` sees it.
pub(crate) async fn head(http: &reqwest::Client, url: &str) -> u64 {
    let body: Value = http
        .get(format!("{url}/v1/sync/deltas?after=0&limit=1"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["stamp"].as_u64().unwrap()
}

pub(crate) async fn subscribe(url: &str, cursor: u64) -> Socket {
    let mut request = format!("{}/v1/sync/ws", url.replacen("http://", "ws://", 1))
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {KEY}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let subscribe = ClientMessage::Subscribe {
        cursor: Some(SyncId(cursor)),
        sync_groups: None,
    };
    support::subscribe_until_caught_up(&mut socket, &subscribe).await;
    socket
}

/// Subscribers connected and reading; aborted when dropped.
pub(crate) struct Subscribers {
    pub(crate) receipts: Vec<Arc<Receipts>>,
    pub(crate) tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Subscribers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Subscribers {
    /// `count` subscribers, subscriber `i` on node `i % nodes`, each from
    /// its node's head, read by one task each.
    pub(crate) async fn connect(
        http: &reqwest::Client,
        urls: &[String],
        count: usize,
        base: Instant,
    ) -> Self {
        let mut subscribers = Subscribers {
            receipts: Vec::new(),
            tasks: Vec::new(),
        };
        subscribers.add(http, urls, count, base).await;
        subscribers
    }

    /// `count` more subscribers, spread round-robin over the nodes.
    pub(crate) async fn add(
        &mut self,
        http: &reqwest::Client,
        urls: &[String],
        count: usize,
        base: Instant,
    ) {
        let (receipts, tasks) = (&mut self.receipts, &mut self.tasks);
        let mut heads = Vec::new();
        for url in urls {
            heads.push(head(http, url).await);
        }
        let indexes: Vec<usize> = (0..count).collect();
        for chunk in indexes.chunks(100) {
            let sockets = futures::future::join_all(chunk.iter().map(|&i| {
                let node = i % urls.len();
                let (url, cursor) = (urls[node].clone(), heads[node]);
                async move { (node, subscribe(&url, cursor).await) }
            }))
            .await;
            for (node, mut socket) in sockets {
                let mine = Arc::new(Receipts {
                    node,
                    log: Mutex::new(Vec::new()),
                    ended: AtomicBool::new(false),
                });
                receipts.push(mine.clone());
                tasks.push(tokio::spawn(async move {
                    while let Some(Ok(frame)) = socket.next().await {
                        let Message::Text(text) = frame else {
                            continue;
                        };
                        let received = base.elapsed().as_micros() as u64;
                        let mut found = false;
                        {
                            let mut log = mine.log.lock().unwrap();
                            stamps(&text, |sent, via| {
                                found = true;
                                log.push((sent, received, via));
                            });
                        }
                        if found {
                            continue;
                        }
                        if text.contains("\"ping\"") {
                            let pong = Message::text(r#"{"type":"pong"}"#);
                            if socket.send(pong).await.is_err() {
                                break;
                            }
                        } else if text.contains("\"resyncRequired\"") {
                            break;
                        }
                    }
                    mine.ended.store(true, Ordering::Relaxed);
                }));
            }
        }
    }

    pub(crate) fn ended(&self) -> usize {
        self.receipts
            .iter()
            .filter(|r| r.ended.load(Ordering::Relaxed))
            .count()
    }

    pub(crate) fn received(&self) -> usize {
        self.receipts
            .iter()
            .map(|r| r.log.lock().unwrap().len())
            .sum()
    }

    /// Everything received since the last drain, with each subscriber's
    /// node: (subscriber node, sent, received, via node).
    pub(crate) fn drain(&self) -> Vec<(usize, u64, u64, u8)> {
        let mut all = Vec::new();
        for r in &self.receipts {
            let log = std::mem::take(&mut *r.log.lock().unwrap());
            all.extend(log.into_iter().map(|(s, t, v)| (r.node, s, t, v)));
        }
        all
    }
}

// ------------------------------------------------------------ paced writes

pub(crate) struct Paced {
    /// Send times (µs since base) of the writes of the measured window.
    pub(crate) sent: u64,
    /// Writes answered 2xx.
    pub(crate) confirmed: u64,
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
    /// µs since base: the measured window.
    pub(crate) from: u64,
    pub(crate) until: u64,
}

/// Writes at `rate` per second for `duration`, write `i` through node
/// `i % nodes` on row `p{i % PROBE_ROWS}`, each spawned at its time (an
/// open loop: a slow answer does not delay the next write). The window
/// measured is after the first `skip`.
pub(crate) async fn paced_writes(
    http: &reqwest::Client,
    urls: &[String],
    rate: f64,
    duration: Duration,
    skip: Duration,
    base: Instant,
) -> Paced {
    let count = (rate * duration.as_secs_f64()).round() as usize;
    let start = Instant::now();
    let from = (start + skip - base).as_micros() as u64;
    let until = (start + duration - base).as_micros() as u64;
    let confirmed = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(Mutex::new(None));
    let mut tasks = Vec::with_capacity(count);
    let mut sent_in_window = 0;
    for i in 0..count {
        let at = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(at.into()).await;
        let node = i % urls.len();
        let url = format!("{}/v1/models/probes/p{}", urls[node], i % PROBE_ROWS);
        let (http, confirmed, errors) = (http.clone(), confirmed.clone(), errors.clone());
        let first_error = first_error.clone();
        let sent = base.elapsed().as_micros() as u64;
        if sent >= from && sent < until {
            sent_in_window += 1;
        }
        tasks.push(tokio::spawn(async move {
            let body = json!({"data": {"sentAtUs": sent, "viaNode": node}});
            match http.patch(&url).bearer_auth(KEY).json(&body).send().await {
                Ok(response) if response.status().is_success() => {
                    let _ = response.bytes().await;
                    confirmed.fetch_add(1, Ordering::Relaxed);
                }
                Ok(response) => {
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    first_error
                        .lock()
                        .unwrap()
                        .get_or_insert(format!("{status}: {body}"));
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                Err(error) => {
                    first_error.lock().unwrap().get_or_insert(error.to_string());
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    Paced {
        sent: sent_in_window,
        confirmed: confirmed.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        first_error: first_error.lock().unwrap().take(),
        from,
        until,
    }
}

/// Waits until `subscribers` hold `expected` receipts or `grace` passes.
pub(crate) async fn settle(subscribers: &Subscribers, expected: usize, grace: Duration) {
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && subscribers.received() < expected {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
