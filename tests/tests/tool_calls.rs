//! Tool definitions for LLM function calling (`Task::tools()`) and the
//! executor's safe loop, driven by scripted model turns against a real
//! server; the tool schemas are checked by the Python `jsonschema` package.

mod client_common;

use std::process::Command;
use std::time::Duration;

use ablo::prelude::*;
use ablo::tools::{ToolCall, ToolExecutor};
use client_common::{Task, TaskPatch, TaskStatus, TestServer};
use serde_json::{Value, json};

#[test]
fn tool_definitions_have_doc_descriptions_and_valid_schemas() {
    let tools = Task::tools();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["read_tasks", "create_tasks", "update_tasks"]);
    for tool in &tools {
        assert!(
            tool.description.contains("the model most tests write"),
            "{}",
            tool.description
        );
    }
    let spec = json!({
        "openai": tools.iter().map(|t| t.openai()).collect::<Vec<_>>(),
        "anthropic": tools.iter().map(|t| t.anthropic()).collect::<Vec<_>>(),
        "samples": [
            {"tool": "read_tasks", "arguments": {"id": "t1"}, "valid": true},
            {"tool": "read_tasks", "arguments": {}, "valid": false},
            {"tool": "create_tasks", "arguments": {"data": {"title": "x", "status": "todo", "points": 1}}, "valid": true},
            {"tool": "create_tasks", "arguments": {"data": {"title": "x", "status": "todo", "summary": null, "points": 1}}, "valid": true},
            {"tool": "create_tasks", "arguments": {"data": {"title": "x", "status": "later", "points": 1}}, "valid": false},
            {"tool": "create_tasks", "arguments": {"data": {"title": "x", "status": "todo"}}, "valid": false},
            {"tool": "update_tasks", "arguments": {"id": "t1", "data": {"status": "done"}}, "valid": true},
            {"tool": "update_tasks", "arguments": {"id": "t1", "data": {}}, "valid": false},
            {"tool": "update_tasks", "arguments": {"id": "t1", "data": {"points": "many"}}, "valid": false},
        ],
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tools.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/tools/check_tools.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(&path)
        .output()
        .expect("python3 with jsonschema (scripts/setup-tools installs it)");
    assert!(
        out.status.success(),
        "check_tools.py failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["checked"], 9);
    assert_eq!(report["tools"], 3);
}

/// An OpenAI assistant turn calling one tool.
fn openai_turn(call_id: &str, name: &str, arguments: Value) -> Value {
    json!({"role": "assistant", "content": null, "tool_calls": [{
        "id": call_id, "type": "function",
        "function": {"name": name, "arguments": arguments.to_string()},
    }]})
}

/// An Anthropic assistant turn calling one tool.
fn anthropic_turn(call_id: &str, name: &str, input: Value) -> Value {
    json!({"role": "assistant", "content": [
        {"type": "text", "text": "Let me do that."},
        {"type": "tool_use", "id": call_id, "name": name, "input": input},
    ]})
}

fn openai_call(turn: &Value) -> ToolCall {
    ToolCall::from_openai(&turn["tool_calls"][0]).unwrap()
}

fn anthropic_call(turn: &Value) -> ToolCall {
    let block = turn["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "tool_use")
        .unwrap();
    ToolCall::from_anthropic(block).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn scripted_model_turns_run_through_the_safe_loop() {
    let server = TestServer::start().await;
    let agent = server.client().await;
    let minted = agent
        .capabilities()
        .mint(
            &ablo::client::MintCapability::agent("agent_other")
                .operations(["tasks.*"])
                .sync_groups(["*"]),
        )
        .await
        .unwrap();
    let other = client_common::App::connect(&server.url, minted.token.unwrap())
        .await
        .unwrap();
    let executor = ToolExecutor::new(agent.clone()).wait_limit(Duration::from_secs(10));

    // Turn 1 (OpenAI): create a task.
    let turn = openai_turn(
        "call_1",
        "create_tasks",
        json!({"data": {"title": "Write the report", "status": "todo", "points": 2}}),
    );
    let result = executor.execute::<Task>(&openai_call(&turn)).await.unwrap();
    assert!(result.ok, "{:?}", result.content);
    let answer = result.openai_message();
    assert_eq!(answer["tool_call_id"], "call_1");
    let created: Value = serde_json::from_str(answer["content"].as_str().unwrap()).unwrap();
    let id = created["row"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["row"]["status"], "todo");

    // Turn 2 (OpenAI): read it back.
    let turn = openai_turn("call_2", "read_tasks", json!({"id": id}));
    let read = executor.execute::<Task>(&openai_call(&turn)).await.unwrap();
    assert!(read.ok);
    assert_eq!(read.content["row"]["title"], "Write the report");

    // Turn 3 (Anthropic): update while another participant holds the row:
    // the executor waits in line and writes once it is released.
    let tasks = other.tasks();
    let held = tasks.claim(Id::<Task>::from(id.clone())).await.unwrap();
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        held.release().await.unwrap();
    });
    let turn = anthropic_turn(
        "toolu_3",
        "update_tasks",
        json!({"id": id, "data": {"status": "doing"}}),
    );
    let started = std::time::Instant::now();
    let result = executor
        .execute::<Task>(&anthropic_call(&turn))
        .await
        .unwrap();
    release.await.unwrap();
    assert!(result.ok, "{:?}", result.content);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "it waited for the release"
    );
    assert_eq!(result.content["row"]["status"], "doing");
    let block = result.anthropic_block();
    assert_eq!(block["tool_use_id"], "toolu_3");
    assert_eq!(block["is_error"], false);

    // Turn 4 (Anthropic): the holder changes the row before releasing, so
    // the model's decision is stale: nothing is written over it and the
    // result carries the current row.
    let held = tasks.claim(Id::<Task>::from(id.clone())).await.unwrap();
    let tasks_for_holder = tasks.clone();
    let holder_id = id.clone();
    let holder = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        tasks_for_holder
            .update(
                Id::<Task>::from(holder_id),
                TaskPatch::new().title("Write the final report".to_owned()),
            )
            .await
            .unwrap();
        held.release().await.unwrap();
    });
    let turn = anthropic_turn(
        "toolu_4",
        "update_tasks",
        json!({"id": id, "data": {"points": 5}}),
    );
    let result = executor
        .execute::<Task>(&anthropic_call(&turn))
        .await
        .unwrap();
    holder.await.unwrap();
    assert!(!result.ok);
    assert_eq!(result.content["error"]["code"], "stale_context");
    assert_eq!(
        result.content["error"]["current"]["title"],
        "Write the final report"
    );
    assert_eq!(
        result.content["error"]["current"]["points"], 2,
        "not written over"
    );
    assert_eq!(result.anthropic_block()["is_error"], true);

    // Turn 5: the model decides again from the current row; it lands.
    let turn = openai_turn(
        "call_5",
        "update_tasks",
        json!({"id": id, "data": {"points": 5}}),
    );
    let result = executor.execute::<Task>(&openai_call(&turn)).await.unwrap();
    assert!(result.ok, "{:?}", result.content);
    assert_eq!(result.content["row"]["points"], 5);
    assert_eq!(result.content["row"]["title"], "Write the final report");

    // Arguments that do not fit, a missing row and an unknown tool.
    let bad = ToolCall::new(
        "update_tasks",
        json!({"id": id, "data": {"points": "many"}}),
    );
    let result = executor.execute::<Task>(&bad).await.unwrap();
    assert_eq!(result.content["error"]["code"], "invalid_arguments");
    let missing = ToolCall::new("read_tasks", json!({"id": "no-such-task"}));
    let result = executor.execute::<Task>(&missing).await.unwrap();
    assert_eq!(result.content["error"]["code"], "row_not_found");
    let unknown = ToolCall::new("delete_everything", json!({}));
    let err = executor.execute::<Task>(&unknown).await.unwrap_err();
    assert_eq!(err.code(), "unknown_tool");

    let row = agent
        .model::<Task>()
        .retrieve(Id::<Task>::from(id))
        .await
        .unwrap();
    assert_eq!(row.data.status, TaskStatus::Doing);
}
