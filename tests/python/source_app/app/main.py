"""The customer's FastAPI app: the documented route file plus test helpers.

Env: ABLO_DATA_SOURCE_SIGNING_SECRET and TASKS_DB (required);
ABLO_URL and ABLO_SOURCE_NAME (only for /admin/write with push).
"""
import asyncio
import json
import os
import urllib.error
import urllib.request

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from app.ablo_source import router, verify_ablo_signature
from app.services import tasks
from app.signing import sign_headers

for _name in ("ABLO_DATA_SOURCE_SIGNING_SECRET", "TASKS_DB"):
    if not os.environ.get(_name):
        raise RuntimeError(f"{_name} must be set")

SOURCE_PATH = "/api/ablo/source"

app = FastAPI()
app.include_router(router)


@app.get("/admin/health")
async def admin_health():
    return {"ok": True}


@app.get("/admin/tasks/{task_id}")
async def admin_get_task(task_id: str):
    row = await tasks.get_task(task_id)
    if row is None:
        raise HTTPException(status_code=404, detail="no such task")
    return row


def _push(events: list) -> tuple:
    base = os.environ.get("ABLO_URL")
    source = os.environ.get("ABLO_SOURCE_NAME")
    if not base or not source:
        raise HTTPException(
            status_code=500, detail="ABLO_URL and ABLO_SOURCE_NAME must be set to push"
        )
    body = json.dumps({"events": events}).encode()
    headers = sign_headers(os.environ["ABLO_DATA_SOURCE_SIGNING_SECRET"], body)
    headers["content-type"] = "application/json"
    url = f"{base.rstrip('/')}/v1/sources/{source}/events"
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, _parse(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, _parse(err.read())
    except urllib.error.URLError as err:
        return None, f"push failed: {err.reason}"


def _parse(raw: bytes):
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


@app.post("/admin/write")
async def admin_write(request: Request):
    data = await request.json()
    for key in ("id", "title", "status"):
        if key not in data:
            raise HTTPException(status_code=400, detail=f"missing {key}")
    row, event = await tasks.write_directly(data["id"], data["title"], data["status"])
    if not data.get("push"):
        return {"row": row, "event": event}
    # Off the event loop: Ablo may call back into this app while handling the push.
    status, body = await asyncio.to_thread(_push, [event])
    return {"row": row, "event": event, "pushStatus": status, "pushBody": body}


class EventsMiddleware:
    """Answers {"type": "events"} on POST /api/ablo/source without editing the
    documented route file; every other request body is replayed unchanged."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if not (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == SOURCE_PATH
        ):
            await self.app(scope, receive, send)
            return

        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        raw_body = b"".join(chunks)

        try:
            body = json.loads(raw_body)
        except ValueError:
            body = None

        if isinstance(body, dict) and body.get("type") == "events":
            await self._events(scope, raw_body, body, send)
            return

        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": raw_body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _events(self, scope, raw_body, body, send):
        request = Request(scope)
        try:
            verify_ablo_signature(request, raw_body)
            limit = body.get("limit", 100)
            events, next_cursor = await tasks.events_after(
                body.get("cursor"), 100 if limit is None else limit
            )
            response = JSONResponse({"events": events, "nextCursor": next_cursor})
        except HTTPException as exc:
            response = JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        await response(scope, self._no_receive, send)

    @staticmethod
    async def _no_receive():
        return {"type": "http.disconnect"}


app.add_middleware(EventsMiddleware)
