//! Renders `openapi.json` (OpenAPI 3.1): the server's HTTP contract with the
//! model endpoints, `/v1/commits` and the error envelope specialised to one
//! schema. Component schemas are the same schemas as the JSON Schema files,
//! with references rebased onto `#/components/schemas/`.

use ablo_runtime::{FieldType, ModelDescriptor, SchemaDescriptor};
use serde_json::{Map, Value, json};

use crate::CodegenError;
use crate::json_out::pretty_ordered;
use crate::json_schema::{ModelSchemas, id_schema, rebase_refs, sync_id_schema};
use crate::validate::NameTable;

const COMPONENTS: &str = "#/components/schemas/";

/// Error responses every authenticated endpoint may return, by status.
const ERROR_RESPONSES: [(&str, &str); 8] = [
    ("400", "BadRequest"),
    ("401", "Unauthorized"),
    ("403", "Forbidden"),
    ("404", "NotFound"),
    ("409", "Conflict"),
    ("422", "UnprocessableEntity"),
    ("429", "TooManyRequests"),
    ("5XX", "ServerError"),
];

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("{COMPONENTS}{name}") })
}

fn json_body(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

/// Renders `openapi.json`; `model_schemas` holds the schemas of each model of
/// `descriptor`, in the same order.
pub(crate) fn render(
    descriptor: &SchemaDescriptor,
    model_schemas: Vec<ModelSchemas>,
    header: &str,
) -> Result<String, CodegenError> {
    let mut names = NameTable::new("OpenAPI");
    let mut schemas = Map::new();
    for (name, schema) in shared_schemas() {
        names.claim(name, "the Ablo HTTP API")?;
        schemas.insert(name.to_owned(), schema);
    }
    names.claim("CommitOperation", "the Ablo HTTP API")?;
    names.claim("AnyRow", "the Ablo HTTP API")?;

    let mut paths = Map::new();
    paths.insert("/v1/health".into(), health_path());
    paths.insert("/v1/schema".into(), schema_path());
    let mut operations = Vec::new();
    let mut rows = Vec::new();
    for (model, mut parts) in descriptor.models.iter().zip(model_schemas) {
        let owner = format!("model {}", model.name);
        let ty = &model.type_name;
        for schema in [&mut parts.row, &mut parts.input, &mut parts.patch] {
            rebase_refs(schema, COMPONENTS);
        }
        let component_names = ComponentNames::new(ty);
        let generated =
            model_components(model, &component_names, parts.row, parts.input, parts.patch);
        for (name, schema) in generated {
            names.claim(&name, &owner)?;
            schemas.insert(name, schema);
        }
        for (name, mut schema) in parts.defs {
            rebase_refs(&mut schema, COMPONENTS);
            // Models share enums and objects; the same definition twice is fine.
            if schemas.get(&name) != Some(&schema) {
                names.claim(&name, format!("a type used by model {}", model.name))?;
                schemas.insert(name, schema);
            }
        }
        operations.extend(commit_operations(&model.name, ty));
        rows.push(schema_ref(ty));
        let (collection, item) = model_paths(model, &component_names);
        paths.insert(format!("/v1/models/{}", model.name), collection);
        paths.insert(format!("/v1/models/{}/{{id}}", model.name), item);
    }
    schemas.insert("CommitOperation".into(), combine("oneOf", operations));
    schemas.insert("AnyRow".into(), combine("anyOf", rows));
    paths.insert("/v1/commits".into(), commits_path());
    paths.insert("/v1/sync/deltas".into(), deltas_path());

    let mut responses = Map::new();
    for (status, name) in ERROR_RESPONSES {
        let mut response = json!({
            "description": format!("Error ({status}), in the error envelope."),
            "content": json_body(schema_ref("Error")),
        });
        if status == "429" {
            response["headers"] = json!({"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer", "minimum": 0}}});
        }
        responses.insert(name.to_owned(), response);
    }

    Ok(pretty_ordered(&[
        ("x-generated-by", Value::String(header.to_owned())),
        ("openapi", json!("3.1.0")),
        (
            "jsonSchemaDialect",
            json!("https://json-schema.org/draft/2020-12/schema"),
        ),
        (
            "info",
            json!({
                "title": format!("Ablo API for schema {}", descriptor.name),
                "version": "v1",
                "description": format!("The Ablo server's HTTP API over the schema `{}` (hash {}). Every request carries `Authorization: Bearer <api key or capability token>`.", descriptor.name, descriptor.hash),
                "x-schema-hash": descriptor.hash,
            }),
        ),
        ("security", json!([{"bearer": []}])),
        ("paths", Value::Object(paths)),
        (
            "components",
            json!({
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An API key (`sk_test_...`, `sk_live_...`) or a capability token."}},
                "schemas": schemas,
                "responses": responses,
            }),
        ),
    ]))
}

/// Names of the components generated for one model type, such as `Task`.
struct ComponentNames {
    row: String,
    input: String,
    patch: String,
    list: String,
    retrieved: String,
    deleted: String,
    create: String,
    update: String,
}

impl ComponentNames {
    fn new(ty: &str) -> Self {
        ComponentNames {
            row: ty.to_owned(),
            input: format!("{ty}Input"),
            patch: format!("{ty}Patch"),
            list: format!("{ty}List"),
            retrieved: format!("{ty}Retrieved"),
            deleted: format!("{ty}Deleted"),
            create: format!("{ty}CreateRequest"),
            update: format!("{ty}UpdateRequest"),
        }
    }
}

/// The row, input and patch schemas of a model, and the request and response
/// bodies built on them.
fn model_components(
    model: &ModelDescriptor,
    names: &ComponentNames,
    row: Value,
    input: Value,
    patch: Value,
) -> [(String, Value); 8] {
    [
        (names.row.clone(), row),
        (names.input.clone(), input),
        (names.patch.clone(), patch),
        (
            names.list.clone(),
            json!({
                "type": "object",
                "description": format!("A page of `{}` rows.", model.name),
                "properties": {
                    "data": {"type": "array", "items": schema_ref(&names.row)},
                    "stamp": sync_id_schema("The highest sync id the page reflects."),
                    "nextCursor": {"type": ["string", "null"], "description": "Pass as `cursor` for the next page; null on the last page."}
                },
                "required": ["data", "stamp", "nextCursor"]
            }),
        ),
        (
            names.retrieved.clone(),
            json!({
                "type": "object",
                "properties": {
                    "data": schema_ref(&names.row),
                    "stamp": sync_id_schema("The row's stamp, to pass as `readAt` when writing."),
                    "intents": {"type": "array", "items": schema_ref("Intent")}
                },
                "required": ["data", "stamp", "intents"]
            }),
        ),
        (
            names.deleted.clone(),
            json!({
                "type": "object",
                "description": format!("The answer to deleting a row of `{}`.", model.name),
                "properties": {
                    "id": id_schema(),
                    "model": {"const": model.name},
                    "deleted": {"const": true},
                    "stamp": sync_id_schema("The sync id of the delete."),
                },
                "required": ["id", "model", "deleted", "stamp"]
            }),
        ),
        (
            names.create.clone(),
            json!({
                "type": "object",
                "properties": {"data": schema_ref(&names.input), "id": id_schema()},
                "required": ["data"],
                "additionalProperties": false
            }),
        ),
        (
            names.update.clone(),
            json!({
                "type": "object",
                "properties": {
                    "data": schema_ref(&names.patch),
                    "readAt": sync_id_schema("The stamp the change is based on; enables the stale check."),
                    "onStale": schema_ref("OnStale"),
                    "ifBusy": schema_ref("IfBusy")
                },
                "required": ["data"],
                "additionalProperties": false
            }),
        ),
    ]
}

/// `{keyword: items}`, or the schema matching nothing when there are no
/// items (an empty `oneOf` or `anyOf` is not valid JSON Schema).
fn combine(keyword: &str, items: Vec<Value>) -> Value {
    if items.is_empty() {
        return Value::Bool(false);
    }
    let mut map = Map::new();
    map.insert(keyword.to_owned(), Value::Array(items));
    Value::Object(map)
}

fn error_responses(mut responses: Map<String, Value>) -> Value {
    for (status, name) in ERROR_RESPONSES {
        responses.insert(
            status.into(),
            json!({"$ref": format!("#/components/responses/{name}")}),
        );
    }
    Value::Object(responses)
}

fn ok_response(status: &str, description: &str, body: Option<Value>) -> Map<String, Value> {
    let mut response = json!({ "description": description });
    if let Some(schema) = body {
        response["content"] = json_body(schema);
    }
    let mut map = Map::new();
    map.insert(status.into(), response);
    map
}

fn model_paths(model: &ModelDescriptor, names: &ComponentNames) -> (Value, Value) {
    let wire = &model.name;
    let ty = &names.row;
    let tag = json!([wire]);
    // The server filters and sorts on fields holding a single scalar value.
    let comparable: Vec<&str> = model
        .fields
        .iter()
        .filter(|f| is_comparable(&f.ty))
        .map(|f| f.name.as_str())
        .collect();
    let sortable: Vec<String> = ["id", "stamp", "createdAt", "updatedAt"]
        .into_iter()
        .chain(comparable.iter().copied())
        .map(regex_escape)
        .collect();
    let order_by_pattern = format!("^({})(:(asc|desc))?$", sortable.join("|"));
    let query = |name: &str, schema: Value, description: &str| json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description});
    let read_at = query(
        "readAt",
        sync_id_schema("The stamp the delete is based on."),
        "Enables the stale check.",
    );
    let on_stale = query(
        "onStale",
        schema_ref("OnStale"),
        "What to do when the row changed after `readAt`.",
    );
    let idempotency = json!({"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string", "minLength": 1}, "description": "Used as the commit's `clientTxId`."});
    let collection = json!({
        "get": {
            "operationId": format!("list{ty}"),
            "tags": tag,
            "summary": format!("List `{wire}` rows."),
            "parameters": [
                {"name": "where", "in": "query", "required": false, "description": "Conditions that must all hold: a JSON object from field name to a value (equality; a string, number, boolean or null) or to an object of operators `eq`, `ne`, `gt`, `gte`, `lt`, `lte`, `in` (a list). A null field never passes a range; `ne` lets it through.", "content": {"application/json": {"schema": {
                    "type": "object",
                    "propertyNames": {"enum": comparable},
                    "additionalProperties": {"oneOf": [
                        {"type": ["string", "number", "boolean", "null"]},
                        {"type": "object", "minProperties": 1, "additionalProperties": false, "properties": {
                            "eq": {"type": ["string", "number", "boolean", "null"]},
                            "ne": {"type": ["string", "number", "boolean", "null"]},
                            "gt": {"type": ["string", "number"]},
                            "gte": {"type": ["string", "number"]},
                            "lt": {"type": ["string", "number"]},
                            "lte": {"type": ["string", "number"]},
                            "in": {"type": "array", "maxItems": 1000, "items": {"type": ["string", "number", "boolean", "null"]}},
                        }},
                    ]},
                }}}},
                query("orderBy", json!({"type": "string", "pattern": order_by_pattern}), "`field` or `field:asc` / `field:desc`; the default is `id:asc`."),
                query("limit", json!({"type": "integer", "minimum": 1}), "The largest number of rows to return."),
                query("cursor", json!({"type": "string"}), "`nextCursor` of the previous page."),
            ],
            "responses": error_responses(ok_response("200", "A page of rows.", Some(schema_ref(&names.list)))),
        },
        "post": {
            "operationId": format!("create{ty}"),
            "tags": tag,
            "summary": format!("Create a row of `{wire}`."),
            "parameters": [idempotency.clone()],
            "requestBody": {"required": true, "content": json_body(schema_ref(&names.create))},
            "responses": error_responses(ok_response("201", "The created row.", Some(schema_ref(ty)))),
        },
    });
    let item = json!({
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1}}],
        "get": {
            "operationId": format!("retrieve{ty}"),
            "tags": tag,
            "summary": format!("Retrieve a row of `{wire}` with its stamp and active intents."),
            "parameters": [query("ifBusy", schema_ref("IfBusy"), "`return` includes the active intents.")],
            "responses": error_responses(ok_response("200", "The row.", Some(schema_ref(&names.retrieved)))),
        },
        "patch": {
            "operationId": format!("update{ty}"),
            "tags": tag,
            "summary": format!("Update a row of `{wire}`."),
            "parameters": [idempotency.clone()],
            "requestBody": {"required": true, "content": json_body(schema_ref(&names.update))},
            "responses": error_responses(ok_response("200", "The updated row.", Some(schema_ref(ty)))),
        },
        "delete": {
            "operationId": format!("delete{ty}"),
            "tags": tag,
            "summary": format!("Delete a row of `{wire}`."),
            "parameters": [read_at, on_stale, idempotency],
            "responses": error_responses(ok_response("200", "The row was deleted.", Some(schema_ref(&names.deleted)))),
        },
    });
    (collection, item)
}

fn is_comparable(ty: &FieldType) -> bool {
    match ty {
        FieldType::Optional { of } => is_comparable(of),
        FieldType::Json | FieldType::Object { .. } | FieldType::List { .. } => false,
        _ => true,
    }
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escape = "\\^$.|?*+()[]{}".contains(c);
            escape.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

fn commit_operations(wire: &str, ty: &str) -> [Value; 3] {
    let base = |kind: &str, extra: Value, required: &[&str]| {
        let mut properties = json!({
            "type": {"const": kind},
            "model": {"const": wire},
            "id": id_schema(),
        });
        properties
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let mut all_required = vec!["type", "model"];
        all_required.extend(required);
        json!({
            "title": format!("{kind} {wire}"),
            "type": "object",
            "properties": properties,
            "required": all_required,
            "additionalProperties": false,
        })
    };
    let stale = || {
        json!({
            "readAt": sync_id_schema("The stamp the operation is based on."),
            "onStale": schema_ref("OnStale"),
        })
    };
    let mut update_extra = stale();
    update_extra["data"] = schema_ref(&format!("{ty}Patch"));
    [
        base(
            "create",
            json!({"data": schema_ref(&format!("{ty}Input"))}),
            &["data"],
        ),
        base("update", update_extra, &["id", "data"]),
        base("delete", stale(), &["id"]),
    ]
}

fn commits_path() -> Value {
    json!({
        "post": {
            "operationId": "commit",
            "tags": ["commits"],
            "summary": "Apply several operations atomically: every one applies or none does.",
            "parameters": [{"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string", "minLength": 1}, "description": "Used as `clientTxId`."}],
            "requestBody": {"required": true, "content": json_body(schema_ref("CommitRequest"))},
            "responses": error_responses(ok_response("200", "The commit receipt.", Some(schema_ref("CommitReceipt")))),
        }
    })
}

fn deltas_path() -> Value {
    json!({
        "get": {
            "operationId": "listDeltas",
            "tags": ["sync"],
            "summary": "Catch up: the deltas after a sync id, in commit order, paged.",
            "parameters": [
                {"name": "after", "in": "query", "required": false, "schema": sync_id_schema("Return deltas with a larger sync id; 0 (the default) starts at the beginning."), "description": "The reader's cursor."},
                {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1}, "description": "The largest number of deltas to return."}
            ],
            "responses": error_responses(ok_response("200", "A page of deltas.", Some(schema_ref("DeltasPage")))),
        }
    })
}

fn health_path() -> Value {
    json!({
        "get": {
            "operationId": "health",
            "tags": ["server"],
            "summary": "Liveness and version.",
            "security": [],
            "responses": {"200": {"description": "The server is up.", "content": json_body(json!({
                "type": "object",
                "properties": {"status": {"const": "ok"}, "version": {"type": "string"}},
                "required": ["status", "version"]
            }))}},
        }
    })
}

fn schema_path() -> Value {
    let descriptor =
        json!({"type": "object", "description": "A schema descriptor (`ablo.schema.json`)."});
    json!({
        "get": {
            "operationId": "getSchema",
            "tags": ["server"],
            "summary": "Read the schema descriptor the server enforces.",
            "responses": error_responses(ok_response("200", "The descriptor.", Some(descriptor.clone()))),
        },
        "put": {
            "operationId": "putSchema",
            "tags": ["server"],
            "summary": "Push a schema descriptor (API key only). A change that would break clients of the schema in force is refused with 409 `breaking_schema_change` unless `allowBreaking=true`.",
            "parameters": [{
                "name": "allowBreaking",
                "in": "query",
                "required": false,
                "description": "Accept a breaking change (a removed model or field, a changed type, an optional field made required, ...): the migration is meant.",
                "schema": {"type": "boolean", "default": false}
            }],
            "requestBody": {"required": true, "content": json_body(descriptor)},
            "responses": error_responses(ok_response("200", "The hash of the descriptor now enforced, whether it changed, and what changed.", Some(json!({
                "type": "object",
                "properties": {
                    "hash": {"type": "string"},
                    "changed": {"type": "boolean"},
                    "changes": {
                        "type": "array",
                        "description": "What differs from the schema in force before the push, breaking changes marked.",
                        "items": {
                            "type": "object",
                            "properties": {
                                "subject": {"type": "string"},
                                "description": {"type": "string"},
                                "breaking": {"type": "boolean"}
                            },
                            "required": ["subject", "description", "breaking"]
                        }
                    }
                },
                "required": ["hash", "changed"]
            })))),
        },
    })
}

/// Schemas of the HTTP API that do not depend on the user's schema.
fn shared_schemas() -> Vec<(&'static str, Value)> {
    vec![
        (
            "Error",
            json!({
                "type": "object",
                "description": "The error envelope every failed request returns.",
                "properties": {
                    "error": {
                        "type": "object",
                        "properties": {
                            "type": {"type": "string", "enum": ["authentication", "permission", "not_found", "validation", "stale_context", "busy", "entity_claimed", "idempotency", "rate_limit", "server"]},
                            "code": {"type": "string", "description": "A stable machine-readable code, such as `stale_context` or `idempotency_conflict`."},
                            "message": {"type": "string"},
                            "requestId": {"type": "string"},
                            "details": {"description": "Extra data for the error, such as the current row of a stale write."}
                        },
                        "required": ["type", "code", "message", "requestId"]
                    }
                },
                "required": ["error"]
            }),
        ),
        (
            "OnStale",
            json!({"type": "string", "enum": ["reject", "merge", "flag", "force"], "description": "What a write based on a stale read does: fail (`reject`), fail only on conflicting fields (`merge`), apply and mark flagged (`flag`), or apply (`force`)."}),
        ),
        (
            "IfBusy",
            json!({"type": "string", "enum": ["ignore", "fail", "wait", "return"], "description": "What a request does while another participant holds an intent on the row: writes `ignore` it, `fail` with `busy`, or `wait` until it clears; a read with `return` includes the active intents."}),
        ),
        (
            "Intent",
            json!({
                "type": "object",
                "description": "A live signal that a participant works on a row or field.",
                "properties": {
                    "id": {"type": "string"},
                    "participant": {"type": "object", "properties": {"id": {"type": "string"}, "kind": {"type": "string", "enum": ["user", "agent", "system"]}}, "required": ["id", "kind"]},
                    "target": {"type": "object", "properties": {"model": {"type": "string"}, "id": {"type": "string"}, "field": {"type": "string"}}, "required": ["model", "id"]},
                    "action": {"type": "string"},
                    "exclusive": {"type": "boolean", "description": "Whether the intent is a claim."},
                    "createdAt": {"type": "string", "format": "date-time"},
                    "expiresAt": {"type": "string", "format": "date-time"}
                },
                "required": ["id", "participant", "target", "action", "exclusive", "createdAt", "expiresAt"]
            }),
        ),
        (
            "Delta",
            json!({
                "type": "object",
                "description": "One changed row in the sync log.",
                "properties": {
                    "syncId": sync_id_schema("The commit's sync id."),
                    "model": {"type": "string"},
                    "id": {"type": "string"},
                    "action": {"type": "string", "enum": ["insert", "update", "delete"]},
                    "data": {"description": "The row after the change."},
                    "changedFields": {"type": "array", "items": {"type": "string"}},
                    "clientTxId": {"type": "string"},
                    "actor": {"type": "object", "properties": {"kind": {"type": "string", "enum": ["user", "agent", "system"]}, "id": {"type": "string"}}, "required": ["kind", "id"]},
                    "syncGroups": {"type": "array", "items": {"type": "string"}},
                    "leftSyncGroups": {"type": "array", "items": {"type": "string"}, "description": "Groups the row left with this change (absent when none)."},
                    "flagged": {"type": "boolean"}
                },
                "required": ["syncId", "model", "id", "action", "data", "changedFields", "clientTxId", "actor", "syncGroups", "flagged"]
            }),
        ),
        (
            "DeltasPage",
            json!({
                "type": "object",
                "properties": {
                    "data": {"type": "array", "items": schema_ref("Delta")},
                    "stamp": sync_id_schema("The newest sync id of the project."),
                    "nextAfter": sync_id_schema("Pass as `after` for the next page."),
                    "hasMore": {"type": "boolean"}
                },
                "required": ["data", "stamp", "nextAfter", "hasMore"]
            }),
        ),
        (
            "CommitRequest",
            json!({
                "type": "object",
                "properties": {
                    "clientTxId": {"type": "string", "minLength": 1, "description": "Makes retries idempotent; generated by the SDK."},
                    "operations": {"type": "array", "items": schema_ref("CommitOperation"), "minItems": 1},
                    "causedByTaskId": {"type": "string", "description": "The agent run that caused this commit."}
                },
                "required": ["operations"],
                "additionalProperties": false
            }),
        ),
        (
            "CommitReceipt",
            json!({
                "type": "object",
                "properties": {
                    "object": {"const": "commit_receipt"},
                    "clientTxId": {"type": "string"},
                    "syncId": sync_id_schema("The sync id the commit took."),
                    "status": {"type": "string", "enum": ["confirmed"]},
                    "rows": {"type": "array", "items": schema_ref("AnyRow")},
                    "flagged": {"type": "boolean"}
                },
                "required": ["object", "clientTxId", "syncId", "status", "rows", "flagged"]
            }),
        ),
    ]
}
