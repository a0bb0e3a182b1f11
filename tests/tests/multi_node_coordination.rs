//! Intents, claims and presence across nodes on one PostgreSQL database,
//! over real HTTP and WebSocket on loopback: claims exclusive and granted
//! first-in-first-out whichever node the contenders use, intent events and
//! presence reaching the subscribers of every node within their scope, a
//! stopped node's leases lapsing, and a revocation on one node ending the
//! capability's claim on another within a second. Skipped with a notice
//! when `ABLO_TEST_POSTGRES_URL` is not set.

mod authz_common;
mod coordination_common;
mod server_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ablo_runtime::wire::{ClientMessage, IntentEventKind, PresenceState, ServerMessage, Target};
use authz_common::{Socket, http_with, mint, project, ws_connect, ws_next, ws_subscribe};
use coordination_common::{
    Contender, Contest, ONE_AT_A_TIME, agent, claim_on, nodes, until_seen, watch_intents,
};
use reqwest::StatusCode;
use serde_json::json;
use server_common::{Subscriber, TestServer};

#[tokio::test]
async fn ten_claim_contenders_over_three_nodes_are_granted_in_request_order_one_at_a_time() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some((url, nodes)) = nodes("ten contenders", 3).await else {
        return;
    };
    let contest = Contest::start(&url, &nodes, "contender").await;
    let tokens = contest.tokens.clone();
    // Requests in order, each on the next node.
    let mut ids = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let http = http_with(&nodes[i % 3], Some(token));
        let asked = Instant::now();
        let (status, body) = http.post("/v1/intents", &claim_on("t1", 30_000)).await;
        eprintln!(
            "claim {i} on node {} answered in {:?}",
            i % 3,
            asked.elapsed()
        );
        if i == 0 {
            assert_eq!(status, StatusCode::CREATED, "{body}");
            assert_eq!(body["status"], "active");
        } else {
            assert_eq!(status, StatusCode::ACCEPTED, "{body}");
            assert_eq!(
                body["position"], i,
                "contender {i} is {i}th in line: {body}"
            );
        }
        ids.push(body["intent"]["id"].as_str().unwrap().to_owned());
    }
    let line: Vec<Contender> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| Contender {
            id: id.clone(),
            node: i % 3,
            token: tokens[i].clone(),
        })
        .collect();
    let started = Instant::now();
    contest
        .grant_in_turn(&nodes, &line, "granted in request order")
        .await;
    eprintln!(
        "10 contenders on 3 nodes granted in order in {:?}",
        started.elapsed()
    );
    for node in &nodes {
        let (_, list) = node.http.get("/v1/intents?model=tasks&id=t1").await;
        assert_eq!(list["data"], json!([]), "nothing left on any node");
    }
    for node in nodes {
        node.stop().await;
    }
}

#[tokio::test]
async fn ten_claims_asked_at_once_over_three_nodes_get_distinct_places_and_are_granted_by_place() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some((url, nodes)) = nodes("ten at once", 3).await else {
        return;
    };
    let contest = Contest::start(&url, &nodes, "racer").await;
    let tokens = contest.tokens.clone();
    // All ten at the same moment, spread over the nodes.
    let start = Arc::new(tokio::sync::Barrier::new(10));
    let asks: Vec<_> = tokens
        .iter()
        .enumerate()
        .map(|(i, token)| {
            let (http, start) = (http_with(&nodes[i % 3], Some(token)), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                http.post("/v1/intents", &claim_on("t1", 30_000)).await
            })
        })
        .collect();
    let mut placed = Vec::new();
    for (i, ask) in asks.into_iter().enumerate() {
        let (status, body) = ask.await.unwrap();
        let place = match status {
            StatusCode::CREATED => 0,
            StatusCode::ACCEPTED => body["position"].as_u64().unwrap(),
            other => panic!("{other}: {body}"),
        };
        let id = body["intent"]["id"].as_str().unwrap().to_owned();
        placed.push((
            place,
            Contender {
                id,
                node: i % 3,
                token: tokens[i].clone(),
            },
        ));
    }
    placed.sort_by_key(|(place, _)| *place);
    let places: Vec<u64> = placed.iter().map(|(place, _)| *place).collect();
    assert_eq!(
        places,
        (0..10).collect::<Vec<_>>(),
        "one holder, then places 1 to 9 once each"
    );
    let line: Vec<Contender> = placed.into_iter().map(|(_, c)| c).collect();
    contest
        .grant_in_turn(&nodes, &line, "granted by place in line")
        .await;
    for node in nodes {
        node.stop().await;
    }
}

/// A capability's subscriber on `node`, read up to `caughtUp`.
async fn scoped_subscriber(node: &TestServer, token: &str) -> Socket {
    let mut socket = ws_connect(node, Some(token)).await.expect("ws opens");
    ws_subscribe(&mut socket, 0, None).await;
    loop {
        match ws_next(&mut socket, Duration::from_secs(5))
            .await
            .expect("open")
        {
            ServerMessage::CaughtUp { .. } => return socket,
            _ => continue,
        }
    }
}

/// The next intent event's `(kind, model/id)` on a socket.
async fn next_intent(socket: &mut Socket) -> (IntentEventKind, String) {
    loop {
        match ws_next(socket, Duration::from_secs(5)).await.expect("open") {
            ServerMessage::Intent { event, intent, .. } => {
                return (
                    event,
                    format!("{}/{}", intent.target.model, intent.target.id),
                );
            }
            _ => continue,
        }
    }
}

#[tokio::test]
async fn an_intent_taken_on_one_node_reaches_subscribers_of_another_within_their_scope() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some((_, nodes)) = nodes("intent events", 2).await else {
        return;
    };
    let (a, b) = (&nodes[0], &nodes[1]);
    for (id, org) in [("pa", "a"), ("pb", "b")] {
        let (status, body) = a
            .http
            .post(
                "/v1/models/projects",
                &json!({"id": id, "data": project(org, id)}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, org_a) = mint(b, agent("viewer_a", &["projects.*"], &["org:a"])).await;
    let (_, org_b) = mint(b, agent("viewer_b", &["projects.*"], &["org:b"])).await;
    let mut in_scope = scoped_subscriber(b, &org_a).await;
    let mut out_of_scope = scoped_subscriber(b, &org_b).await;
    let taken = Instant::now();
    let (status, body) = a
        .http
        .post(
            "/v1/intents",
            &json!({"target": {"model": "projects", "id": "pa"}, "action": "editing"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // A later intent in org b: the out-of-scope subscriber's first event.
    let (status, body) = a
        .http
        .post(
            "/v1/intents",
            &json!({"target": {"model": "projects", "id": "pb"}, "action": "editing"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        next_intent(&mut in_scope).await,
        (IntentEventKind::Created, "projects/pa".to_owned())
    );
    eprintln!(
        "intent from node a seen on node b after {:?}",
        taken.elapsed()
    );
    assert_eq!(
        next_intent(&mut out_of_scope).await,
        (IntentEventKind::Created, "projects/pb".to_owned()),
        "nothing of org a reaches org b's subscriber"
    );
    let (_, list) = b.http.get("/v1/intents?model=projects&id=pa").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    for node in nodes {
        node.stop().await;
    }
}

/// The next presence message on a subscriber.
async fn next_presence(subscriber: &mut Subscriber) -> ablo_runtime::wire::Presence {
    loop {
        if let ServerMessage::Presence { presence } = subscriber.next().await.expect("open") {
            return presence;
        }
    }
}

#[tokio::test]
async fn presence_published_on_one_node_reaches_another() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some((_, nodes)) = nodes("presence", 2).await else {
        return;
    };
    let (a, b) = (&nodes[0], &nodes[1]);
    a.http.create_task("t1", "watched").await;
    let mut on_b = b.subscribe(0).await;
    on_b.until_caught_up().await;
    let mut on_a = a.subscribe(0).await;
    on_a.until_caught_up().await;
    let target = Target {
        model: "tasks".into(),
        id: "t1".into(),
        field: None,
    };
    let published = Instant::now();
    on_a.send(&ClientMessage::Presence {
        target: target.clone(),
        state: PresenceState::Editing,
    })
    .await;
    let seen = next_presence(&mut on_b).await;
    assert_eq!(
        (seen.target.clone(), seen.state),
        (target.clone(), PresenceState::Editing)
    );
    eprintln!(
        "presence from node a seen on node b after {:?}",
        published.elapsed()
    );
    drop(on_a);
    // A node republishes its presence to a node it hears for the first
    // time, so the same state may come again before `left`.
    loop {
        let next = next_presence(&mut on_b).await;
        assert_eq!(next.target, target);
        if next.state == PresenceState::Left {
            break;
        }
        assert_eq!(next.state, PresenceState::Editing);
    }
    for node in nodes {
        node.stop().await;
    }
}

#[tokio::test]
async fn a_stopped_nodes_claim_lapses_and_the_next_waiter_on_another_node_is_granted() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some((_, mut nodes)) = nodes("stopped node", 3).await else {
        return;
    };
    nodes[0].http.create_task("t1", "held").await;
    let (_, holder) = mint(&nodes[0], agent("holder", &["tasks.*"], &["*"])).await;
    let (_, waiter) = mint(&nodes[1], agent("waiter", &["tasks.*"], &["*"])).await;
    let mut events = watch_intents(&nodes[1..]).await;
    let asked = Instant::now();
    let (status, held) = http_with(&nodes[0], Some(&holder))
        .post("/v1/intents", &claim_on("t1", 1000))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{held}");
    let taken = Instant::now();
    let (status, queued) = http_with(&nodes[1], Some(&waiter))
        .post("/v1/intents", &claim_on("t1", 30_000))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    nodes.remove(0).stop().await;
    let held_id = held["intent"]["id"].as_str().unwrap();
    let queued_id = queued["intent"]["id"].as_str().unwrap();
    // Watched on nodes 1 and 2 (indexes 0 and 1 of the watch).
    until_seen(
        &mut events,
        0,
        IntentEventKind::Expired,
        held_id,
        Duration::from_secs(5),
    )
    .await;
    let granted = until_seen(
        &mut events,
        0,
        IntentEventKind::Granted,
        queued_id,
        Duration::from_secs(5),
    )
    .await;
    // The lease started while the claim was being taken.
    let (earliest, latest) = (granted.at - asked, granted.at - taken);
    eprintln!(
        "the stopped node's 1 s claim lapsed; next waiter granted {latest:?} after the claim's answer"
    );
    assert!(
        earliest >= Duration::from_millis(1000),
        "before the lease ran out: {earliest:?}"
    );
    assert!(
        latest < Duration::from_millis(2000),
        "not within the lease and a sweep: {latest:?}"
    );
    // Asked of the node whose events were awaited (the first left after
    // the removal): another node's mirror may not have caught up yet.
    let (_, list) = nodes[0].http.get("/v1/intents?model=tasks&id=t1").await;
    assert_eq!(list["data"][0]["id"], queued_id, "{list}");
    for node in nodes {
        node.stop().await;
    }
}

#[tokio::test]
async fn a_capability_revoked_on_one_node_loses_its_claim_on_another_within_a_second() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some((_, nodes)) = nodes("revoked claim", 2).await else {
        return;
    };
    let (a, b) = (&nodes[0], &nodes[1]);
    a.http.create_task("t1", "held").await;
    let (revoked_id, revoked) = mint(a, agent("revoked", &["tasks.*"], &["*"])).await;
    let (_, next) = mint(b, agent("next", &["tasks.*"], &["*"])).await;
    let mut events = watch_intents(std::slice::from_ref(b)).await;
    // The capability minted on a is used on b once b knows it.
    let holder = http_with(b, Some(&revoked));
    let deadline = Instant::now() + Duration::from_secs(2);
    let held = loop {
        let (status, body) = holder.post("/v1/intents", &claim_on("t1", 30_000)).await;
        if status == StatusCode::CREATED {
            break body;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(Instant::now() < deadline, "b never accepted the capability");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let (status, queued) = http_with(b, Some(&next))
        .post("/v1/intents", &claim_on("t1", 30_000))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    let (status, body) = a
        .http
        .delete(&format!("/v1/capabilities/{revoked_id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let revoked_at = Instant::now();
    let held_id = held["intent"]["id"].as_str().unwrap();
    let queued_id = queued["intent"]["id"].as_str().unwrap();
    let ended = until_seen(
        &mut events,
        0,
        IntentEventKind::Released,
        held_id,
        Duration::from_secs(3),
    )
    .await;
    let granted = until_seen(
        &mut events,
        0,
        IntentEventKind::Granted,
        queued_id,
        Duration::from_secs(3),
    )
    .await;
    eprintln!(
        "revoked on a: claim ended on b after {:?}, next waiter granted after {:?}",
        ended.at - revoked_at,
        granted.at - revoked_at
    );
    assert!(granted.at - revoked_at < Duration::from_secs(1));
    let write = http_with(b, Some(&next))
        .patch(
            "/v1/models/tasks/t1",
            &json!({"data": {"title": "mine now"}}),
        )
        .await;
    assert_eq!(write.0, StatusCode::OK, "{}", write.1);
    for node in nodes {
        node.stop().await;
    }
}
