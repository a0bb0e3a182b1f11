//! Tool definitions for LLM function calling, made from a model's
//! descriptor, and [`ToolExecutor`], which runs a model's tool call through
//! the safe loop: load, wait if busy, snapshot, claim, guarded confirmed
//! write, release, and a result the model can read.
//!
//! Every model gets three tools through [`ModelTools`] (in the prelude):
//! `read_{model}`, `create_{model}` and `update_{model}`, each with a
//! description built from the model's doc comment and an input JSON Schema
//! (draft 2020-12) built from its fields. [`ToolDefinition::openai`] and
//! [`ToolDefinition::anthropic`] give the shapes those APIs take.
//!
//! ```
//! use ablo_runtime::tools::ToolDefinition;
//! let tool = ToolDefinition {
//!     name: "read_tasks".into(),
//!     description: "Reads one task.".into(),
//!     input_schema: serde_json::json!({"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}),
//! };
//! assert_eq!(tool.openai()["function"]["name"], "read_tasks");
//! assert_eq!(tool.anthropic()["input_schema"]["required"][0], "id");
//! ```

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::client::{Client, Wait};
use crate::error::Error;
use crate::model::Model;
use crate::schema::ModelDescriptor;
use crate::types::{Id, Json};

/// One tool: name, description and the JSON Schema of its arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolDefinition {
    /// The tool's name, for example `update_tasks` (letters, digits and
    /// `_`, as both APIs require).
    pub name: String,
    /// What the tool does, from the model's doc comment.
    pub description: String,
    /// The JSON Schema (draft 2020-12) of the arguments: an object.
    pub input_schema: Json,
}

impl ToolDefinition {
    /// The OpenAI shape (Chat Completions `tools` entry):
    /// `{"type": "function", "function": {name, description, parameters}}`.
    ///
    /// ```
    /// # let tool = ablo_runtime::tools::ToolDefinition { name: "t".into(), description: "d".into(),
    /// #     input_schema: serde_json::json!({"type": "object"}) };
    /// assert_eq!(tool.openai()["type"], "function");
    /// assert_eq!(tool.openai()["function"]["parameters"]["type"], "object");
    /// ```
    pub fn openai(&self) -> Json {
        json!({
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.input_schema,
            }
        })
    }

    /// The Anthropic shape (Messages `tools` entry):
    /// `{name, description, input_schema}`.
    ///
    /// ```
    /// # let tool = ablo_runtime::tools::ToolDefinition { name: "t".into(), description: "d".into(),
    /// #     input_schema: serde_json::json!({"type": "object"}) };
    /// assert_eq!(tool.anthropic()["name"], "t");
    /// ```
    pub fn anthropic(&self) -> Json {
        json!({
            "name": self.name,
            "description": self.description,
            "input_schema": self.input_schema,
        })
    }
}

/// The tool definitions of a model; implemented for every [`Model`], so
/// `Task::tools()` works wherever the trait is in scope (`ablo::prelude`).
///
/// ```
/// use ablo_runtime::tools::ModelTools;
/// # use ablo_runtime::{Model, ModelDescriptor, FieldDescriptor, FieldType, TypeRegistry};
/// # #[derive(serde::Serialize, serde::Deserialize, Clone)] struct Note { text: String }
/// # #[derive(serde::Serialize, serde::Deserialize, Clone, Default)] struct NotePatch {}
/// # impl Model for Note {
/// #     const NAME: &'static str = "notes";
/// #     type Patch = NotePatch;
/// #     fn descriptor() -> ModelDescriptor { ModelDescriptor { name: "notes".into(), type_name: "Note".into(),
/// #         doc: Some("A note.".into()), fields: vec![FieldDescriptor::new("text", "text", FieldType::String)],
/// #         sync_groups: vec![], ts: String::new(),
/// #         json_schema: serde_json::json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}) } }
/// #     fn register_types(_: &mut TypeRegistry) {}
/// # }
/// let names: Vec<String> = Note::tools().into_iter().map(|t| t.name).collect();
/// assert_eq!(names, ["read_notes", "create_notes", "update_notes"]);
/// assert!(Note::update_tool().description.contains("A note."));
/// ```
pub trait ModelTools: Model {
    /// `read_{model}`, `create_{model}` and `update_{model}`.
    fn tools() -> Vec<ToolDefinition> {
        vec![Self::read_tool(), Self::create_tool(), Self::update_tool()]
    }

    /// `read_{model}` `{id}`: the row, its stamp and who is working on it.
    fn read_tool() -> ToolDefinition {
        let model = Self::descriptor();
        ToolDefinition {
            name: format!("read_{}", model.name),
            description: format!(
                "Reads one `{}` row by id: its fields, its stamp and the intents other participants hold on it.{}",
                model.name,
                about(&model)
            ),
            input_schema: json!({
                "type": "object",
                "properties": {"id": {"type": "string", "description": "The row's id."}},
                "required": ["id"],
                "additionalProperties": false,
            }),
        }
    }

    /// `create_{model}` `{data}`: a new row.
    fn create_tool() -> ToolDefinition {
        let model = Self::descriptor();
        let (data, defs) = tool_data_schema(&model, false);
        ToolDefinition {
            name: format!("create_{}", model.name),
            description: format!("Creates a `{}` row.{}", model.name, about(&model)),
            input_schema: with_defs(
                json!({
                    "type": "object",
                    "properties": {"data": data},
                    "required": ["data"],
                    "additionalProperties": false,
                }),
                defs,
            ),
        }
    }

    /// `update_{model}` `{id, data}`: changes some fields of a row, safely:
    /// the executor waits while someone else holds the row, claims it and
    /// writes guarded by what it read.
    fn update_tool() -> ToolDefinition {
        let model = Self::descriptor();
        let (patch, defs) = tool_data_schema(&model, true);
        ToolDefinition {
            name: format!("update_{}", model.name),
            description: format!(
                "Changes fields of a `{}` row; fields left out keep their value. Waits while another participant works on the row, then writes only if the row did not change meanwhile; otherwise answers the current row to decide again.{}",
                model.name,
                about(&model)
            ),
            input_schema: with_defs(
                json!({
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "description": "The row's id."},
                        "data": patch,
                    },
                    "required": ["id", "data"],
                    "additionalProperties": false,
                }),
                defs,
            ),
        }
    }
}

impl<M: Model> ModelTools for M {}

fn about(model: &ModelDescriptor) -> String {
    match &model.doc {
        Some(doc) => format!(" A {} is: {}", model.type_name, doc.trim()),
        None => String::new(),
    }
}

fn with_defs(mut schema: Json, defs: Map<String, Value>) -> Json {
    if !defs.is_empty() {
        schema["$defs"] = Value::Object(defs);
    }
    schema
}

/// The JSON Schema of a model's data for a tool argument: the model's own
/// schema without `$schema`, `$id` and `title`, with its `$defs` returned
/// apart (so they can sit at the root of the tool's input schema, where
/// `#/$defs/...` references resolve); for a patch, no field is required and
/// at least one must be given.
///
/// ```
/// use ablo_runtime::{FieldDescriptor, FieldType, ModelDescriptor};
/// let model = ModelDescriptor { name: "notes".into(), type_name: "Note".into(), doc: None,
///     fields: vec![FieldDescriptor::new("text", "text", FieldType::String)], sync_groups: vec![],
///     ts: String::new(), json_schema: serde_json::json!({"$schema": "x", "type": "object",
///     "properties": {"text": {"type": "string"}}, "required": ["text"], "$defs": {"A": {}}}) };
/// let (patch, defs) = ablo_runtime::tools::tool_data_schema(&model, true);
/// assert_eq!(patch["required"], serde_json::json!([]));
/// assert!(patch.get("$schema").is_none());
/// assert!(defs.contains_key("A"));
/// ```
pub fn tool_data_schema(model: &ModelDescriptor, patch: bool) -> (Json, Map<String, Value>) {
    let mut schema = model.json_schema.clone();
    let mut defs = Map::new();
    if let Some(object) = schema.as_object_mut() {
        if let Some(Value::Object(found)) = object.remove("$defs") {
            defs = found;
        }
        object.remove("$schema");
        object.remove("$id");
        object.remove("title");
        object.entry("type").or_insert_with(|| json!("object"));
        object.entry("properties").or_insert_with(|| json!({}));
        if patch {
            object.insert("required".into(), json!([]));
            object.insert("minProperties".into(), json!(1));
        } else {
            object.entry("required").or_insert_with(|| json!([]));
        }
        if let Some(doc) = &model.doc {
            object.insert("description".into(), json!(doc.trim()));
        }
    }
    (schema, defs)
}

/// A tool call as a model asked for it: the tool's name and its arguments.
///
/// ```
/// use ablo_runtime::tools::ToolCall;
/// let openai = serde_json::json!({"id": "call_1", "type": "function",
///     "function": {"name": "read_tasks", "arguments": "{\"id\": \"t1\"}"}});
/// let call = ToolCall::from_openai(&openai).unwrap();
/// assert_eq!(call.arguments["id"], "t1");
/// let anthropic = serde_json::json!({"type": "tool_use", "id": "toolu_1", "name": "read_tasks", "input": {"id": "t1"}});
/// assert_eq!(ToolCall::from_anthropic(&anthropic).unwrap(), call.clone().with_id("toolu_1"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCall {
    /// The id the model gave the call (to answer it), if any.
    pub id: Option<String>,
    /// The tool's name.
    pub name: String,
    /// The arguments, a JSON object.
    pub arguments: Json,
}

impl ToolCall {
    /// A call of `name` with `arguments`.
    ///
    /// ```
    /// let call = ablo_runtime::tools::ToolCall::new("read_tasks", serde_json::json!({"id": "t1"}));
    /// assert!(call.id.is_none());
    /// ```
    pub fn new(name: impl Into<String>, arguments: Json) -> Self {
        ToolCall {
            id: None,
            name: name.into(),
            arguments,
        }
    }

    /// The same call with the model's call id.
    ///
    /// ```
    /// let call = ablo_runtime::tools::ToolCall::new("t", serde_json::json!({})).with_id("c1");
    /// assert_eq!(call.id.as_deref(), Some("c1"));
    /// ```
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Reads an OpenAI `tool_calls` entry (`function.arguments` is a JSON
    /// string). `Error::Validation` (`invalid_tool_call`) when it is not one.
    ///
    /// ```
    /// assert!(ablo_runtime::tools::ToolCall::from_openai(&serde_json::json!({})).is_err());
    /// ```
    pub fn from_openai(value: &Json) -> Result<Self, Error> {
        let function = &value["function"];
        let name = function["name"]
            .as_str()
            .ok_or_else(|| invalid_call("an OpenAI tool call needs function.name"))?;
        let arguments = match &function["arguments"] {
            Value::String(text) => serde_json::from_str(text)
                .map_err(|e| invalid_call(format!("function.arguments is not JSON: {e}")))?,
            Value::Null => json!({}),
            other => other.clone(),
        };
        Ok(ToolCall {
            id: value["id"].as_str().map(str::to_owned),
            name: name.to_owned(),
            arguments,
        })
    }

    /// Reads an Anthropic `tool_use` content block.
    ///
    /// ```
    /// assert!(ablo_runtime::tools::ToolCall::from_anthropic(&serde_json::json!({"input": {}})).is_err());
    /// ```
    pub fn from_anthropic(value: &Json) -> Result<Self, Error> {
        let name = value["name"]
            .as_str()
            .ok_or_else(|| invalid_call("an Anthropic tool_use block needs name"))?;
        Ok(ToolCall {
            id: value["id"].as_str().map(str::to_owned),
            name: name.to_owned(),
            arguments: value.get("input").cloned().unwrap_or_else(|| json!({})),
        })
    }
}

fn invalid_call(message: impl Into<String>) -> Error {
    Error::validation("invalid_tool_call", message)
}

/// What a tool call came to, for the model to read: `ok` with the row, or
/// not with the error's code, message and (for a stale or busy row) the row
/// as it is now.
///
/// ```
/// let result = ablo_runtime::tools::ToolResult { call_id: None, ok: true,
///     content: serde_json::json!({"row": {"id": "t1"}}) };
/// assert_eq!(result.to_json()["ok"], true);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ToolResult {
    /// The call's id, to answer it.
    pub call_id: Option<String>,
    /// Whether the call did what it asked.
    pub ok: bool,
    /// `{"row": ..., "stamp": ...}` on success, `{"error": {code, message,
    /// current?}}` otherwise.
    pub content: Json,
}

impl ToolResult {
    /// `{"ok": bool, ...content}`: what to send back to the model.
    ///
    /// ```
    /// let r = ablo_runtime::tools::ToolResult { call_id: None, ok: false,
    ///     content: serde_json::json!({"error": {"code": "stale_context"}}) };
    /// assert_eq!(r.to_json()["error"]["code"], "stale_context");
    /// ```
    pub fn to_json(&self) -> Json {
        let mut out = json!({"ok": self.ok});
        if let Value::Object(content) = &self.content {
            for (key, value) in content {
                out[key] = value.clone();
            }
        }
        out
    }

    /// The OpenAI answer message: `{"role": "tool", "tool_call_id", "content"}`.
    ///
    /// ```
    /// let r = ablo_runtime::tools::ToolResult { call_id: Some("c1".into()), ok: true, content: serde_json::json!({}) };
    /// assert_eq!(r.openai_message()["tool_call_id"], "c1");
    /// ```
    pub fn openai_message(&self) -> Json {
        json!({
            "role": "tool",
            "tool_call_id": self.call_id,
            "content": self.to_json().to_string(),
        })
    }

    /// The Anthropic answer block: `{"type": "tool_result", "tool_use_id",
    /// "content", "is_error"}`.
    ///
    /// ```
    /// let r = ablo_runtime::tools::ToolResult { call_id: Some("t1".into()), ok: false, content: serde_json::json!({}) };
    /// assert_eq!(r.anthropic_block()["is_error"], true);
    /// ```
    pub fn anthropic_block(&self) -> Json {
        json!({
            "type": "tool_result",
            "tool_use_id": self.call_id,
            "content": self.to_json().to_string(),
            "is_error": !self.ok,
        })
    }
}

/// Runs tool calls of a model's [`ModelTools`] with a client.
///
/// `update_{model}` runs the safe loop: read the row, claim it (waiting in
/// line while another participant holds it, at most the wait limit), write
/// the patch guarded by the stamp the claim was granted at and wait for the
/// server's confirmation, release the claim. A row that changed between the
/// model's read and the claim is not overwritten: the result carries the
/// current row (`stale_context`) so the model can decide again.
///
/// ```no_run
/// use ablo_runtime::tools::{ToolCall, ToolExecutor};
/// # #[derive(serde::Serialize, serde::Deserialize, Clone)] struct Task {}
/// # #[derive(serde::Serialize, serde::Deserialize, Clone, Default)] struct TaskPatch {}
/// # impl ablo_runtime::Model for Task { const NAME: &'static str = "tasks"; type Patch = TaskPatch;
/// #   fn descriptor() -> ablo_runtime::ModelDescriptor { unimplemented!() }
/// #   fn register_types(_: &mut ablo_runtime::TypeRegistry) {} }
/// # async fn run(client: ablo_runtime::client::Client, reply: serde_json::Value) -> Result<(), ablo_runtime::Error> {
/// let executor = ToolExecutor::new(client);
/// for call in reply["tool_calls"].as_array().into_iter().flatten() {
///     let result = executor.execute::<Task>(&ToolCall::from_openai(call)?).await?;
///     println!("{}", result.openai_message());
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ToolExecutor {
    client: Client,
    wait_limit: Duration,
}

impl std::fmt::Debug for ToolExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolExecutor")
            .field("wait_limit", &self.wait_limit)
            .finish_non_exhaustive()
    }
}

impl ToolExecutor {
    /// An executor writing with `client`; it waits at most 30 s for a busy
    /// row.
    ///
    /// ```no_run
    /// # fn run(client: ablo_runtime::client::Client) {
    /// let executor = ablo_runtime::tools::ToolExecutor::new(client);
    /// # }
    /// ```
    pub fn new(client: Client) -> Self {
        ToolExecutor {
            client,
            wait_limit: Duration::from_secs(30),
        }
    }

    /// How long an update waits for a row another participant holds.
    ///
    /// ```no_run
    /// # fn run(client: ablo_runtime::client::Client) {
    /// let executor = ablo_runtime::tools::ToolExecutor::new(client)
    ///     .wait_limit(std::time::Duration::from_secs(5));
    /// # }
    /// ```
    pub fn wait_limit(mut self, limit: Duration) -> Self {
        self.wait_limit = limit;
        self
    }

    /// Runs `call` if it names one of `M`'s tools. A failure the model
    /// should hear about (a stale or claimed row, data the server refuses,
    /// a missing row, arguments that do not fit) is an `Ok` result with
    /// `ok: false`; `Err` is kept for a call that names none of `M`'s tools
    /// and for failures of the connection itself.
    ///
    /// ```no_run
    /// # use ablo_runtime::tools::{ToolCall, ToolExecutor};
    /// # #[derive(serde::Serialize, serde::Deserialize, Clone)] struct Task {}
    /// # #[derive(serde::Serialize, serde::Deserialize, Clone, Default)] struct TaskPatch {}
    /// # impl ablo_runtime::Model for Task { const NAME: &'static str = "tasks"; type Patch = TaskPatch;
    /// #   fn descriptor() -> ablo_runtime::ModelDescriptor { unimplemented!() }
    /// #   fn register_types(_: &mut ablo_runtime::TypeRegistry) {} }
    /// # async fn run(executor: ToolExecutor) -> Result<(), ablo_runtime::Error> {
    /// let call = ToolCall::new("update_tasks", serde_json::json!({"id": "t1", "data": {"title": "v2"}}));
    /// let result = executor.execute::<Task>(&call).await?;
    /// assert!(result.ok || result.content["error"]["code"].is_string());
    /// # Ok(()) }
    /// ```
    pub async fn execute<M: Model>(&self, call: &ToolCall) -> Result<ToolResult, Error> {
        let name = M::NAME;
        let outcome = if call.name == format!("read_{name}") {
            self.read::<M>(&call.arguments).await
        } else if call.name == format!("create_{name}") {
            self.create::<M>(&call.arguments).await
        } else if call.name == format!("update_{name}") {
            self.update::<M>(&call.arguments).await
        } else {
            return Err(Error::validation(
                "unknown_tool",
                format!("`{}` is not a tool of model `{name}`", call.name),
            ));
        };
        let (ok, content) = match outcome {
            Ok(content) => (true, content),
            Err(err) if matches!(err, Error::Connection(_)) => return Err(err),
            Err(err) => (false, error_content(&err)),
        };
        Ok(ToolResult {
            call_id: call.id.clone(),
            ok,
            content,
        })
    }

    async fn read<M: Model>(&self, args: &Json) -> Result<Json, Error> {
        let id = id_arg::<M>(args)?;
        let handle = self.client.model::<M>();
        let read = handle.retrieve(id.clone()).await?;
        let intents = self.client.intents().list(&id);
        Ok(json!({
            "row": read.data,
            "stamp": read.stamp,
            "intents": intents,
        }))
    }

    async fn create<M: Model>(&self, args: &Json) -> Result<Json, Error> {
        let data: M = serde_json::from_value(args["data"].clone()).map_err(|e| {
            Error::validation(
                "invalid_arguments",
                format!("`data` does not fit {}: {e}", M::NAME),
            )
        })?;
        let row = self
            .client
            .model::<M>()
            .create(data)
            .wait(Wait::Confirmed)
            .await?;
        Ok(json!({"row": row, "stamp": row.stamp}))
    }

    async fn update<M: Model>(&self, args: &Json) -> Result<Json, Error> {
        let id = id_arg::<M>(args)?;
        let patch: M::Patch = serde_json::from_value(args["data"].clone()).map_err(|e| {
            Error::validation(
                "invalid_arguments",
                format!("`data` does not fit a {} patch: {e}", M::NAME),
            )
        })?;
        let handle = self.client.model::<M>();
        // Load: what the model decided on is the row as it is now.
        let read = handle.retrieve(id.clone()).await?;
        let seen = read.data.stamp;
        // Wait if busy, then hold the row for the write.
        let claim = handle
            .claim(id.clone())
            .action("updating")
            .timeout(self.wait_limit)
            .await?;
        // Snapshot: the stamp the claim was granted at. A row that changed
        // since the read is not written over.
        let stamp = claim.stamp();
        let changed = claim
            .row()
            .filter(|row| row.stamp != seen)
            .map(|row| (serde_json::to_value(row).unwrap_or(Json::Null), row.stamp));
        if let Some((current, now)) = changed {
            let _ = claim.release().await;
            let mut info = crate::ErrorInfo::new(
                "stale_context",
                format!(
                    "{}/{} changed while waiting for it (stamp {} → {}); read it again and decide",
                    M::NAME,
                    id,
                    seen.0,
                    now.0
                ),
            );
            info.details = Some(json!({"current": current, "stamp": now}));
            return Err(Error::from_parts("stale_context", info, None));
        }
        let written = handle
            .update(id.clone(), patch)
            .read_at(stamp)
            .wait(Wait::Confirmed)
            .await;
        let released = claim.release().await;
        let row = written?;
        released?;
        Ok(json!({"row": row, "stamp": row.stamp}))
    }
}

fn id_arg<M: Model>(args: &Json) -> Result<Id<M>, Error> {
    args["id"]
        .as_str()
        .map(|id| Id::from(id.to_owned()))
        .ok_or_else(|| Error::validation("invalid_arguments", "`id` (a string) is required"))
}

fn error_content(err: &Error) -> Json {
    let info = err.info();
    let mut error = json!({"code": info.code, "message": info.message});
    match err {
        Error::StaleContext { current, stamp, .. } => {
            error["current"] = current.clone().unwrap_or(Json::Null);
            error["stamp"] = json!(stamp);
        }
        Error::Busy { intents, .. } | Error::EntityClaimed { intents, .. } => {
            error["intents"] = json!(intents);
        }
        _ => {
            if let Some(details) = &info.details {
                error["details"] = details.clone();
            }
        }
    }
    json!({ "error": error })
}
