//! The isolation matrix of `docs/security.md`: credentials generated over
//! operation sets × sync-group sets (and the API key) drive every route and
//! message kind against one seeded server — lists with every `orderBy` and
//! followed cursors, retrieve, single writes and batches, a replay of
//! another principal's idempotency key, delta pages, WebSocket replay and
//! live, intents, claims, presence, audit and sources — and every byte that
//! comes back is searched for rows, values, ids and groups outside the
//! credential's scope. Every write a credential may not make must change
//! nothing.

mod authz_common;
mod server_common;

use std::collections::BTreeMap;
use std::time::Duration;

use ablo_runtime::wire::{ClientMessage, PresenceState, Target};
use authz_common::{Socket, ws_connect, ws_subscribe};
use base64::Engine;
use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use server_common::{Http, TestServer};
use tokio_tungstenite::tungstenite::Message;

/// A seeded row: model, id, groups, and the marker only its data carries.
struct Seed {
    model: &'static str,
    id: &'static str,
    groups: &'static [&'static str],
    marker: &'static str,
    data: fn(&str) -> Value,
}

const SEEDS: &[Seed] = &[
    Seed {
        model: "projects",
        id: "pa1",
        groups: &["org:a"],
        marker: "MARKpa1",
        data: |m| json!({"orgId": "a", "name": m}),
    },
    Seed {
        model: "projects",
        id: "pb1",
        groups: &["org:b"],
        marker: "MARKpb1",
        data: |m| json!({"orgId": "b", "name": m}),
    },
    Seed {
        model: "projects",
        id: "pb2",
        groups: &["org:b"],
        marker: "MARKpb2",
        data: |m| json!({"orgId": "b", "name": m}),
    },
    Seed {
        model: "tickets",
        id: "tax",
        groups: &["org:a", "project:x"],
        marker: "MARKtax",
        data: |m| json!({"orgId": "a", "projectKey": "x", "title": m}),
    },
    Seed {
        model: "tickets",
        id: "tay",
        groups: &["org:a", "project:y"],
        marker: "MARKtay",
        data: |m| json!({"orgId": "a", "projectKey": "y", "title": m}),
    },
    Seed {
        model: "tickets",
        id: "tby",
        groups: &["org:b", "project:y"],
        marker: "MARKtby",
        data: |m| json!({"orgId": "b", "projectKey": "y", "title": m}),
    },
];

const ALL_GROUPS: &[&str] = &["org:a", "org:b", "project:x", "project:y"];

/// What one credential may do, computed from first principles (not from
/// the server's code) so the test can judge the server.
#[derive(Clone, Debug)]
struct Cred {
    name: String,
    token: String,
    /// `None` for the API key.
    operations: Option<Vec<&'static str>>,
    groups: Option<Vec<&'static str>>,
}

impl Cred {
    fn allows_group(&self, group: &str) -> bool {
        self.groups.as_ref().is_none_or(|patterns| {
            patterns.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => group.starts_with(prefix),
                None => *p == group,
            })
        })
    }

    fn allows(&self, model: &str, action: &str) -> bool {
        self.operations.as_ref().is_none_or(|ops| {
            ops.iter().any(|op| {
                let (m, a) = op.split_once('.').unwrap_or((op, "*"));
                (m == "*" || m == model) && (a == "*" || a == action)
            })
        })
    }

    fn sees(&self, seed: &Seed) -> bool {
        self.allows(seed.model, "read") && seed.groups.iter().all(|g| self.allows_group(g))
    }

    /// Words that must never appear in an answer to this credential.
    fn forbidden(&self) -> Vec<String> {
        let mut words: Vec<String> = SEEDS
            .iter()
            .filter(|s| !self.sees(s))
            .flat_map(|s| [s.marker.to_owned(), format!("\"{}\"", s.id)])
            .collect();
        words.extend(
            ALL_GROUPS
                .iter()
                .filter(|g| !self.allows_group(g))
                .map(|g| g.to_string()),
        );
        words
    }
}

fn check(cred: &Cred, what: &str, text: &str) {
    for word in cred.forbidden() {
        assert!(
            !text.contains(&word),
            "{}: {what} leaked `{word}`: {text}",
            cred.name
        );
    }
}

/// Cursors are searched too, in case one can be decoded.
fn check_cursor(cred: &Cred, what: &str, cursor: &str) {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .unwrap_or_default();
    check(cred, what, &String::from_utf8_lossy(&raw));
}

async fn snapshot(server: &TestServer) -> BTreeMap<String, Value> {
    let mut rows = BTreeMap::new();
    for model in ["projects", "tickets"] {
        let (_, page) = server
            .http
            .get(&format!("/v1/models/{model}?limit=1000"))
            .await;
        for row in page["data"].as_array().unwrap() {
            rows.insert(
                format!("{model}/{}", row["id"].as_str().unwrap()),
                row.clone(),
            );
        }
    }
    rows
}

async fn socket_messages(socket: &mut Socket, quiet: Duration) -> Vec<String> {
    let mut texts = Vec::new();
    while let Ok(Some(Ok(frame))) = tokio::time::timeout(quiet, socket.next()).await {
        if let Message::Text(text) = frame {
            texts.push(text.to_string());
        }
    }
    texts
}

/// Puts every seeded row back as seeded (an earlier credential may have
/// changed or deleted the rows it could see).
async fn reseed(server: &TestServer) {
    tokio::time::sleep(Duration::from_millis(250)).await;
    for seed in SEEDS {
        let path = format!("/v1/models/{}/{}", seed.model, seed.id);
        let data = (seed.data)(seed.marker);
        if server.http.get(&path).await.0 == StatusCode::NOT_FOUND {
            let (status, body) = server
                .http
                .post(
                    &format!("/v1/models/{}", seed.model),
                    &json!({"id": seed.id, "data": data}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        } else {
            let (status, body) = server.http.patch(&path, &json!({"data": data})).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    }
}

async fn drive(server: &TestServer, cred: &Cred, shared_key: &str) {
    reseed(server).await;
    let http = {
        let mut http = Http::new(&server.url, "unused");
        http.key = Some(cred.token.clone());
        http
    };
    let before = snapshot(server).await;

    // WebSocket first, so live events of everything below reach it.
    let mut socket = ws_connect(server, Some(&cred.token)).await.unwrap();
    ws_subscribe(&mut socket, 0, None).await;
    for text in socket_messages(&mut socket, Duration::from_millis(300)).await {
        check(cred, "ws replay", &text);
    }

    let sort_fields = [
        (
            "projects",
            vec!["id", "stamp", "createdAt", "updatedAt", "name", "orgId"],
        ),
        (
            "tickets",
            vec!["id", "stamp", "updatedAt", "title", "projectKey", "orgId"],
        ),
    ];
    for (model, orders) in &sort_fields {
        for order in orders {
            for direction in ["asc", "desc"] {
                let mut cursor: Option<String> = None;
                for _ in 0..20 {
                    let mut path =
                        format!("/v1/models/{model}?orderBy={order}:{direction}&limit=1");
                    if let Some(c) = &cursor {
                        path.push_str(&format!("&cursor={c}"));
                    }
                    let (_, page) = http.get(&path).await;
                    check(
                        cred,
                        &format!("list {model} {order}:{direction}"),
                        &page.to_string(),
                    );
                    match page["nextCursor"].as_str() {
                        Some(next) => {
                            check_cursor(cred, "cursor", next);
                            cursor = Some(next.to_owned());
                        }
                        None => break,
                    }
                }
            }
        }
    }
    // And what is in scope is all there.
    for model in ["projects", "tickets"] {
        let (status, page) = http.get(&format!("/v1/models/{model}?limit=100")).await;
        if !cred.allows(model, "read") {
            assert_eq!(status, StatusCode::FORBIDDEN, "{}: {page}", cred.name);
            continue;
        }
        let mut listed: Vec<&str> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|row| row["id"].as_str())
            .collect();
        listed.sort();
        let mut expected: Vec<&str> = SEEDS
            .iter()
            .filter(|s| s.model == model && cred.sees(s))
            .map(|s| s.id)
            .collect();
        expected.sort();
        assert_eq!(listed, expected, "{}: {model}", cred.name);
    }
    let (_, deltas) = http.get("/v1/sync/deltas?after=0").await;
    check(cred, "deltas", &deltas.to_string());

    for seed in SEEDS {
        let row = format!("/v1/models/{}/{}", seed.model, seed.id);
        let target = json!({"model": seed.model, "id": seed.id});
        let answers = [
            ("retrieve", http.get(&format!("{row}?ifBusy=return")).await),
            (
                "update",
                http.patch(&row, &json!({"data": (seed.data)("changed"), "readAt": 0, "ifBusy": "fail"}))
                    .await,
            ),
            (
                "batch",
                http.commit(&json!({"operations": [
                    {"type": "update", "model": seed.model, "id": seed.id, "data": (seed.data)("batch"), "readAt": 0}]}))
                    .await,
            ),
            (
                "replayed key",
                {
                    let request = http
                        .client
                        .patch(format!("{}{row}", http.base))
                        .header("idempotency-key", shared_key)
                        .json(&json!({"data": (seed.data)("shared")}));
                    http.send(request).await
                },
            ),
            ("intents list", http.get(&format!("/v1/intents?model={}&id={}", seed.model, seed.id)).await),
            ("intent", http.post("/v1/intents", &json!({"target": target, "action": "look", "ttlMs": 200})).await),
            (
                "claim",
                http.post(
                    "/v1/intents",
                    &json!({"target": target, "action": "edit", "exclusive": true, "wait": false, "ttlMs": 200}),
                )
                .await,
            ),
            ("delete", http.delete(&format!("{row}?readAt=0")).await),
        ];
        for (what, (status, body)) in answers {
            let text = body.to_string();
            if cred.sees(seed) {
                continue;
            }
            // Out of scope: refused, and exactly like a row that is missing
            // (or a plain permission refusal when the model itself is out).
            assert!(
                status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
                "{}: {what} {} answered {status}: {text}",
                cred.name,
                seed.id
            );
            if status == StatusCode::NOT_FOUND {
                assert_eq!(
                    body["error"]["code"], "row_not_found",
                    "{}: {what}: {text}",
                    cred.name
                );
            }
            check(
                cred,
                what,
                &text.replace(&format!("\"{}\"", seed.id), "\"ID\""),
            );
        }
        let presence = ClientMessage::Presence {
            target: Target {
                model: seed.model.into(),
                id: seed.id.into(),
                field: None,
            },
            state: PresenceState::Viewing,
        };
        if !cred.sees(seed) {
            // Publishing presence out of scope ends the socket; use a
            // fresh one so the rest of the run keeps its subscriber.
            let mut probe = ws_connect(server, Some(&cred.token)).await.unwrap();
            ws_subscribe(&mut probe, u64::MAX / 2, None).await;
            probe
                .send(Message::text(serde_json::to_string(&presence).unwrap()))
                .await
                .unwrap();
            for text in socket_messages(&mut probe, Duration::from_millis(200)).await {
                check(
                    cred,
                    "presence refusal",
                    &text.replace(&format!("\"{}\"", seed.id), "\"ID\""),
                );
            }
        }
    }
    for (path, what) in [
        ("/v1/audit", "audit"),
        ("/v1/audit/verify", "audit verify"),
        ("/v1/sources/none/status", "source status"),
    ] {
        let (_, body) = http.get(path).await;
        check(cred, what, &body.to_string());
    }

    // Nothing out of scope changed.
    let after = snapshot(server).await;
    for seed in SEEDS.iter().filter(|s| !cred.sees(s)) {
        let key = format!("{}/{}", seed.model, seed.id);
        assert_eq!(
            after.get(&key),
            before.get(&key),
            "{}: {key} was changed",
            cred.name
        );
    }

    // Live: the API key writes every row and announces intents.
    tokio::time::sleep(Duration::from_millis(250)).await;
    for seed in SEEDS {
        server
            .http
            .patch(
                &format!("/v1/models/{}/{}", seed.model, seed.id),
                &json!({"data": (seed.data)(seed.marker)}),
            )
            .await;
        server
            .http
            .post(
                "/v1/intents",
                &json!({"target": {"model": seed.model, "id": seed.id}, "action": "edit", "ttlMs": 200}),
            )
            .await;
    }
    let live = socket_messages(&mut socket, Duration::from_millis(400)).await;
    for text in &live {
        check(cred, "ws live", text);
    }
    for seed in SEEDS.iter().filter(|s| cred.sees(s)) {
        assert!(
            live.iter()
                .any(|text| text.contains(&format!("\"{}\"", seed.id))),
            "{}: nothing live arrived about {}",
            cred.name,
            seed.id
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credential_ever_sees_or_changes_anything_outside_its_scope() {
    let server = TestServer::start_with(|mut config| {
        config.capability_rate_limit = None;
        config
    })
    .await;
    for seed in SEEDS {
        let (status, body) = server
            .http
            .post(
                &format!("/v1/models/{}", seed.model),
                &json!({"id": seed.id, "data": (seed.data)(seed.marker)}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // The API key's idempotency record every credential tries to replay.
    let shared_key = "matrix-shared-key";
    let request = server
        .http
        .client
        .patch(format!("{}/v1/models/projects/pb1", server.url))
        .header("idempotency-key", shared_key)
        .json(&json!({"data": {"orgId": "b", "name": "MARKpb1"}}));
    assert_eq!(server.http.send(request).await.0, StatusCode::OK);

    let operation_sets: &[&[&str]] = &[
        &["*"],
        &["projects.read"],
        &["projects.*", "tickets.read"],
        &["tickets.*"],
    ];
    let group_sets: &[&[&str]] = &[
        &["org:a"],
        &["org:a", "project:y"],
        &["org:a", "project:*"],
        &["org:b"],
        &["*"],
    ];
    let mut creds = vec![Cred {
        name: "api key".into(),
        token: server_common::API_KEY.into(),
        operations: None,
        groups: None,
    }];
    for (i, operations) in operation_sets.iter().enumerate() {
        for (j, groups) in group_sets.iter().enumerate() {
            let (status, minted) = server
                .http
                .post(
                    "/v1/capabilities",
                    &json!({"participantKind": "agent", "participantId": format!("agent_{i}_{j}"),
                            "operations": operations, "syncGroups": groups}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{minted}");
            creds.push(Cred {
                name: format!("{operations:?} × {groups:?}"),
                token: minted["token"].as_str().unwrap().to_owned(),
                operations: Some(operations.to_vec()),
                groups: Some(groups.to_vec()),
            });
        }
    }
    // Presence held by the API key on every row, for late joiners to see.
    let mut key_socket = ws_connect(&server, Some(server_common::API_KEY))
        .await
        .unwrap();
    ws_subscribe(&mut key_socket, u64::MAX / 2, None).await;
    for seed in SEEDS {
        let presence = ClientMessage::Presence {
            target: Target {
                model: seed.model.into(),
                id: seed.id.into(),
                field: None,
            },
            state: PresenceState::Editing,
        };
        key_socket
            .send(Message::text(serde_json::to_string(&presence).unwrap()))
            .await
            .unwrap();
    }
    for cred in &creds {
        drive(&server, cred, shared_key).await;
    }
    drop(key_socket);
    server.stop().await;
}
