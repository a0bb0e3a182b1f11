"""Drives the ablo-mcp binary over stdio with the official Python MCP client.

Run by ablo-mcp/tests/stdio_python.rs, which starts an Ablo server, pushes
the schema and plays the other agent. Environment: ABLO_MCP_BIN, ABLO_URL,
ABLO_API_KEY (this agent's capability), HELD_ID (a task the other agent has
claimed). Prints one `STEP name` line before each step (the Rust side waits
for `STEP claim-held` before releasing its claim) and `OK` at the end; any
failed check raises, so the exit status is non-zero.
"""

import asyncio
import json
import os
import sys
import traceback

import jsonschema
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client


def step(name):
    print(f"STEP {name}", flush=True)


def result_json(result):
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


async def call(session, name, arguments, expect_error=False):
    result = await session.call_tool(name, arguments)
    value = result_json(result)
    if bool(result.is_error) != expect_error:
        raise AssertionError(f"{name}({arguments}) isError={result.is_error}: {value}")
    return value


async def main():
    params = StdioServerParameters(
        command=os.environ["ABLO_MCP_BIN"],
        args=[],
        env={
            "ABLO_URL": os.environ["ABLO_URL"],
            "ABLO_API_KEY": os.environ["ABLO_API_KEY"],
            "PATH": os.environ.get("PATH", ""),
        },
    )
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()

            step("list-tools")
            tools = {tool.name: tool for tool in (await session.list_tools()).tools}
            for name in ["list_models", "describe_model", "tasks_get", "tasks_list",
                         "tasks_create", "tasks_update", "tasks_delete", "claim",
                         "release", "list_intents", "wait_until_free"]:
                assert name in tools, f"missing tool {name}: {sorted(tools)}"
            for tool in tools.values():
                jsonschema.Draft202012Validator.check_schema(tool.input_schema)
            create_schema = jsonschema.Draft202012Validator(tools["tasks_create"].input_schema)
            assert create_schema.is_valid({"data": {"title": "x", "status": "todo", "points": 1}})
            assert not create_schema.is_valid({"data": {"title": "x", "status": "nope", "points": 1}})

            models = await call(session, "list_models", {})
            assert [m["model"] for m in models["models"]] == ["tasks"], models
            described = await call(session, "describe_model", {"model": "tasks"})
            row_schema = described["jsonSchema"]
            jsonschema.Draft202012Validator.check_schema(row_schema)

            step("create")
            created = await call(session, "tasks_create",
                                 {"data": {"title": "Draft", "status": "todo", "points": 1}})
            assert created["title"] == "Draft", created
            jsonschema.validate(created, row_schema)
            task_id = created["id"]

            step("update")
            read = await call(session, "tasks_get", {"id": task_id})
            stamp = read["stamp"]
            updated = await call(session, "tasks_update",
                                 {"id": task_id, "data": {"points": 2}, "readAt": stamp})
            assert updated["points"] == 2, updated

            step("stale")
            # Writing again at the old stamp is stale: the error carries the
            # current row and its stamp, and the retry from them succeeds.
            stale = await call(session, "tasks_update",
                               {"id": task_id, "data": {"title": "Late"}, "readAt": stamp},
                               expect_error=True)
            error = stale["error"]
            assert error["code"] == "stale_context", stale
            assert error["status"] == 409, stale
            current = error["details"]["current"]
            assert current["points"] == 2, stale
            retried = await call(session, "tasks_update",
                                 {"id": task_id, "data": {"title": "Late"},
                                  "readAt": error["details"]["stamp"]})
            assert retried["title"] == "Late" and retried["points"] == 2, retried

            listed = await call(session, "tasks_list",
                                {"where": {"status": "todo"}, "orderBy": "createdAt:desc", "limit": 10})
            assert any(row["id"] == task_id for row in listed["data"]), listed

            step("claim-held")
            held_id = os.environ["HELD_ID"]
            busy = await call(session, "claim", {"model": "tasks", "id": held_id, "waitMs": 0},
                              expect_error=True)
            assert busy["error"]["code"] == "entity_claimed", busy
            intents = await call(session, "list_intents", {"model": "tasks", "id": held_id})
            assert len(intents["data"]) == 1 and intents["data"][0]["exclusive"], intents
            # Waits in line; the other agent releases its claim meanwhile.
            granted = await call(session, "claim",
                                 {"model": "tasks", "id": held_id, "waitMs": 20000})
            assert granted["status"] == "active", granted
            assert granted["data"]["title"] == "Held by the other agent", granted
            mine = await call(session, "tasks_update",
                              {"id": held_id, "data": {"title": "Mine now"}})
            assert mine["title"] == "Mine now", mine
            released = await call(session, "release", {"intentId": granted["intentId"]})
            assert released["released"] is True, released

            step("free")
            free = await call(session, "wait_until_free",
                              {"model": "tasks", "id": held_id, "timeoutMs": 2000})
            assert free["intents"] == [], free
            gone = await call(session, "tasks_get", {"id": "no-such-task"}, expect_error=True)
            assert gone["error"]["code"] == "row_not_found", gone
            deleted = await call(session, "tasks_delete", {"id": task_id})
            assert deleted["deleted"] is True, deleted
    print("OK", flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as exc:  # report the failure on stdout for the Rust side
        causes = list(getattr(exc, "exceptions", [])) or [exc]
        for cause in causes:
            for line in traceback.format_exception(cause):
                for part in line.rstrip().splitlines():
                    print(f"  {part}", flush=True)
        print(f"FAILED {type(exc).__name__}: {exc}", flush=True)
        sys.exit(1)
