"""The customer's existing service layer for tasks, stored in SQLite.

The database path comes from the TASKS_DB environment variable. Tables are
created on first use. Every call opens its own connection under a
module-level lock, so calls never interleave inside one process.
"""
import json
import os
import sqlite3
import threading
import time
import uuid
from datetime import datetime, timezone

from fastapi import HTTPException

VALID_STATUSES = ("todo", "doing", "done")
WHERE_FIELDS = ("id", "title", "status")

_lock = threading.Lock()
_initialized_paths = set()

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS applied_tx (
    client_tx_id TEXT PRIMARY KEY,
    rows_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT UNIQUE NOT NULL,
    model TEXT,
    entity_id TEXT,
    type TEXT,
    data_json TEXT,
    client_tx_id TEXT,
    occurred_at INTEGER
);
"""


def _db_path() -> str:
    path = os.environ.get("TASKS_DB")
    if not path:
        raise RuntimeError("TASKS_DB must be set to the SQLite database path")
    return path


def _connect() -> sqlite3.Connection:
    """Open a connection (caller holds _lock); creates tables on first use."""
    path = _db_path()
    conn = sqlite3.connect(
        path, timeout=10, isolation_level=None, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    if path not in _initialized_paths:
        conn.executescript(_SCHEMA)
        _initialized_paths.add(path)
    return conn


def _now_iso() -> str:
    return (
        datetime.now(timezone.utc)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


def _row_dict(row) -> dict:
    return {
        "id": row["id"],
        "title": row["title"],
        "status": row["status"],
        "updatedAt": row["updated_at"],
    }


def _fetch(conn, task_id):
    row = conn.execute(
        "SELECT id, title, status, updated_at FROM tasks WHERE id = ?", (task_id,)
    ).fetchone()
    return _row_dict(row) if row is not None else None


def _check_status(status) -> None:
    if status not in VALID_STATUSES:
        raise HTTPException(
            status_code=422, detail="status must be todo, doing or done"
        )


def _append_outbox(conn, entity_id, event_type, row, client_tx_id) -> dict:
    event_id = "evt_" + uuid.uuid4().hex
    occurred_at = _now_ms()
    conn.execute(
        "INSERT INTO outbox (event_id, model, entity_id, type, data_json,"
        " client_tx_id, occurred_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            event_id,
            "tasks",
            entity_id,
            event_type,
            json.dumps(row),
            client_tx_id,
            occurred_at,
        ),
    )
    return {
        "id": event_id,
        "model": "tasks",
        "entityId": entity_id,
        "type": event_type,
        "data": row,
        "organizationId": None,
        "clientTxId": client_tx_id or None,
        "occurredAt": occurred_at,
    }


def _upsert(conn, task_id, title, status) -> dict:
    now = _now_iso()
    conn.execute(
        "INSERT INTO tasks (id, title, status, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET title = excluded.title,"
        " status = excluded.status, updated_at = excluded.updated_at",
        (task_id, title, status, now),
    )
    return {"id": task_id, "title": title, "status": status, "updatedAt": now}


async def get_task(id):
    with _lock:
        conn = _connect()
        try:
            return _fetch(conn, id)
        finally:
            conn.close()


async def list_tasks(query):
    query = query or {}
    limit = query.get("limit")
    limit = 100 if limit is None else int(limit)
    where = query.get("where") or {}
    clauses, params = [], []
    for field in WHERE_FIELDS:
        if field in where:
            value = where[field]
            if isinstance(value, (dict, list)):
                raise HTTPException(status_code=400, detail="unsupported where value")
            clauses.append(f"{field} = ?")
            params.append(value)
    sql = "SELECT id, title, status, updated_at FROM tasks"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += " ORDER BY id LIMIT ?"
    params.append(limit)
    with _lock:
        conn = _connect()
        try:
            return [_row_dict(r) for r in conn.execute(sql, params).fetchall()]
        finally:
            conn.close()


async def apply_task_operations(operations, client_tx_id, scope):
    with _lock:
        conn = _connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if client_tx_id is not None:
                    done = conn.execute(
                        "SELECT rows_json FROM applied_tx WHERE client_tx_id = ?",
                        (client_tx_id,),
                    ).fetchone()
                    if done is not None:
                        conn.execute("ROLLBACK")
                        return json.loads(done["rows_json"])

                rows = []
                for op in operations:
                    op_type = str(op.get("type", "")).upper()
                    if op.get("model") != "tasks":
                        raise HTTPException(status_code=400, detail="unknown model")
                    task_id = op.get("id")
                    data = op.get("input") or {}
                    if "status" in data:
                        _check_status(data["status"])

                    if op_type == "CREATE":
                        if _fetch(conn, task_id) is not None:
                            raise HTTPException(status_code=409, detail="task exists")
                        if "title" not in data:
                            raise HTTPException(status_code=422, detail="title is required")
                        row = _upsert(conn, task_id, data["title"], data.get("status", "todo"))
                        event_type = "insert"
                    elif op_type == "UPDATE":
                        existing = _fetch(conn, task_id)
                        if existing is None:
                            raise HTTPException(status_code=404, detail="no such task")
                        row = _upsert(
                            conn,
                            task_id,
                            data.get("title", existing["title"]),
                            data.get("status", existing["status"]),
                        )
                        event_type = "update"
                    elif op_type == "DELETE":
                        row = _fetch(conn, task_id)
                        if row is None:
                            raise HTTPException(status_code=404, detail="no such task")
                        conn.execute("DELETE FROM tasks WHERE id = ?", (task_id,))
                        event_type = "delete"
                    else:
                        raise HTTPException(status_code=400, detail="unknown operation type")

                    _append_outbox(conn, task_id, event_type, row, client_tx_id)
                    rows.append(row)

                if client_tx_id is not None:
                    conn.execute(
                        "INSERT INTO applied_tx (client_tx_id, rows_json) VALUES (?, ?)",
                        (client_tx_id, json.dumps(rows)),
                    )
                conn.execute("COMMIT")
                return rows
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()


async def write_directly(id, title, status):
    """What an old endpoint does: upsert without Ablo, record an outbox event.

    Returns (row, event) where event is the wire event dict.
    """
    _check_status(status)
    with _lock:
        conn = _connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                is_new = _fetch(conn, id) is None
                row = _upsert(conn, id, title, status)
                event = _append_outbox(
                    conn, id, "insert" if is_new else "update", row, None
                )
                conn.execute("COMMIT")
                return row, event
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()


async def events_after(cursor, limit=100):
    try:
        after = int(cursor or 0)
        limit = 100 if limit is None else int(limit)
    except (TypeError, ValueError):
        raise HTTPException(status_code=400, detail="bad cursor or limit")
    with _lock:
        conn = _connect()
        try:
            found = conn.execute(
                "SELECT seq, event_id, model, entity_id, type, data_json,"
                " client_tx_id, occurred_at FROM outbox WHERE seq > ?"
                " ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
        finally:
            conn.close()
    events = [
        {
            "id": r["event_id"],
            "model": r["model"],
            "entityId": r["entity_id"],
            "type": r["type"],
            "data": json.loads(r["data_json"]) if r["data_json"] else None,
            "organizationId": None,
            "clientTxId": r["client_tx_id"] or None,
            "occurredAt": r["occurred_at"],
        }
        for r in found
    ]
    next_cursor = str(found[-1]["seq"]) if found else ("0" if cursor is None else str(cursor))
    return events, next_cursor
