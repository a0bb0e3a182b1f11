use std::time::Duration;

use ablo_runtime::wire::{Participant, ParticipantKind, Target};

use super::*;

fn who(id: &str) -> Participant {
    Participant {
        id: id.into(),
        kind: ParticipantKind::Agent,
    }
}

fn target(field: Option<&str>) -> Target {
    Target {
        model: "tasks".into(),
        id: "t1".into(),
        field: field.map(str::to_owned),
    }
}

fn request(participant: &str, field: Option<&str>, exclusive: bool, wait: bool) -> IntentRequest {
    IntentRequest {
        participant: who(participant),
        target: target(field),
        action: "update".into(),
        ttl: Some(Duration::from_secs(5)),
        exclusive,
        wait,
        sync_groups: vec!["default".into()],
        credential: None,
    }
}

fn board() -> IntentBoard {
    IntentBoard::new(BoardConfig {
        max_queue_depth: 16,
        ..BoardConfig::default()
    })
}

fn active(outcome: ClaimOutcome) -> Intent {
    match outcome {
        ClaimOutcome::Active(intent) => intent,
        other => panic!("expected an active intent, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn advisory_intents_coexist_and_never_busy_their_own_holder() {
    let board = board();
    active(board.create(request("human", None, false, false)).unwrap());
    active(board.create(request("agent", None, false, false)).unwrap());
    assert_eq!(board.active_on(&target(None)).len(), 2);
    let scope = WriteScope::fields(["status"]);
    assert_eq!(
        board
            .busy_for_write("tasks", "t1", &scope, &who("human"))
            .len(),
        1
    );
    assert_eq!(
        board
            .busy_for_write("tasks", "t1", &scope, &who("other"))
            .len(),
        2
    );
    assert!(
        board
            .claim_conflict("tasks", "t1", &scope, &who("other"))
            .is_empty()
    );
}

#[tokio::test(start_paused = true)]
async fn field_intents_cover_only_writes_to_their_field() {
    let board = board();
    active(
        board
            .create(request("human", Some("title"), false, false))
            .unwrap(),
    );
    let agent = who("agent");
    assert!(
        board
            .busy_for_write("tasks", "t1", &WriteScope::fields(["status"]), &agent)
            .is_empty()
    );
    assert_eq!(
        board
            .busy_for_write("tasks", "t1", &WriteScope::fields(["title"]), &agent)
            .len(),
        1
    );
    assert_eq!(
        board
            .busy_for_write("tasks", "t1", &WriteScope::Row, &agent)
            .len(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn a_held_claim_refuses_a_non_waiting_contender() {
    let board = board();
    let held = active(board.create(request("a", None, true, false)).unwrap());
    let err = board.create(request("b", None, true, false)).unwrap_err();
    assert_eq!(
        err,
        BoardError::EntityClaimed {
            holders: vec![held.clone()]
        }
    );
    let conflict = board.claim_conflict("tasks", "t1", &WriteScope::fields(["x"]), &who("b"));
    assert_eq!(conflict, vec![held.clone()]);
    assert!(
        board
            .claim_conflict("tasks", "t1", &WriteScope::Row, &who("a"))
            .is_empty()
    );
}

#[tokio::test(start_paused = true)]
async fn claims_on_different_fields_coexist_but_a_row_claim_waits_for_both() {
    let board = board();
    active(
        board
            .create(request("a", Some("title"), true, false))
            .unwrap(),
    );
    active(
        board
            .create(request("b", Some("status"), true, false))
            .unwrap(),
    );
    let err = board
        .create(request("c", Some("title"), true, false))
        .unwrap_err();
    assert!(matches!(err, BoardError::EntityClaimed { .. }));
    let err = board.create(request("c", None, true, false)).unwrap_err();
    let BoardError::EntityClaimed { holders } = err else {
        panic!()
    };
    assert_eq!(holders.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn contenders_are_granted_in_arrival_order() {
    let board = board();
    let mut events = board.subscribe();
    let first = active(board.create(request("p0", None, true, true)).unwrap());
    let mut waiting = Vec::new();
    for i in 1..10 {
        match board
            .create(request(&format!("p{i}"), None, true, true))
            .unwrap()
        {
            ClaimOutcome::Queued { intent, position } => {
                assert_eq!(position, i);
                waiting.push(intent);
            }
            other => panic!("contender {i} was not queued: {other:?}"),
        }
    }
    let mut holder = first;
    for next in waiting {
        assert_eq!(board.queue_position(&next.id), Some(1));
        board.release(&holder.id, &holder.participant).unwrap();
        let granted = board
            .claims_held_by("tasks", "t1", &next.participant)
            .pop()
            .expect("next contender holds the claim");
        assert_eq!(granted.id, next.id);
        holder = granted;
    }
    let mut grants = Vec::new();
    while let Ok(event) = events.try_recv() {
        if event.kind == BoardEventKind::Granted {
            grants.push(event.intent.participant.id);
        }
    }
    let expected: Vec<String> = (1..10).map(|i| format!("p{i}")).collect();
    assert_eq!(grants, expected);
}

#[tokio::test(start_paused = true)]
async fn a_new_claim_does_not_overtake_the_wait_line() {
    let board = board();
    let holder = active(board.create(request("a", None, true, true)).unwrap());
    assert!(matches!(
        board.create(request("b", None, true, true)).unwrap(),
        ClaimOutcome::Queued { position: 1, .. }
    ));
    board.release(&holder.id, &holder.participant).unwrap();
    // b now holds the row; c on a field of it must wait behind b.
    assert!(matches!(
        board
            .create(request("c", Some("title"), true, true))
            .unwrap(),
        ClaimOutcome::Queued { position: 1, .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn a_silent_holder_loses_the_claim_after_its_lease() {
    let board = board();
    let holder = active(board.create(request("a", None, true, true)).unwrap());
    let ClaimOutcome::Queued { intent: waiter, .. } =
        board.create(request("b", None, true, true)).unwrap()
    else {
        panic!()
    };
    tokio::time::advance(Duration::from_secs(3)).await;
    board.heartbeat(&holder.id, &holder.participant).unwrap();
    board.heartbeat(&waiter.id, &waiter.participant).unwrap();
    tokio::time::advance(Duration::from_secs(4)).await;
    assert_eq!(board.expire_lapsed(), 0, "heartbeat renewed the lease");
    board.heartbeat(&waiter.id, &waiter.participant).unwrap();
    tokio::time::advance(Duration::from_millis(1001)).await;
    assert_eq!(board.expire_lapsed(), 1);
    let held = board.claims_held_by("tasks", "t1", &waiter.participant);
    assert_eq!(
        held.len(),
        1,
        "the waiter was granted when the holder lapsed"
    );
}

#[tokio::test(start_paused = true)]
async fn a_waiter_that_stops_heartbeating_leaves_the_line() {
    let board = board();
    let holder = active(board.create(request("a", None, true, true)).unwrap());
    board.create(request("b", None, true, true)).unwrap();
    tokio::time::advance(Duration::from_secs(4)).await;
    board.heartbeat(&holder.id, &holder.participant).unwrap();
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(board.expire_lapsed(), 1);
    board.release(&holder.id, &holder.participant).unwrap();
    assert!(board.active_on(&target(None)).is_empty());
}

#[tokio::test(start_paused = true)]
async fn release_is_idempotent_and_owner_only() {
    let board = board();
    let held = active(board.create(request("a", None, false, false)).unwrap());
    assert_eq!(
        board.release(&held.id, &who("b")).unwrap_err(),
        BoardError::NotHolder {
            id: held.id.clone()
        }
    );
    assert_eq!(
        board.heartbeat(&held.id, &who("b")).unwrap_err(),
        BoardError::NotHolder {
            id: held.id.clone()
        }
    );
    assert!(
        board
            .release(&held.id, &held.participant)
            .unwrap()
            .is_some()
    );
    assert!(
        board
            .release(&held.id, &held.participant)
            .unwrap()
            .is_none()
    );
    assert_eq!(
        board.heartbeat(&held.id, &held.participant).unwrap_err(),
        BoardError::NotFound {
            id: held.id.clone()
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_full_wait_line_is_refused() {
    let board = IntentBoard::new(BoardConfig {
        max_queue_depth: 2,
        ..BoardConfig::default()
    });
    active(board.create(request("a", None, true, true)).unwrap());
    board.create(request("b", None, true, true)).unwrap();
    board.create(request("c", None, true, true)).unwrap();
    assert_eq!(
        board.create(request("d", None, true, true)).unwrap_err(),
        BoardError::QueueFull { depth: 2 }
    );
}

#[tokio::test(start_paused = true)]
async fn leases_outside_the_limits_are_refused() {
    let board = board();
    let mut too_long = request("a", None, false, false);
    too_long.ttl = Some(Duration::from_secs(3600));
    assert!(matches!(
        board.create(too_long).unwrap_err(),
        BoardError::InvalidTtl { .. }
    ));
    let mut too_short = request("a", None, false, false);
    too_short.ttl = Some(Duration::from_millis(1));
    assert!(matches!(
        board.create(too_short).unwrap_err(),
        BoardError::InvalidTtl { .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn guard_stamps_belong_to_active_claims() {
    let board = board();
    let held = active(board.create(request("a", None, true, false)).unwrap());
    assert_eq!(board.guard_stamp(&held.id), None);
    board.set_guard_stamp(&held.id, SyncId(42));
    assert_eq!(board.guard_stamp(&held.id), Some(SyncId(42)));
}
