//! Presence end to end: a user and an agent (capabilities) publish what they
//! view or edit, a system client sees who is here live, and entries leave
//! when a client disconnects.

mod client_common;
mod intents_common;

use ablo::client::{Client, MintCapability};
use ablo_runtime::wire::{ParticipantKind, PresenceState, Target};
use client_common::{API_KEY, Task, TestServer, eventually, task};
use intents_common::{client_with, token_client};

async fn client_as(server: &TestServer, admin: &Client, capability: MintCapability) -> Client {
    let minted = admin
        .capabilities()
        .mint(&capability.operations(["tasks.*"]).sync_groups(["*"]))
        .await
        .unwrap();
    token_client(server, minted.token.as_deref().unwrap()).await
}

// conformance: presence
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participants_appear_with_their_kind_change_live_and_leave_on_disconnect() {
    let server = TestServer::start().await;
    let admin = client_with(&server, API_KEY).await;
    let row = admin
        .model::<Task>()
        .create(task("together"))
        .await
        .unwrap();
    let target = Target::from(&row.id);
    let human = client_as(&server, &admin, MintCapability::user("u_ada")).await;
    let agent = client_as(&server, &admin, MintCapability::agent("agent_7")).await;

    human.presence().viewing(target.clone());
    agent.presence().editing(target.clone().field("status"));
    eventually("both are here", || {
        admin.presence().here(target.clone()).len() == 2
    })
    .await;
    let here = admin.presence().here(target.clone());
    let kinds: Vec<(String, ParticipantKind, PresenceState)> = here
        .iter()
        .map(|p| (p.participant.id.clone(), p.participant.kind, p.state))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (
                "agent_7".to_owned(),
                ParticipantKind::Agent,
                PresenceState::Editing
            ),
            (
                "u_ada".to_owned(),
                ParticipantKind::User,
                PresenceState::Viewing
            ),
        ]
    );
    assert_eq!(
        admin.presence().here(target.clone().field("status")).len(),
        1
    );

    human.presence().editing(target.clone());
    eventually("the change is live", || {
        admin
            .presence()
            .here(target.clone())
            .iter()
            .any(|p| p.participant.id == "u_ada" && p.state == PresenceState::Editing)
    })
    .await;

    agent.presence().leave(target.clone().field("status"));
    eventually("the agent left", || {
        admin.presence().here(target.clone()).len() == 1
    })
    .await;

    human.dispose().await;
    eventually("a disconnected user leaves", || {
        admin.presence().here(target.clone()).is_empty()
    })
    .await;
}
