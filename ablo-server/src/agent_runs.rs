//! Agent runs (tasks): a run is opened by the participant that does the
//! work, its commits name it with `causedByTaskId` (checked in the commit's
//! savepoint: the run must exist and be open), and it is closed once with
//! its outcome and costs.

use ablo_runtime::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::storage::AgentRunRecord;

/// `POST /v1/tasks`.
///
/// ```
/// let req: ablo_server::agent_runs::OpenTask =
///     serde_json::from_str(r#"{"prompt": "triage the inbox", "surface": "inbox"}"#).unwrap();
/// assert_eq!(req.surface.as_deref(), Some("inbox"));
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpenTask {
    /// What the run was asked to do.
    #[serde(default)]
    pub prompt: Option<String>,
    /// Where it was started.
    #[serde(default)]
    pub surface: Option<String>,
    /// The run that started this one.
    #[serde(default)]
    pub parent_task_id: Option<String>,
    /// Free-form JSON.
    #[serde(default)]
    pub metadata: Option<Value>,
}

/// How a run ended.
///
/// ```
/// use ablo_server::agent_runs::TaskOutcome;
/// assert_eq!(serde_json::to_string(&TaskOutcome::Failed).unwrap(), "\"failed\"");
/// ```
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum TaskOutcome {
    /// Finished.
    Done,
    /// Failed (an error or a panic).
    Failed,
    /// Stopped before finishing.
    Cancelled,
}

impl TaskOutcome {
    /// The stored status.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskOutcome::Done => "done",
            TaskOutcome::Failed => "failed",
            TaskOutcome::Cancelled => "cancelled",
        }
    }
}

/// `POST /v1/tasks/{id}/close`.
///
/// ```
/// let req: ablo_server::agent_runs::CloseTask =
///     serde_json::from_str(r#"{"status": "done", "costInputTokens": 1200}"#).unwrap();
/// assert_eq!(req.cost_input_tokens, 1200);
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloseTask {
    /// `done`, `failed` or `cancelled`.
    pub status: TaskOutcome,
    /// Model input tokens spent.
    #[serde(default)]
    pub cost_input_tokens: u64,
    /// Model output tokens spent.
    #[serde(default)]
    pub cost_output_tokens: u64,
    /// Compute time spent, milliseconds.
    #[serde(default)]
    pub cost_compute_ms: u64,
}

/// The wire form of a run.
///
/// ```
/// use ablo_server::storage::AgentRunRecord;
/// use ablo_runtime::wire::{Participant, ParticipantKind};
/// let run = AgentRunRecord { id: "task_1".into(),
///     participant: Participant { id: "bot".into(), kind: ParticipantKind::Agent },
///     on_behalf_of: None, capability_id: None, prompt: None, surface: None, parent_task_id: None,
///     metadata: None, status: "open".into(), created_at: ablo_runtime::Timestamp::now(),
///     closed_at: None, cost_input_tokens: 0, cost_output_tokens: 0, cost_compute_ms: 0 };
/// assert_eq!(ablo_server::agent_runs::to_json(&run)["status"], "open");
/// ```
pub fn to_json(run: &AgentRunRecord) -> Value {
    json!({
        "object": "task",
        "id": run.id,
        "status": run.status,
        "participantKind": run.participant.kind,
        "participantId": run.participant.id,
        "onBehalfOf": run.on_behalf_of.as_ref().map(|p| json!({"kind": p.kind, "id": p.id})),
        "capabilityId": run.capability_id,
        "prompt": run.prompt,
        "surface": run.surface,
        "parentTaskId": run.parent_task_id,
        "metadata": run.metadata,
        "createdAt": run.created_at.to_string(),
        "closedAt": run.closed_at.map(|t: Timestamp| t.to_string()),
        "costInputTokens": run.cost_input_tokens,
        "costOutputTokens": run.cost_output_tokens,
        "costComputeMs": run.cost_compute_ms,
    })
}
