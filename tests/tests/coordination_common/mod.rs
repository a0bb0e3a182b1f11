//! Shared setup of the multi-node coordination tests: nodes on one fresh
//! database, agents with capabilities, subscribers that forward intent
//! events, a database watcher counting claim holders, and the turn in which
//! contenders are granted and release.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ablo_runtime::wire::{IntentEventKind, ServerMessage};
use ablo_server::storage::StorageLocation;
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::authz_common::http_with;
use crate::server_common::{TestServer, schema};

/// The tests of this file run one at a time: each starts two or three
/// nodes, and each node keeps up to 18 connections to the database.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `n` nodes on a fresh database, the schema pushed on the first and seen
/// by all; also the database's URL.
pub async fn nodes(test: &str, n: usize) -> Option<(String, Vec<TestServer>)> {
    let url = ablo_tests::postgres::fresh_database(test)?;
    let mut nodes = Vec::new();
    for _ in 0..n {
        nodes.push(TestServer::start_node(StorageLocation::Postgres(url.clone())).await);
    }
    let (status, body) = nodes[0]
        .http
        .put("/v1/schema", &serde_json::to_value(schema()).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let deadline = Instant::now() + Duration::from_secs(3);
    for node in &nodes[1..] {
        while node.http.get("/v1/schema").await.0 != StatusCode::OK {
            assert!(Instant::now() < deadline, "a node never saw the schema");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Some((url, nodes))
}

/// A capability for agent `id`.
pub fn agent(id: &str, operations: &[&str], groups: &[&str]) -> Value {
    json!({
        "participantKind": "agent",
        "participantId": id,
        "operations": operations,
        "syncGroups": groups,
        "ttlSeconds": 600,
        "label": id,
    })
}

pub fn claim_on(id: &str, ttl_ms: u64) -> Value {
    json!({"target": {"model": "tasks", "id": id}, "action": "update",
           "exclusive": true, "wait": true, "ttlMs": ttl_ms})
}

/// An intent event seen by the subscriber on node `node`.
#[derive(Clone, Debug)]
pub struct Seen {
    pub node: usize,
    pub kind: IntentEventKind,
    pub intent: String,
    pub at: Instant,
}

/// Subscribes (API key) on each node and forwards every intent event.
pub async fn watch_intents(nodes: &[TestServer]) -> mpsc::UnboundedReceiver<Seen> {
    let (tx, rx) = mpsc::unbounded_channel();
    for (node, server) in nodes.iter().enumerate() {
        let mut subscriber = server.subscribe(0).await;
        subscriber.until_caught_up().await;
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(Ok(frame)) = subscriber.socket.next().await {
                let Message::Text(text) = frame else { continue };
                if let Ok(ServerMessage::Intent { event, intent, .. }) = serde_json::from_str(&text)
                {
                    let seen = Seen {
                        node,
                        kind: event,
                        intent: intent.id,
                        at: Instant::now(),
                    };
                    if tx.send(seen).is_err() {
                        return;
                    }
                }
            }
        });
    }
    rx
}

/// Waits for an event of `kind` on `intent` seen on `node`.
pub async fn until_seen(
    events: &mut mpsc::UnboundedReceiver<Seen>,
    node: usize,
    kind: IntentEventKind,
    intent: &str,
    within: Duration,
) -> Seen {
    tokio::time::timeout(within, async {
        loop {
            let seen = events.recv().await.expect("subscribers open");
            if seen.node == node && seen.kind == kind && seen.intent == intent {
                return seen;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {kind:?} of {intent} on node {node} within {within:?}"))
}

/// Polls the database every millisecond for the most claims held on one
/// row at once, until stopped.
pub fn watch_holders(
    url: String,
    stop: Arc<AtomicBool>,
    most: Arc<AtomicI64>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        while !stop.load(Ordering::Relaxed) {
            let held: i64 = client
                .query_one(
                    "SELECT count(*) FROM coordination_intents \
                     WHERE exclusive AND NOT waiting AND model = 'tasks' AND row_id = 't1'",
                    &[],
                )
                .unwrap()
                .get(0);
            most.fetch_max(held, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(1));
        }
    })
}

/// A claim in line: its id, the node its holder uses and the holder's token.
pub struct Contender {
    pub id: String,
    pub node: usize,
    pub token: String,
}

/// Each contender waits for its grant on its own node's live stream, holds
/// the claim briefly, then releases it; all at the same time. Returns the
/// order the grants reached their contenders and, per node, the grants its
/// subscriber was told of.
pub async fn take_turns(
    nodes: &[TestServer],
    line: &[Contender],
    events: &mut mpsc::UnboundedReceiver<Seen>,
) -> (Vec<String>, Vec<Vec<String>>) {
    let mut waiting: HashMap<String, tokio::sync::oneshot::Sender<()>> = HashMap::new();
    let granted_order = Arc::new(Mutex::new(Vec::new()));
    let mut contenders = Vec::new();
    for contender in line {
        let (tx, rx) = tokio::sync::oneshot::channel();
        waiting.insert(contender.id.clone(), tx);
        let http = http_with(&nodes[contender.node], Some(&contender.token));
        let (id, order) = (contender.id.clone(), granted_order.clone());
        contenders.push(tokio::spawn(async move {
            tokio::time::timeout(Duration::from_secs(20), rx)
                .await
                .expect("granted in time")
                .unwrap();
            order.lock().unwrap().push(id.clone());
            tokio::time::sleep(Duration::from_millis(20)).await;
            let (status, body) = http.delete(&format!("/v1/intents/{id}")).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body["released"], true);
        }));
    }
    let mut grants_by_node: Vec<Vec<String>> = vec![Vec::new(); nodes.len()];
    let mut releases = 0;
    tokio::time::timeout(Duration::from_secs(30), async {
        while releases < nodes.len() * line.len() {
            let seen = events.recv().await.expect("subscribers open");
            match seen.kind {
                IntentEventKind::Granted => grants_by_node[seen.node].push(seen.intent.clone()),
                IntentEventKind::Released => releases += 1,
                _ => {}
            }
            let own = line.iter().find(|c| c.id == seen.intent).map(|c| c.node);
            if matches!(
                seen.kind,
                IntentEventKind::Granted | IntentEventKind::Created
            ) && own == Some(seen.node)
                && let Some(tx) = waiting.remove(&seen.intent)
            {
                let _ = tx.send(());
            }
        }
    })
    .await
    .expect("every claim granted and released within 30 s");
    for contender in contenders {
        contender.await.unwrap();
    }
    let order = granted_order.lock().unwrap().clone();
    (order, grants_by_node)
}

/// Ten agents contending for task `t1`: their capabilities minted
/// round-robin on the nodes, every node's intent events watched, and a
/// database watcher counting holders.
pub struct Contest {
    pub tokens: Vec<String>,
    events: mpsc::UnboundedReceiver<Seen>,
    stop: Arc<AtomicBool>,
    most: Arc<AtomicI64>,
    watcher: std::thread::JoinHandle<()>,
}

impl Contest {
    /// Creates `t1` and the ten agents (`{prefix}_{i}`).
    pub async fn start(url: &str, nodes: &[TestServer], prefix: &str) -> Contest {
        nodes[0].http.create_task("t1", "contended").await;
        let events = watch_intents(nodes).await;
        let mut tokens = Vec::new();
        for i in 0..10 {
            let (_, token) = crate::authz_common::mint(
                &nodes[i % nodes.len()],
                agent(&format!("{prefix}_{i}"), &["tasks.*"], &["*"]),
            )
            .await;
            tokens.push(token);
        }
        let (stop, most) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicI64::new(0)),
        );
        let watcher = watch_holders(url.to_owned(), stop.clone(), most.clone());
        Contest {
            tokens,
            events,
            stop,
            most,
            watcher,
        }
    }

    /// Lets `line` be granted and released in turn, then asserts that the
    /// grants came in `line`'s order (`order` names it), that every node
    /// announced every grant in that order, and that the database never saw
    /// two holders at once.
    pub async fn grant_in_turn(mut self, nodes: &[TestServer], line: &[Contender], order: &str) {
        let ids: Vec<String> = line.iter().map(|c| c.id.clone()).collect();
        let (granted_order, grants_by_node) = take_turns(nodes, line, &mut self.events).await;
        self.stop.store(true, Ordering::Relaxed);
        self.watcher.join().unwrap();
        assert_eq!(granted_order, ids, "{order}");
        for (node, grants) in grants_by_node.iter().enumerate() {
            assert_eq!(
                grants,
                &ids[1..],
                "node {node} announced every grant, in order"
            );
        }
        assert_eq!(
            self.most.load(Ordering::Relaxed),
            1,
            "never two holders at once"
        );
    }
}
