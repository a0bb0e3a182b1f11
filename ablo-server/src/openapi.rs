//! The OpenAPI 3.1 document of the generic v1 API, served at
//! `GET /v1/openapi.json`. Model-specific documents (one schema per model)
//! come from `ablo-codegen`.

use serde_json::{Value, json};

fn error_responses(statuses: &[&str]) -> Value {
    let mut responses = serde_json::Map::new();
    for status in statuses {
        responses.insert(
            (*status).to_owned(),
            json!({"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}}),
        );
    }
    Value::Object(responses)
}

fn with_errors(ok_status: &str, ok_schema: Value, errors: &[&str]) -> Value {
    let mut responses = error_responses(errors);
    responses[ok_status] = json!({
        "description": "success",
        "content": {"application/json": {"schema": ok_schema}}
    });
    responses
}

fn model_param() -> Value {
    json!({"name": "model", "in": "path", "required": true, "schema": {"type": "string"}})
}

fn id_param() -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}})
}

fn query_param(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description})
}

/// The document, built from the routes this server serves.
///
/// ```
/// let doc = ablo_server::openapi_document();
/// assert_eq!(doc["openapi"], "3.1.0");
/// assert!(doc["paths"]["/v1/commits"]["post"].is_object());
/// ```
pub fn openapi_document() -> Value {
    let mut doc = core_document();
    if let Some(paths) = doc["paths"].as_object_mut() {
        paths.extend(authority_paths());
        paths.extend(source_paths());
    }
    doc
}

/// Data Sources (see `docs/data-sources.md`).
fn source_paths() -> serde_json::Map<String, Value> {
    let name =
        json!({"name": "name", "in": "path", "required": true, "schema": {"type": "string"}});
    let config = json!({"type": "object", "required": ["url", "models"], "additionalProperties": false,
        "properties": {"url": {"type": "string"}, "models": {"type": "array", "items": {"type": "string"}},
            "signingSecret": {"type": "string"}}});
    let info = json!({"type": "object", "required": ["object", "name", "url", "models", "signingSecret", "pushEventsUrl"],
        "properties": {"object": {"const": "data_source"}, "name": {"type": "string"}, "url": {"type": "string"},
            "models": {"type": "array", "items": {"type": "string"}}, "signingSecret": {"type": "string"},
            "pushEventsUrl": {"type": "string"}}});
    let status = json!({"type": "object", "required": ["name", "attempts", "failures", "eventsSupported"],
        "properties": {"name": {"type": "string"}, "lastSuccessAt": {"type": ["string", "null"]},
            "lastError": {"type": ["object", "null"]}, "attempts": {"type": "integer"},
            "failures": {"type": "integer"}, "eventsCursor": {}, "eventsSupported": {"type": "boolean"}}});
    let events = json!({"type": "object", "required": ["events"], "properties": {"events": {"type": "array",
        "items": {"type": "object", "required": ["id", "model", "entityId", "type"]}}}});
    let outcome = json!({"type": "object", "required": ["applied", "duplicates", "echoes", "unchanged", "invalid"],
        "properties": {"applied": {"type": "integer"}, "duplicates": {"type": "integer"}, "echoes": {"type": "integer"},
            "unchanged": {"type": "integer"}, "invalid": {"type": "integer"}}});
    let signature_headers = ["webhook-id", "webhook-timestamp", "webhook-signature"].map(
        |h| json!({"name": h, "in": "header", "required": true, "schema": {"type": "string"}}),
    );
    let mut put_responses = with_errors("200", info.clone(), &["400", "401", "403", "422", "429"]);
    put_responses["201"] = put_responses["200"].clone();
    let paths = json!({
        "/v1/sources/{name}": {"parameters": [name.clone()], "put": {"summary": "Configure a Data Source (API key only)",
            "requestBody": {"required": true, "content": {"application/json": {"schema": config}}},
            "responses": put_responses}},
        "/v1/sources/{name}/status": {"parameters": [name.clone()], "get": {"summary": "A Data Source's status (API key only)",
            "responses": with_errors("200", status, &["401", "403", "404", "429"])}},
        "/v1/sources/{name}/events": {"parameters": [name], "post": {
            "summary": "Push events, signed with the source's secret instead of a bearer token",
            "security": [], "parameters": signature_headers.to_vec(),
            "requestBody": {"required": true, "content": {"application/json": {"schema": events}}},
            "responses": with_errors("200", outcome, &["400", "401", "404", "413"])}}
    });
    match paths {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object"),
    }
}

/// Capabilities, agent runs and the audit log (see `docs/auth.md`), and
/// intents and claims (see `docs/coordination.md`).
fn authority_paths() -> serde_json::Map<String, Value> {
    let object = json!({"type": "object"});
    let json_body = |schema: Value| json!({"required": true, "content": {"application/json": {"schema": schema}}});
    let participant = json!({"type": "string", "enum": ["user", "agent", "system"]});
    let capability = json!({"type": "object", "required": ["id", "participantKind", "participantId", "operations", "syncGroups", "expiresAt", "status"],
        "properties": {"id": {"type": "string"}, "token": {"type": "string"}, "participantKind": participant,
            "participantId": {"type": "string"}, "onBehalfOf": {"type": ["object", "null"]},
            "operations": {"type": "array", "items": {"type": "string"}}, "syncGroups": {"type": "array", "items": {"type": "string"}},
            "label": {"type": ["string", "null"]}, "expiresAt": {"type": "string"}, "revokedAt": {"type": ["string", "null"]},
            "status": {"type": "string", "enum": ["active", "expired", "revoked"]}}});
    let mint = json!({"type": "object", "required": ["participantKind", "participantId", "operations", "syncGroups"], "additionalProperties": false,
        "properties": {"participantKind": participant, "participantId": {"type": "string"},
            "onBehalfOf": {"type": "object", "required": ["kind", "id"], "properties": {"kind": participant, "id": {"type": "string"}}},
            "operations": {"type": "array", "items": {"type": "string"}}, "syncGroups": {"type": "array", "items": {"type": "string"}},
            "ttlSeconds": {"type": "integer", "minimum": 1}, "label": {"type": "string"}}});
    let task = json!({"type": "object", "required": ["id", "status"], "properties": {"id": {"type": "string"},
        "status": {"type": "string", "enum": ["open", "done", "failed", "cancelled"]}}});
    let filters = [
        query_param("actorKind", participant.clone(), "user, agent or system"),
        query_param("actorId", json!({"type": "string"}), "the actor's id"),
        query_param("model", json!({"type": "string"}), "the model written"),
        query_param(
            "since",
            json!({"type": "string"}),
            "RFC 3339 or milliseconds, inclusive",
        ),
        query_param(
            "until",
            json!({"type": "string"}),
            "RFC 3339 or milliseconds, exclusive",
        ),
    ];
    let mut page_params = filters.to_vec();
    page_params.push(query_param(
        "limit",
        json!({"type": "integer", "minimum": 1}),
        "entries per page, default 100",
    ));
    page_params.push(query_param(
        "cursor",
        json!({"type": "string"}),
        "nextCursor of the previous page",
    ));
    let target = json!({"type": "object", "required": ["model", "id"], "additionalProperties": false,
        "properties": {"model": {"type": "string"}, "id": {"type": "string"}, "field": {"type": "string"}}});
    let intent = json!({"type": "object", "required": ["id", "participant", "target", "action", "exclusive", "createdAt", "expiresAt"],
        "properties": {"id": {"type": "string"},
            "participant": {"type": "object", "properties": {"id": {"type": "string"}, "kind": {"type": "string", "enum": ["user", "agent", "system"]}}},
            "target": target.clone(), "action": {"type": "string"}, "exclusive": {"type": "boolean"},
            "createdAt": {"type": "string", "format": "date-time"}, "expiresAt": {"type": "string", "format": "date-time"}}});
    let intent_answer = json!({"type": "object", "required": ["intent", "status"],
        "properties": {"intent": intent.clone(), "status": {"type": "string", "enum": ["active", "queued"]},
            "position": {"type": "integer", "minimum": 1}, "data": {"type": "object"}, "stamp": {"type": "integer"}}});
    let paths = json!({
        "/v1/intents": {
            "post": {"summary": "Take an intent, or a claim with exclusive: true (201 active, 202 queued)",
                "requestBody": json_body(json!({"type": "object", "required": ["target", "action"], "additionalProperties": false,
                    "properties": {"target": target, "action": {"type": "string"}, "ttlMs": {"type": "integer", "minimum": 100},
                        "exclusive": {"type": "boolean"}, "wait": {"type": "boolean"}}})),
                "responses": with_errors("201", intent_answer.clone(), &["400", "401", "403", "404", "409", "422"])},
            "get": {"summary": "Active intents on a row or field",
                "parameters": [query_param("model", json!({"type": "string"}), "model"), query_param("id", json!({"type": "string"}), "row id"),
                    query_param("field", json!({"type": "string"}), "field (optional)")],
                "responses": with_errors("200", json!({"type": "object", "properties": {"data": {"type": "array", "items": intent}}}), &["400", "401", "403", "404"])}},
        "/v1/intents/{id}/heartbeat": {"parameters": [id_param()],
            "post": {"summary": "Renew an intent's lease", "responses": with_errors("200", intent_answer, &["401", "403", "404"])}},
        "/v1/intents/{id}": {"parameters": [id_param()],
            "delete": {"summary": "Release an intent (idempotent)",
                "responses": with_errors("200", json!({"type": "object", "properties": {"id": {"type": "string"}, "released": {"type": "boolean"}}}), &["401", "403"])}},
        "/v1/capabilities": {"post": {"summary": "Mint a capability (API key only)", "requestBody": json_body(mint),
            "responses": with_errors("201", capability.clone(), &["400", "401", "403", "422", "429"])}},
        "/v1/capabilities/{id}": {"parameters": [id_param()],
            "get": {"summary": "Describe a capability", "responses": with_errors("200", capability.clone(), &["401", "403", "404", "429"])},
            "delete": {"summary": "Revoke a capability", "responses": with_errors("200", capability, &["401", "403", "404", "429"])}},
        "/v1/tasks": {"post": {"summary": "Open an agent run", "requestBody": json_body(json!({"type": "object", "additionalProperties": false,
                "properties": {"prompt": {"type": "string"}, "surface": {"type": "string"}, "parentTaskId": {"type": "string"}, "metadata": {}}})),
            "responses": with_errors("201", task.clone(), &["400", "401", "404", "429"])}},
        "/v1/tasks/{id}": {"parameters": [id_param()],
            "get": {"summary": "Read an agent run", "responses": with_errors("200", task.clone(), &["401", "403", "404", "429"])}},
        "/v1/tasks/{id}/close": {"parameters": [id_param()],
            "post": {"summary": "Close an agent run", "requestBody": json_body(json!({"type": "object", "required": ["status"], "additionalProperties": false,
                    "properties": {"status": {"type": "string", "enum": ["done", "failed", "cancelled"]},
                        "costInputTokens": {"type": "integer", "minimum": 0}, "costOutputTokens": {"type": "integer", "minimum": 0},
                        "costComputeMs": {"type": "integer", "minimum": 0}}})),
                "responses": with_errors("200", task, &["400", "401", "403", "404", "409", "429"])}},
        "/v1/audit": {"get": {"summary": "Audit entries, oldest first (API key only)", "parameters": page_params,
            "responses": with_errors("200", json!({"type": "object", "properties": {"data": {"type": "array", "items": object},
                "nextCursor": {"type": ["string", "null"]}}}), &["400", "401", "403", "429"])}},
        "/v1/audit/verify": {"get": {"summary": "Verify one principal's hash chain (API key only)",
            "parameters": [query_param("principalKind", participant, "the chain's participant kind"),
                query_param("principalId", json!({"type": "string"}), "the chain's participant id"),
                query_param("anchorSeq", json!({"type": "integer", "minimum": 1}), "with anchorHash: a lastSeq saved from an earlier verify"),
                query_param("anchorHash", json!({"type": "string"}), "with anchorSeq: the lastHash saved with it")],
            "responses": with_errors("200", json!({"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"},
                "lastSeq": {"type": ["integer", "null"]}, "lastHash": {"type": ["string", "null"]}}}), &["400", "401", "403", "429"])}},
        "/v1/audit/export": {"get": {"summary": "Audit entries as CSV (API key only)", "parameters": filters.to_vec(),
            "responses": {"200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}}}}
    });
    match paths {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object"),
    }
}

fn core_document() -> Value {
    let row = json!({"$ref": "#/components/schemas/Row"});
    let idem = json!({"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string"}});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Ablo sync server", "version": env!("CARGO_PKG_VERSION")},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Row": {"type": "object", "required": ["id", "stamp", "createdAt", "updatedAt"],
                    "properties": {"id": {"type": "string"}, "stamp": {"type": "integer", "minimum": 0},
                        "createdAt": {"type": "string", "format": "date-time"},
                        "updatedAt": {"type": "string", "format": "date-time"}},
                    "additionalProperties": true},
                "OnStale": {"type": "string", "enum": ["reject", "merge", "flag", "force"]},
                "Operation": {"type": "object", "required": ["type", "model"], "additionalProperties": false,
                    "properties": {"type": {"type": "string", "enum": ["create", "update", "delete"]},
                        "model": {"type": "string"}, "id": {"type": "string"}, "data": {"type": "object"},
                        "readAt": {"type": "integer", "minimum": 0}, "onStale": {"$ref": "#/components/schemas/OnStale"},
                        "ifBusy": {"type": "string", "enum": ["ignore", "fail", "wait", "return"]}, "intentId": {"type": "string"}}},
                "CommitRequest": {"type": "object", "required": ["operations"], "additionalProperties": false,
                    "properties": {"clientTxId": {"type": "string"}, "causedByTaskId": {"type": "string"},
                        "operations": {"type": "array", "items": {"$ref": "#/components/schemas/Operation"}}}},
                "CommitReceipt": {"type": "object", "required": ["object", "clientTxId", "syncId", "status", "rows", "flagged"],
                    "properties": {"object": {"const": "commit_receipt"}, "clientTxId": {"type": "string"},
                        "syncId": {"type": "integer"}, "status": {"const": "confirmed"},
                        "rows": {"type": "array", "items": {"$ref": "#/components/schemas/Row"}}, "flagged": {"type": "boolean"}}},
                "Delta": {"type": "object", "required": ["syncId", "model", "id", "action", "data", "changedFields", "clientTxId", "actor", "syncGroups", "flagged"],
                    "properties": {"syncId": {"type": "integer"}, "model": {"type": "string"}, "id": {"type": "string"},
                        "action": {"type": "string", "enum": ["insert", "update", "delete"]},
                        "data": {"oneOf": [{"$ref": "#/components/schemas/Row"}, {"type": "null"}]},
                        "changedFields": {"type": "array", "items": {"type": "string"}}, "clientTxId": {"type": "string"},
                        "actor": {"type": "object", "properties": {"kind": {"type": "string", "enum": ["user", "agent", "system"]}, "id": {"type": "string"}}},
                        "syncGroups": {"type": "array", "items": {"type": "string"}},
                        "leftSyncGroups": {"type": "array", "items": {"type": "string"}}, "flagged": {"type": "boolean"}}},
                "ErrorEnvelope": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object",
                    "required": ["type", "code", "message", "requestId"],
                    "properties": {"type": {"type": "string", "enum": ["authentication", "permission", "not_found", "validation", "stale_context", "busy", "entity_claimed", "idempotency", "rate_limit", "server"]},
                        "code": {"type": "string"}, "message": {"type": "string"}, "requestId": {"type": "string"}, "details": {}}}}}
            }
        },
        "security": [{"bearer": []}],
        "paths": {
            "/v1/health": {"get": {"summary": "Liveness and version (no authentication)", "security": [],
                "responses": {"200": {"description": "up", "content": {"application/json": {"schema": {"type": "object",
                    "properties": {"status": {"type": "string"}, "version": {"type": "string"}}}}}}}}},
            "/v1/schema": {
                "get": {"summary": "The pushed schema descriptor", "responses": with_errors("200", json!({"type": "object"}), &["401", "404"])},
                "put": {"summary": "Push a schema descriptor", "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
                    "responses": with_errors("200", json!({"type": "object", "properties": {"hash": {"type": "string"}, "changed": {"type": "boolean"}}}), &["400", "401", "413", "422"])}
            },
            "/v1/models/{model}": {
                "parameters": [model_param()],
                "get": {"summary": "List rows", "parameters": [
                        query_param("where", json!({"type": "string"}), "JSON object from field to a value (equality) or to operators eq, ne, gt, gte, lt, lte, in, e.g. {\"status\":{\"in\":[\"todo\",\"doing\"]},\"priority\":{\"gte\":3}}"),
                        query_param("orderBy", json!({"type": "string"}), "field, field:asc or field:desc (ties broken by id)"),
                        query_param("limit", json!({"type": "integer", "minimum": 1}), "page size, default 50"),
                        query_param("cursor", json!({"type": "string"}), "nextCursor of the previous page")],
                    "responses": with_errors("200", json!({"type": "object", "properties": {"data": {"type": "array", "items": row},
                        "stamp": {"type": "integer"}, "nextCursor": {"type": ["string", "null"]}}}), &["400", "401", "404"])},
                "post": {"summary": "Create a row", "parameters": [idem],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["data"],
                        "properties": {"data": {"type": "object"}, "id": {"type": "string"}}}}}},
                    "responses": with_errors("201", row.clone(), &["400", "401", "404", "409", "413", "422"])}
            },
            "/v1/models/{model}/{id}": {
                "parameters": [model_param(), id_param()],
                "get": {"summary": "Retrieve a row", "parameters": [query_param("ifBusy", json!({"type": "string", "enum": ["ignore", "fail", "wait", "return"]}), "include active intents")],
                    "responses": with_errors("200", json!({"type": "object", "properties": {"data": row, "stamp": {"type": "integer"}, "intents": {"type": "array"}}}), &["400", "401", "404"])},
                "patch": {"summary": "Update a row", "parameters": [idem],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["data"],
                        "properties": {"data": {"type": "object"}, "readAt": {"type": "integer"}, "onStale": {"$ref": "#/components/schemas/OnStale"},
                            "ifBusy": {"type": "string", "enum": ["ignore", "fail", "wait", "return"]}}}}}},
                    "responses": with_errors("200", row.clone(), &["400", "401", "404", "409", "413", "422"])},
                "delete": {"summary": "Delete a row", "parameters": [idem,
                        query_param("readAt", json!({"type": "integer"}), "stamp the row was read at"),
                        query_param("onStale", json!({"$ref": "#/components/schemas/OnStale"}), "stale policy")],
                    "responses": with_errors("200", json!({"type": "object", "properties": {"id": {"type": "string"}, "model": {"type": "string"},
                        "deleted": {"type": "boolean"}, "stamp": {"type": "integer"}}}), &["400", "401", "404", "409"])}
            },
            "/v1/commits": {"post": {"summary": "Atomic batch of operations", "parameters": [idem],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CommitRequest"}}}},
                "responses": with_errors("200", json!({"$ref": "#/components/schemas/CommitReceipt"}), &["400", "401", "404", "409", "413", "422"])}},
            "/v1/sync/deltas": {"get": {"summary": "Catch up from the sync log, in order, paged",
                "parameters": [query_param("after", json!({"type": "integer", "minimum": 0}), "last sync id applied"),
                    query_param("limit", json!({"type": "integer", "minimum": 1}), "deltas per page, default 500")],
                "responses": with_errors("200", json!({"type": "object", "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Delta"}},
                    "stamp": {"type": "integer"}, "nextAfter": {"type": "integer"}, "hasMore": {"type": "boolean"}}}), &["400", "401"])}},
            "/v1/sync/snapshot": {"get": {"summary": "The current rows as of one sync id, as NDJSON lines: snapshot {cursor}, rows {model, rows}..., snapshotEnd {cursor}; continue with /v1/sync/deltas?after=cursor",
                "parameters": [query_param("syncGroups", json!({"type": "string"}), "comma-separated groups to limit the rows to")],
                "responses": with_errors("200", json!({"type": "string", "description": "application/x-ndjson"}), &["400", "401", "403"])}},
            "/v1/sync/ws": {"get": {"summary": "WebSocket: send {\"type\":\"subscribe\",\"cursor\":N}; receive deltas, caughtUp, ping, resyncRequired",
                "parameters": [query_param("token", json!({"type": "string"}), "API key, for clients that cannot set headers")],
                "responses": {"101": {"description": "switching protocols"}, "401": {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}}}}},
            "/v1/openapi.json": {"get": {"summary": "This document", "security": [], "responses": {"200": {"description": "OpenAPI 3.1"}}}}
        }
    })
}
