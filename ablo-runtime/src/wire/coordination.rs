//! Participants, intents, claims and presence.

use serde::{Deserialize, Serialize};

use super::ParticipantKind;
use crate::types::{Json, SyncId, Timestamp};

/// A participant as intents and presence name it: `{id, kind}`.
///
/// ```
/// use ablo_runtime::wire::{Participant, ParticipantKind};
/// let p = Participant { id: "agent_7".into(), kind: ParticipantKind::Agent };
/// assert_eq!(serde_json::to_value(&p).unwrap()["kind"], "agent");
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Participant {
    /// The participant's id.
    pub id: String,
    /// `user`, `agent` or `system`.
    pub kind: ParticipantKind,
}

/// What an intent or a presence entry points at: a row, or one of its fields.
///
/// ```
/// use ablo_runtime::wire::Target;
/// let t: Target = serde_json::from_str(r#"{"model":"tasks","id":"t1"}"#).unwrap();
/// assert!(t.field.is_none());
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    /// The model's wire name.
    pub model: String,
    /// The row's id.
    pub id: String,
    /// A field's wire name, when the target is one field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A live, visible signal that a participant works on a target.
///
/// ```
/// use ablo_runtime::wire::Intent;
/// let json = r#"{"id":"int_1","participant":{"id":"a1","kind":"agent"},
///   "target":{"model":"tasks","id":"t1","field":"status"},"action":"editing",
///   "exclusive":false,"createdAt":"2026-01-01T00:00:00.000Z",
///   "expiresAt":"2026-01-01T00:00:30.000Z"}"#;
/// let intent: Intent = serde_json::from_str(json).unwrap();
/// assert_eq!(intent.target.field.as_deref(), Some("status"));
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Intent {
    /// The intent's id.
    pub id: String,
    /// Who holds it.
    pub participant: Participant,
    /// What it covers.
    pub target: Target,
    /// A short verb chosen by the holder, for example `editing`.
    pub action: String,
    /// Whether it is a claim (one holder per target).
    #[serde(default)]
    pub exclusive: bool,
    /// When it was taken.
    pub created_at: Timestamp,
    /// When it lapses unless heartbeated.
    pub expires_at: Timestamp,
}

/// What happened to an intent, in [`ServerMessage::Intent`].
///
/// ```
/// use ablo_runtime::wire::IntentEventKind;
/// assert_eq!(serde_json::to_string(&IntentEventKind::Released).unwrap(), "\"released\"");
/// ```
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum IntentEventKind {
    /// Taken (or granted, for a claim).
    Created,
    /// Renewed by a heartbeat.
    Renewed,
    /// Released by its holder.
    Released,
    /// Lapsed without a heartbeat.
    Expired,
    /// A waiting claim reached the front of its line and now holds the
    /// target.
    Granted,
    /// A claim joined a wait line (see `position`).
    Queued,
}

/// What a connected participant is doing with a target.
///
/// ```
/// use ablo_runtime::wire::PresenceState;
/// assert_eq!(serde_json::to_string(&PresenceState::Viewing).unwrap(), "\"viewing\"");
/// ```
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum PresenceState {
    /// Looking at it.
    Viewing,
    /// Changing it.
    Editing,
    /// No longer there.
    Left,
}

/// One presence entry.
///
/// ```
/// use ablo_runtime::wire::Presence;
/// let p: Presence = serde_json::from_str(r#"{"participant":{"id":"u1","kind":"user"},
///   "target":{"model":"tasks","id":"t1"},"state":"editing","at":"2026-01-01T00:00:00.000Z"}"#).unwrap();
/// assert_eq!(p.participant.id, "u1");
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Presence {
    /// Who.
    pub participant: Participant,
    /// What they look at.
    pub target: Target,
    /// `viewing`, `editing` or `left`.
    pub state: PresenceState,
    /// When this state was published.
    pub at: Timestamp,
}

/// `POST /v1/intents`: take an intent, or a claim with `exclusive: true`.
///
/// ```
/// use ablo_runtime::wire::CreateIntentRequest;
/// let req: CreateIntentRequest = serde_json::from_str(
///     r#"{"target":{"model":"tasks","id":"t1"},"action":"update","exclusive":true}"#).unwrap();
/// assert!(req.exclusive && req.wait);
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateIntentRequest {
    /// The row or field.
    pub target: Target,
    /// A short verb, for example `update` or `editing`.
    pub action: String,
    /// The lease in milliseconds; the server's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
    /// A claim: one holder per target, others wait in line.
    #[serde(default)]
    pub exclusive: bool,
    /// For a claim that is held: join the wait line (default) or fail at
    /// once with `entity_claimed`.
    #[serde(default = "default_true")]
    pub wait: bool,
}

fn default_true() -> bool {
    true
}

/// Whether an intent holds its target or waits in line.
///
/// ```
/// use ablo_runtime::wire::IntentStatus;
/// assert_eq!(serde_json::to_string(&IntentStatus::Queued).unwrap(), "\"queued\"");
/// ```
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum IntentStatus {
    /// Active: an advisory intent, or a claim that holds its target.
    Active,
    /// A claim waiting in line.
    Queued,
}

/// The answer to `POST /v1/intents` (201 active, 202 queued) and to a
/// heartbeat.
///
/// ```
/// use ablo_runtime::wire::{IntentResponse, IntentStatus};
/// let json = r#"{"intent":{"id":"int_1","participant":{"id":"a1","kind":"agent"},
///   "target":{"model":"tasks","id":"t1"},"action":"update","exclusive":true,
///   "createdAt":"2026-01-01T00:00:00.000Z","expiresAt":"2026-01-01T00:00:30.000Z"},
///   "status":"queued","position":2}"#;
/// let r: IntentResponse = serde_json::from_str(json).unwrap();
/// assert_eq!((r.status, r.position), (IntentStatus::Queued, Some(2)));
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IntentResponse {
    /// The intent; its id heartbeats and releases it.
    pub intent: Intent,
    /// `active` or `queued`.
    pub status: IntentStatus,
    /// For a queued claim: the place in line, from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
    /// For a granted claim: the row as it is now (absent if the row does
    /// not exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Json>,
    /// For a granted claim: the stamp the holder's writes are guarded from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<SyncId>,
}

/// `GET /v1/intents?model&id&field`: the active intents on a target.
///
/// ```
/// use ablo_runtime::wire::IntentList;
/// let list: IntentList = serde_json::from_str(r#"{"data":[]}"#).unwrap();
/// assert!(list.data.is_empty());
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IntentList {
    /// The intents, claims included (waiting claims not).
    pub data: Vec<Intent>,
}

/// `DELETE /v1/intents/{id}`: whether this call released something
/// (`false` when it was already released or expired).
///
/// ```
/// use ablo_runtime::wire::IntentReleased;
/// let r: IntentReleased = serde_json::from_str(r#"{"id":"int_1","released":false}"#).unwrap();
/// assert!(!r.released);
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IntentReleased {
    /// The intent's id.
    pub id: String,
    /// Whether it was active or waiting until this call.
    pub released: bool,
}
