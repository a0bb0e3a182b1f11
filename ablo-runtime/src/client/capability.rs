//! Minting, inspecting and revoking capabilities from a client holding an
//! API key: [`Client::capabilities`](super::Client::capabilities).

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::Shared;
use super::transport::Request;
use crate::error::Error;
use crate::wire::{Participant, ParticipantKind};

/// What a new capability may do: `POST /v1/capabilities`.
///
/// ```
/// use ablo_runtime::client::MintCapability;
/// use ablo_runtime::wire::ParticipantKind;
/// let request = MintCapability::agent("triage-bot")
///     .operations(["tasks.read", "tasks.update"])
///     .sync_groups(["org:org_1"])
///     .on_behalf_of(ParticipantKind::User, "u_1")
///     .ttl(std::time::Duration::from_secs(600))
///     .label("inbox triage");
/// let json = serde_json::to_value(&request).unwrap();
/// assert_eq!(json["participantKind"], "agent");
/// assert_eq!(json["ttlSeconds"], 600);
/// ```
#[derive(Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MintCapability {
    /// `agent`, `user` or `system`.
    pub participant_kind: ParticipantKind,
    /// The participant's id, recorded as the actor of its writes.
    pub participant_id: String,
    /// For whom it acts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<Participant>,
    /// Operation patterns: `tasks.read`, `tasks.*`, `*.read`, `*`.
    pub operations: Vec<String>,
    /// Sync-group patterns: `org:org_1`, `deck:*`, `*`.
    pub sync_groups: Vec<String>,
    /// Lifetime in seconds (server default: one hour).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u64>,
    /// A label copied into audit rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

impl MintCapability {
    /// A capability for participant `kind`/`id`, allowing nothing until
    /// operations and groups are added.
    pub fn new(kind: ParticipantKind, id: impl Into<String>) -> Self {
        MintCapability {
            participant_kind: kind,
            participant_id: id.into(),
            on_behalf_of: None,
            operations: Vec::new(),
            sync_groups: Vec::new(),
            ttl_seconds: None,
            label: None,
        }
    }

    /// A capability for an agent.
    pub fn agent(id: impl Into<String>) -> Self {
        Self::new(ParticipantKind::Agent, id)
    }

    /// A capability for a person's session (a browser acting as a user).
    ///
    /// ```
    /// let req = ablo_runtime::client::MintCapability::user("u_1");
    /// assert_eq!(req.participant_id, "u_1");
    /// ```
    pub fn user(id: impl Into<String>) -> Self {
        Self::new(ParticipantKind::User, id)
    }

    /// Sets the operation patterns.
    pub fn operations<S: Into<String>>(mut self, patterns: impl IntoIterator<Item = S>) -> Self {
        self.operations = patterns.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the sync-group patterns.
    pub fn sync_groups<S: Into<String>>(mut self, patterns: impl IntoIterator<Item = S>) -> Self {
        self.sync_groups = patterns.into_iter().map(Into::into).collect();
        self
    }

    /// Acts on behalf of `kind`/`id`.
    pub fn on_behalf_of(mut self, kind: ParticipantKind, id: impl Into<String>) -> Self {
        self.on_behalf_of = Some(Participant {
            id: id.into(),
            kind,
        });
        self
    }

    /// Sets the lifetime (whole seconds, at least one).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl_seconds = Some(ttl.as_secs().max(1));
        self
    }

    /// Sets the label.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }
}

/// A capability as the server describes it; `token` only in the answer to
/// a mint (it is never shown again).
///
/// ```
/// let info: ablo_runtime::client::CapabilityInfo = serde_json::from_str(r#"{
///   "id": "cap_1", "token": "cap_abc", "participantKind": "agent", "participantId": "bot",
///   "onBehalfOf": null, "operations": ["*"], "syncGroups": ["*"], "label": null,
///   "expiresAt": "2030-01-01T00:00:00.000Z", "revokedAt": null, "status": "active"}"#).unwrap();
/// assert_eq!(info.token.as_deref(), Some("cap_abc"));
/// ```
#[derive(Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CapabilityInfo {
    /// `cap_...`.
    pub id: String,
    /// The bearer token, in a mint's answer only.
    #[serde(default)]
    pub token: Option<String>,
    /// `agent`, `user` or `system`.
    pub participant_kind: ParticipantKind,
    /// The participant's id.
    pub participant_id: String,
    /// For whom it acts.
    #[serde(default)]
    pub on_behalf_of: Option<Participant>,
    /// Operation patterns.
    pub operations: Vec<String>,
    /// Sync-group patterns.
    pub sync_groups: Vec<String>,
    /// Its label.
    #[serde(default)]
    pub label: Option<String>,
    /// When it stops working (RFC 3339).
    pub expires_at: String,
    /// When it was revoked.
    #[serde(default)]
    pub revoked_at: Option<String>,
    /// `active`, `expired` or `revoked`.
    pub status: String,
}

/// Capability calls of a client: [`Client::capabilities`](super::Client::capabilities).
///
/// ```no_run
/// # async fn run(client: ablo_runtime::client::Client) -> Result<(), ablo_runtime::Error> {
/// use ablo_runtime::client::MintCapability;
/// let minted = client.capabilities()
///     .mint(&MintCapability::agent("bot").operations(["tasks.*"]).sync_groups(["*"]))
///     .await?;
/// client.capabilities().revoke(&minted.id).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Capabilities {
    pub(crate) shared: Arc<Shared>,
}

impl Capabilities {
    /// Mints a capability (needs an API key).
    pub async fn mint(&self, request: &MintCapability) -> Result<CapabilityInfo, Error> {
        let body = serde_json::to_value(request)
            .map_err(|e| Error::validation("invalid_capability", e.to_string()))?;
        let http = Request::new(Method::POST, &["v1", "capabilities"]).body(body);
        self.shared.transport.call(&http, self.shared.timeout).await
    }

    /// Describes a capability.
    pub async fn get(&self, id: &str) -> Result<CapabilityInfo, Error> {
        let http = Request::new(Method::GET, &["v1", "capabilities", id]);
        self.shared.transport.call(&http, self.shared.timeout).await
    }

    /// Revokes a capability: its next request fails and its open live
    /// connections are closed.
    pub async fn revoke(&self, id: &str) -> Result<CapabilityInfo, Error> {
        let http = Request::new(Method::DELETE, &["v1", "capabilities", id]);
        self.shared.transport.call(&http, self.shared.timeout).await
    }
}
