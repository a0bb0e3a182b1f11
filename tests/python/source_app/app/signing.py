"""Sign outgoing requests the way the Ablo server signs its calls.

webhook-signature = "v1," + base64(HMAC-SHA256(secret_utf8, f"{id}.{timestamp}." + body)),
keyed by the whole secret string (including its "whsec_" prefix).
"""
import base64
import hashlib
import hmac
import time
import uuid


def sign_headers(secret: str, body: bytes, *, msg_id=None, timestamp_ms=None) -> dict:
    msg_id = msg_id or "msg_" + uuid.uuid4().hex
    timestamp = str(int(time.time() * 1000) if timestamp_ms is None else int(timestamp_ms))
    payload = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    digest = hmac.new(secret.encode("utf-8"), payload, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }
