//! [`Tools`]: the tool definitions made from the pushed schema and the
//! calls behind them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ablo_runtime::schema::rules::RESERVED_ROW_FIELDS;
use ablo_runtime::{Error, ModelDescriptor, SchemaDescriptor};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::api::{Api, segment};

/// One tool: its name, what it does and the JSON Schema of its arguments.
///
/// ```
/// let tool = ablo_mcp::ToolDefinition {
///     name: "list_models".into(),
///     description: "The models of the schema.".into(),
///     input_schema: serde_json::json!({"type": "object", "properties": {}}),
/// };
/// assert_eq!(tool.input_schema["type"], "object");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ToolDefinition {
    /// The tool's name, for example `tasks_update`.
    pub name: String,
    /// What the tool does, for the model to read.
    pub description: String,
    /// The JSON Schema (draft 2020-12) of the tool's arguments.
    pub input_schema: Value,
}

/// Why a tool call failed: the server's (or the tool's own) error code,
/// message, HTTP status and details.
///
/// ```
/// let err = ablo_mcp::ToolError::new("unknown_tool", "no tool `x`");
/// assert_eq!(err.to_json()["error"]["code"], "unknown_tool");
/// ```
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message} ({code})")]
pub struct ToolError {
    /// Machine-readable code: the server's (`stale_context`,
    /// `entity_claimed`, `not_found`, ...) or the tool's
    /// (`invalid_arguments`, `unknown_tool`, `timeout`).
    pub code: String,
    /// What went wrong.
    pub message: String,
    /// The HTTP status, when the server answered.
    pub status: Option<u16>,
    /// The envelope's details: for `stale_context`, `current` (the row now)
    /// and `stamp` (a valid `readAt` for the retry).
    pub details: Option<Value>,
}

impl ToolError {
    /// An error raised by the tool itself.
    ///
    /// ```
    /// let err = ablo_mcp::ToolError::new("timeout", "still held");
    /// assert!(err.status.is_none());
    /// ```
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ToolError {
            code: code.to_owned(),
            message: message.into(),
            status: None,
            details: None,
        }
    }

    /// The JSON a tool error answers: `{"error": {code, message, status?,
    /// details?}}`.
    ///
    /// ```
    /// let json = ablo_mcp::ToolError::new("timeout", "slow").to_json();
    /// assert_eq!(json["error"]["message"], "slow");
    /// ```
    pub fn to_json(&self) -> Value {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(status) = self.status {
            error["status"] = json!(status);
        }
        if let Some(details) = &self.details {
            error["details"] = details.clone();
        }
        json!({ "error": error })
    }
}

impl From<Error> for ToolError {
    fn from(err: Error) -> Self {
        let info = err.info();
        ToolError {
            code: info.code.clone(),
            message: info.message.clone(),
            status: info.status,
            details: info.details.clone(),
        }
    }
}

fn invalid(message: impl Into<String>) -> ToolError {
    ToolError::new("invalid_arguments", message)
}

/// The tools of one Ablo server, made from the schema it holds.
///
/// Claims taken through [`Tools::call`] are heartbeated in the background
/// until they are released or this value is dropped.
pub struct Tools {
    api: Api,
    schema: SchemaDescriptor,
    claims: Mutex<HashMap<String, tokio::task::JoinHandle<()>>>,
}

impl Drop for Tools {
    fn drop(&mut self) {
        for (_, beat) in self.claims.lock().expect("claims lock").drain() {
            beat.abort();
        }
    }
}

impl std::fmt::Debug for Tools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tools")
            .field("api", &self.api)
            .field("schema", &self.schema.name)
            .finish_non_exhaustive()
    }
}

impl Tools {
    /// Reads the schema the server at `url` holds (`GET /v1/schema`) with an
    /// API key or a capability token.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), ablo_mcp::ToolError> {
    /// let tools = ablo_mcp::Tools::connect("http://127.0.0.1:7700", "sk_test_...").await?;
    /// assert!(!tools.definitions().is_empty());
    /// # Ok(()) }
    /// ```
    pub async fn connect(url: &str, token: &str) -> Result<Tools, ToolError> {
        let api = Api::new(url, token)?;
        let schema = api.send(Method::GET, "/v1/schema", &[], None).await?;
        let schema: SchemaDescriptor = serde_json::from_value(schema).map_err(|e| {
            ToolError::new(
                "invalid_response",
                format!("the schema does not decode: {e}"),
            )
        })?;
        Ok(Tools::new(api, schema))
    }

    /// Tools over `api` for `schema` (for a schema read elsewhere).
    ///
    /// ```
    /// use ablo_runtime::{SchemaDescriptor, TypeRegistry};
    /// let api = ablo_mcp::Api::new("http://127.0.0.1:7700", "sk_test_1").unwrap();
    /// let tools = ablo_mcp::Tools::new(api, SchemaDescriptor::build("App", vec![], TypeRegistry::default()));
    /// assert!(tools.definitions().iter().any(|t| t.name == "list_models"));
    /// ```
    pub fn new(api: Api, schema: SchemaDescriptor) -> Tools {
        Tools {
            api,
            schema,
            claims: Mutex::new(HashMap::new()),
        }
    }

    /// The schema the tools were made from.
    ///
    /// ```
    /// # use ablo_runtime::{SchemaDescriptor, TypeRegistry};
    /// # let api = ablo_mcp::Api::new("http://127.0.0.1:7700", "sk_test_1").unwrap();
    /// let tools = ablo_mcp::Tools::new(api, SchemaDescriptor::build("App", vec![], TypeRegistry::default()));
    /// assert_eq!(tools.schema().name, "App");
    /// ```
    pub fn schema(&self) -> &SchemaDescriptor {
        &self.schema
    }

    /// Every tool: the general ones, then five per model (`{model}_get`,
    /// `_list`, `_create`, `_update`, `_delete`).
    ///
    /// ```
    /// # use ablo_runtime::{SchemaDescriptor, TypeRegistry};
    /// # let api = ablo_mcp::Api::new("http://127.0.0.1:7700", "sk_test_1").unwrap();
    /// let tools = ablo_mcp::Tools::new(api, SchemaDescriptor::build("App", vec![], TypeRegistry::default()));
    /// let names: Vec<_> = tools.definitions().into_iter().map(|t| t.name).collect();
    /// assert!(names.contains(&"claim".to_string()));
    /// ```
    pub fn definitions(&self) -> Vec<ToolDefinition> {
        let models: Vec<&str> = self.schema.models.iter().map(|m| m.name.as_str()).collect();
        let model_arg =
            json!({"type": "string", "enum": models, "description": "The model's wire name."});
        let target = |extra: Value| {
            let mut properties = json!({
                "model": model_arg,
                "id": {"type": "string", "description": "The row's id."},
            });
            for (key, value) in extra.as_object().cloned().unwrap_or_default() {
                properties[key] = value;
            }
            json!({"type": "object", "properties": properties, "required": ["model", "id"], "additionalProperties": false})
        };
        let mut out = vec![
            tool(
                "list_models",
                "Lists the models of the schema: wire name, Rust type, doc comment and fields.",
                json!({"type": "object", "properties": {}, "additionalProperties": false}),
            ),
            tool(
                "describe_model",
                "The JSON Schema (draft 2020-12) of a model's rows, with its fields, doc comments and sync groups.",
                json!({"type": "object", "properties": {"model": model_arg}, "required": ["model"], "additionalProperties": false}),
            ),
            tool(
                "claim",
                "Claims a row exclusively: no other participant may write it until you release it. \
                 If another participant holds it, waits in line up to `waitMs` (default 30000) and \
                 answers the row and its stamp once granted. Release with `release` when done.",
                target(json!({
                    "action": {"type": "string", "description": "What you are doing, for example `editing`."},
                    "waitMs": {"type": "integer", "minimum": 0, "maximum": 600000, "description": "How long to wait for a held row; 0 fails at once with entity_claimed."},
                })),
            ),
            tool(
                "release",
                "Releases a claim (or intent) taken with `claim`.",
                json!({"type": "object", "properties": {"intentId": {"type": "string"}}, "required": ["intentId"], "additionalProperties": false}),
            ),
            tool(
                "list_intents",
                "The active intents and claims on a row: who is working on it and until when.",
                target(json!({})),
            ),
            tool(
                "wait_until_free",
                "Waits until no other participant holds an intent or claim on a row (up to `timeoutMs`, default 30000), then answers the row and its stamp.",
                target(json!({"timeoutMs": {"type": "integer", "minimum": 0, "maximum": 600000}})),
            ),
        ];
        for model in &self.schema.models {
            out.extend(model_tools(model));
        }
        out
    }

    /// Runs one tool with its JSON arguments and answers its JSON result.
    ///
    /// ```no_run
    /// # async fn run(tools: ablo_mcp::Tools) -> Result<(), ablo_mcp::ToolError> {
    /// let created = tools.call("tasks_create", serde_json::json!({"data": {"title": "Plan"}})).await?;
    /// let stamp = created["stamp"].clone();
    /// match tools.call("tasks_update", serde_json::json!({
    ///     "id": created["id"], "data": {"title": "Plan v2"}, "readAt": stamp})).await {
    ///     Ok(row) => println!("updated {row}"),
    ///     Err(err) if err.code == "stale_context" => println!("re-read: {:?}", err.details),
    ///     Err(err) => return Err(err),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn call(&self, name: &str, args: Value) -> Result<Value, ToolError> {
        let args = match args {
            Value::Null => Map::new(),
            Value::Object(map) => map,
            _ => return Err(invalid("the arguments must be a JSON object")),
        };
        match name {
            "list_models" => Ok(self.list_models()),
            "describe_model" => self.describe_model(&args),
            "claim" => self.claim(&args).await,
            "release" => self.release(&args).await,
            "list_intents" => {
                let (model, id) = self.target(&args)?;
                self.intents_on(&model, &id).await
            }
            "wait_until_free" => self.wait_until_free(&args).await,
            _ => {
                let Some((model, op)) = self.model_tool(name) else {
                    return Err(ToolError::new(
                        "unknown_tool",
                        format!("there is no tool `{name}`"),
                    ));
                };
                self.model_call(&model, op, &args).await
            }
        }
    }

    fn model_tool(&self, name: &str) -> Option<(String, &'static str)> {
        for op in ["get", "list", "create", "update", "delete"] {
            if let Some(model) = name.strip_suffix(&format!("_{op}"))
                && self.schema.model(model).is_some()
            {
                return Some((model.to_owned(), op));
            }
        }
        None
    }

    fn list_models(&self) -> Value {
        let models: Vec<Value> = self
            .schema
            .models
            .iter()
            .map(|m| {
                json!({
                    "model": m.name,
                    "type": m.type_name,
                    "doc": m.doc,
                    "fields": m.fields.iter().map(|f| json!({
                        "name": f.name, "required": f.is_required(), "doc": f.doc,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({"schema": self.schema.name, "hash": self.schema.hash, "models": models})
    }

    fn describe_model(&self, args: &Map<String, Value>) -> Result<Value, ToolError> {
        let model = self.model_arg(args)?;
        let (mut row, defs) = data_schema(model, false);
        let properties = row["properties"].as_object_mut().expect("properties");
        properties.insert("id".into(), json!({"type": "string"}));
        properties.insert("stamp".into(), json!({"type": "integer", "minimum": 0}));
        properties.insert(
            "createdAt".into(),
            json!({"type": "string", "format": "date-time"}),
        );
        properties.insert(
            "updatedAt".into(),
            json!({"type": "string", "format": "date-time"}),
        );
        let required = row["required"].as_array_mut().expect("required");
        required.extend(RESERVED_ROW_FIELDS.iter().map(|f| json!(f)));
        row["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
        if !defs.is_empty() {
            row["$defs"] = Value::Object(defs);
        }
        Ok(json!({
            "model": model.name,
            "type": model.type_name,
            "doc": model.doc,
            "syncGroups": model.sync_groups,
            "jsonSchema": row,
        }))
    }

    async fn model_call(
        &self,
        model: &str,
        op: &str,
        args: &Map<String, Value>,
    ) -> Result<Value, ToolError> {
        let base = format!("/v1/models/{}", segment(model));
        let id = || -> Result<String, ToolError> {
            args.get("id")
                .and_then(Value::as_str)
                .map(segment)
                .ok_or_else(|| invalid("`id` (a string) is required"))
        };
        let api = &self.api;
        let out = match op {
            "get" => {
                let query = vec![("ifBusy".to_owned(), "return".to_owned())];
                api.send(Method::GET, &format!("{base}/{}", id()?), &query, None)
                    .await?
            }
            "list" => {
                let mut query = Vec::new();
                if let Some(filter) = args.get("where") {
                    if !filter.is_object() {
                        return Err(invalid("`where` must be an object of field values"));
                    }
                    query.push(("where".to_owned(), filter.to_string()));
                }
                for key in ["orderBy", "cursor"] {
                    if let Some(value) = args.get(key).and_then(Value::as_str) {
                        query.push((key.to_owned(), value.to_owned()));
                    }
                }
                if let Some(limit) = args.get("limit").and_then(Value::as_u64) {
                    query.push(("limit".to_owned(), limit.to_string()));
                }
                api.send(Method::GET, &base, &query, None).await?
            }
            "create" => {
                let data = object_arg(args, "data")?;
                let mut body = json!({ "data": data });
                if let Some(id) = args.get("id").and_then(Value::as_str) {
                    body["id"] = json!(id);
                }
                api.send(Method::POST, &base, &[], Some(body)).await?
            }
            "update" => {
                let data = object_arg(args, "data")?;
                let mut body = json!({ "data": data });
                for key in ["readAt", "onStale", "ifBusy"] {
                    if let Some(value) = args.get(key) {
                        body[key] = value.clone();
                    }
                }
                api.send(Method::PATCH, &format!("{base}/{}", id()?), &[], Some(body))
                    .await?
            }
            "delete" => {
                let mut query = Vec::new();
                for key in ["readAt", "onStale", "ifBusy"] {
                    match args.get(key) {
                        Some(Value::String(s)) => query.push((key.to_owned(), s.clone())),
                        Some(Value::Number(n)) => query.push((key.to_owned(), n.to_string())),
                        _ => {}
                    }
                }
                api.send(Method::DELETE, &format!("{base}/{}", id()?), &query, None)
                    .await?
            }
            _ => unreachable!("model tools are get, list, create, update, delete"),
        };
        Ok(out)
    }

    fn model_arg(&self, args: &Map<String, Value>) -> Result<&ModelDescriptor, ToolError> {
        let name = args
            .get("model")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("`model` (a string) is required"))?;
        self.schema.model(name).ok_or_else(|| {
            ToolError::new(
                "model_not_found",
                format!("the schema has no model `{name}`"),
            )
        })
    }

    fn target(&self, args: &Map<String, Value>) -> Result<(String, String), ToolError> {
        let model = self.model_arg(args)?.name.clone();
        let id = args
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("`id` (a string) is required"))?
            .to_owned();
        Ok((model, id))
    }

    async fn intents_on(&self, model: &str, id: &str) -> Result<Value, ToolError> {
        let query = vec![
            ("model".to_owned(), model.to_owned()),
            ("id".to_owned(), id.to_owned()),
        ];
        Ok(self
            .api
            .send(Method::GET, "/v1/intents", &query, None)
            .await?)
    }

    async fn claim(&self, args: &Map<String, Value>) -> Result<Value, ToolError> {
        let (model, id) = self.target(args)?;
        let wait_ms = args.get("waitMs").and_then(Value::as_u64).unwrap_or(30_000);
        let action = args
            .get("action")
            .and_then(Value::as_str)
            .unwrap_or("editing");
        let body = json!({
            "target": {"model": model, "id": id},
            "action": action,
            "exclusive": true,
            "wait": wait_ms > 0,
            "ttlMs": 30_000,
        });
        let mut answer = self
            .api
            .send(Method::POST, "/v1/intents", &[], Some(body))
            .await?;
        let intent_id = answer["intent"]["id"]
            .as_str()
            .ok_or_else(|| ToolError::new("invalid_response", "the claim has no intent id"))?
            .to_owned();
        let deadline = Instant::now() + Duration::from_millis(wait_ms);
        while answer["status"] == "queued" {
            if Instant::now() >= deadline {
                let _ = self.drop_intent(&intent_id).await;
                let mut err = ToolError::new(
                    "timeout",
                    format!(
                        "{model}/{id} is still claimed by another participant after {wait_ms} ms"
                    ),
                );
                err.details = self.intents_on(&model, &id).await.ok();
                return Err(err);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            answer = self
                .api
                .send(
                    Method::POST,
                    &format!("/v1/intents/{}/heartbeat", segment(&intent_id)),
                    &[],
                    None,
                )
                .await?;
        }
        self.keep_alive(intent_id.clone());
        // The grant carries the row and its stamp; a grant after waiting
        // does not, so read the row as the holder sees it now.
        if answer.get("data").is_none() {
            let row = self
                .api
                .send(
                    Method::GET,
                    &format!("/v1/models/{}/{}", segment(&model), segment(&id)),
                    &[],
                    None,
                )
                .await?;
            answer["data"] = row["data"].clone();
            answer["stamp"] = row["stamp"].clone();
        }
        answer["intentId"] = json!(intent_id);
        Ok(answer)
    }

    /// Heartbeats a held claim every 10 s until it is released.
    fn keep_alive(&self, intent_id: String) {
        let api = self.api.clone();
        let path = format!("/v1/intents/{}/heartbeat", segment(&intent_id));
        let beat = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                if api.send(Method::POST, &path, &[], None).await.is_err() {
                    return;
                }
            }
        });
        if let Some(old) = self
            .claims
            .lock()
            .expect("claims lock")
            .insert(intent_id, beat)
        {
            old.abort();
        }
    }

    async fn drop_intent(&self, intent_id: &str) -> Result<Value, ToolError> {
        if let Some(beat) = self.claims.lock().expect("claims lock").remove(intent_id) {
            beat.abort();
        }
        Ok(self
            .api
            .send(
                Method::DELETE,
                &format!("/v1/intents/{}", segment(intent_id)),
                &[],
                None,
            )
            .await?)
    }

    async fn release(&self, args: &Map<String, Value>) -> Result<Value, ToolError> {
        let intent_id = args
            .get("intentId")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("`intentId` (a string) is required"))?;
        self.drop_intent(intent_id).await
    }

    async fn wait_until_free(&self, args: &Map<String, Value>) -> Result<Value, ToolError> {
        let (model, id) = self.target(args)?;
        let timeout = args
            .get("timeoutMs")
            .and_then(Value::as_u64)
            .unwrap_or(30_000);
        let deadline = Instant::now() + Duration::from_millis(timeout);
        let path = format!("/v1/models/{}/{}", segment(&model), segment(&id));
        let query = vec![("ifBusy".to_owned(), "return".to_owned())];
        let held = self.own_intents().await;
        loop {
            let row = self.api.send(Method::GET, &path, &query, None).await?;
            let busy: Vec<Value> = row["intents"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|intent| !held.contains(&intent["id"].as_str().unwrap_or("").to_owned()))
                .collect();
            if busy.is_empty() {
                return Ok(row);
            }
            if Instant::now() >= deadline {
                let mut err = ToolError::new(
                    "timeout",
                    format!("{model}/{id} is still busy after {timeout} ms"),
                );
                err.details = Some(json!({ "intents": busy }));
                return Err(err);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The ids of the claims this process holds itself.
    async fn own_intents(&self) -> Vec<String> {
        self.claims
            .lock()
            .expect("claims lock")
            .keys()
            .cloned()
            .collect()
    }
}

fn tool(name: &str, description: &str, input_schema: Value) -> ToolDefinition {
    ToolDefinition {
        name: name.to_owned(),
        description: description.to_owned(),
        input_schema,
    }
}

fn object_arg(args: &Map<String, Value>, key: &str) -> Result<Value, ToolError> {
    match args.get(key) {
        Some(value @ Value::Object(_)) => Ok(value.clone()),
        _ => Err(invalid(format!(
            "`{key}` (an object of field values) is required"
        ))),
    }
}

/// The JSON Schema of a model's data for a tool argument, `$defs` apart
/// (the same shaping as the LLM tool definitions of `ablo_runtime::tools`).
pub(crate) fn data_schema(model: &ModelDescriptor, patch: bool) -> (Value, Map<String, Value>) {
    ablo_runtime::tools::tool_data_schema(model, patch)
}

fn model_tools(model: &ModelDescriptor) -> Vec<ToolDefinition> {
    let name = &model.name;
    let what = model
        .doc
        .as_deref()
        .map(|doc| format!(" ({}: {})", model.type_name, doc.trim()))
        .unwrap_or_else(|| format!(" ({})", model.type_name));
    let with_defs = |mut schema: Value, defs: &Map<String, Value>| {
        if !defs.is_empty() {
            schema["$defs"] = Value::Object(defs.clone());
        }
        schema
    };
    let (data, defs) = data_schema(model, false);
    let (patch, _) = data_schema(model, true);
    let id = json!({"type": "string", "description": "The row's id."});
    let read_at = json!({"type": "integer", "minimum": 0, "description": "The stamp you read the row at (from get, list or a stale error); the write fails with stale_context if the row changed since."});
    let on_stale = json!({"type": "string", "enum": ["reject", "merge", "flag", "force"], "description": "What a stale write does (default reject; merge fails only if a field you set changed)."});
    let if_busy = json!({"type": "string", "enum": ["ignore", "fail", "wait"], "description": "What to do when another participant holds an intent on the row (default ignore)."});
    vec![
        tool(
            &format!("{name}_get"),
            &format!("Reads one `{name}` row{what} with its stamp and the intents on it."),
            json!({"type": "object", "properties": {"id": id}, "required": ["id"], "additionalProperties": false}),
        ),
        tool(
            &format!("{name}_list"),
            &format!(
                "Lists `{name}` rows{what}: conditions on fields (equality, ranges, `in`, null), one sort key, a page size and the cursor of the previous page."
            ),
            json!({"type": "object", "properties": {
                "where": {"type": "object", "description": "Field to a value rows must equal, or to operators (eq, ne, gt, gte, lt, lte, in; all must hold), for example {\"status\": {\"in\": [\"todo\", \"doing\"]}, \"priority\": {\"gte\": 3}, \"due\": null}."},
                "orderBy": {"type": "string", "description": "`field`, `field:asc` or `field:desc` (id, stamp, createdAt, updatedAt or a scalar field)."},
                "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
                "cursor": {"type": "string", "description": "The nextCursor of the previous page."},
            }, "additionalProperties": false}),
        ),
        tool(
            &format!("{name}_create"),
            &format!("Creates a `{name}` row{what}; answers the row with its id and stamp."),
            with_defs(
                json!({"type": "object", "properties": {"data": data, "id": {"type": "string", "description": "Your own id (default: a new UUID)."}}, "required": ["data"], "additionalProperties": false}),
                &defs,
            ),
        ),
        tool(
            &format!("{name}_update"),
            &format!(
                "Updates fields of a `{name}` row{what}. Pass readAt to refuse the write if the row changed since you read it: the stale_context error then carries the current row and stamp to retry from."
            ),
            with_defs(
                json!({"type": "object", "properties": {"id": id, "data": patch, "readAt": read_at, "onStale": on_stale, "ifBusy": if_busy}, "required": ["id", "data"], "additionalProperties": false}),
                &defs,
            ),
        ),
        tool(
            &format!("{name}_delete"),
            &format!("Deletes a `{name}` row{what}."),
            json!({"type": "object", "properties": {"id": id, "readAt": read_at, "onStale": on_stale, "ifBusy": if_busy}, "required": ["id"], "additionalProperties": false}),
        ),
    ]
}
