//! A row that moves out of the groups a subscriber sees reaches it as a
//! removal (`data: null`, no changed fields, no new groups) over the live
//! stream, the replay and the HTTP catch-up, so it drops the row without
//! learning anything of its new state.

mod authz_common;
mod server_common;

use std::time::Duration;

use ablo_runtime::wire::{Delta, ServerMessage};
use authz_common::{agent_request, http_with, mint, project, ws_connect, ws_next, ws_subscribe};
use reqwest::StatusCode;
use serde_json::json;
use server_common::{API_KEY, TestServer};

const SECRET: &str = "name only org b may read";

/// Deltas of one socket until `caughtUp` (when expected) and one with sync
/// id `last` (0: none) have arrived.
async fn deltas_until(
    socket: &mut authz_common::Socket,
    last: u64,
    expect_caught_up: bool,
) -> Vec<Delta> {
    let mut seen: Vec<Delta> = Vec::new();
    let mut caught_up = !expect_caught_up;
    while !caught_up || seen.last().map_or(last > 0, |d| d.sync_id.0 < last) {
        match ws_next(socket, Duration::from_secs(10)).await.unwrap() {
            ServerMessage::Deltas { deltas } => seen.extend(deltas),
            ServerMessage::CaughtUp { .. } => caught_up = true,
            other => panic!("unexpected {other:?}"),
        }
    }
    seen
}

fn assert_removal(delta: &Delta) {
    assert!(delta.data.is_null(), "{delta:?}");
    assert!(delta.changed_fields.is_empty(), "{delta:?}");
    assert!(delta.sync_groups.is_empty(), "{delta:?}");
    assert_eq!(delta.left_sync_groups, ["org:a"]);
}

// conformance: groups.row-leaves
#[tokio::test]
async fn a_row_leaving_a_capabilitys_groups_arrives_as_a_removal() {
    let server = TestServer::start().await;
    let (status, _) = server
        .http
        .post(
            "/v1/models/projects",
            &json!({"id": "p1", "data": project("a", "first")}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, token) = mint(&server, agent_request(&["projects.read"], &["org:a"])).await;

    let mut live = ws_connect(&server, Some(&token)).await.unwrap();
    ws_subscribe(&mut live, 0, None).await;
    let replayed = deltas_until(&mut live, 1, true).await;
    assert_eq!(replayed[0].data["name"], "first");
    let mut asked_a = ws_connect(&server, Some(API_KEY)).await.unwrap();
    ws_subscribe(&mut asked_a, 1, Some(vec!["org:a"])).await;
    deltas_until(&mut asked_a, 0, true).await;
    let mut everything = ws_connect(&server, Some(API_KEY)).await.unwrap();
    ws_subscribe(&mut everything, 1, None).await;
    deltas_until(&mut everything, 0, true).await;

    let (status, body) = server
        .http
        .patch(
            "/v1/models/projects/p1",
            &json!({"data": {"orgId": "b", "name": SECRET}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Live, to a capability for org:a and to an API key that asked for org:a.
    for socket in [&mut live, &mut asked_a] {
        let moved = deltas_until(socket, 2, false).await;
        assert_eq!(moved.len(), 1);
        assert_removal(&moved[0]);
    }
    // An API key that asked for every group sees the row as it is.
    let moved = deltas_until(&mut everything, 2, false).await;
    assert_eq!(moved[0].data["name"], SECRET);
    assert_eq!(moved[0].sync_groups, ["org:b"]);

    // Replay from the start.
    let mut late = ws_connect(&server, Some(&token)).await.unwrap();
    ws_subscribe(&mut late, 0, None).await;
    let replayed = deltas_until(&mut late, 2, true).await;
    assert_eq!(replayed.len(), 2);
    assert_removal(&replayed[1]);

    // HTTP catch-up: the body holds nothing of the row's new state.
    let http = http_with(&server, Some(&token));
    let response = http.get("/v1/sync/deltas?after=0").await;
    assert_eq!(response.0, StatusCode::OK);
    let page = response.1.to_string();
    assert!(!page.contains(SECRET), "{page}");
    assert!(!page.contains("org:b"), "{page}");
    let deltas: Vec<Delta> = serde_json::from_value(response.1["data"].clone()).unwrap();
    assert_eq!(deltas.len(), 2);
    assert_removal(&deltas[1]);

    // A row that never was in org:a stays unseen.
    server
        .http
        .post(
            "/v1/models/projects",
            &json!({"id": "p2", "data": project("b", "other")}),
        )
        .await;
    let (_, page) = http.get("/v1/sync/deltas?after=2").await;
    assert_eq!(page["data"], json!([]));
}
