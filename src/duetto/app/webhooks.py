"""Signed webhooks (Standard Webhooks, OpenAI's envelope) sent when a video completes or fails."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from duetto.app.core.security import new_id

log = logging.getLogger(__name__)


def video_event(*, video_id: str, status: str, now: float | None = None) -> tuple[str, str]:
    """The event id and JSON body for a finished video: `{id, object: "event", type, created_at, data: {id}}`."""
    event_id = new_id("evt")
    body = {
        "id": event_id,
        "object": "event",
        "type": "video.completed" if status == "completed" else "video.failed",
        "created_at": int(time.time() if now is None else now),
        "data": {"id": video_id},
    }
    return event_id, json.dumps(body, separators=(",", ":"))


def signed_headers(*, secret: str, event_id: str, body: str, now: float | None = None) -> dict[str, str]:
    timestamp = datetime.fromtimestamp(int(time.time() if now is None else now), UTC)
    return {
        "content-type": "application/json",
        "webhook-id": event_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id=event_id, timestamp=timestamp, data=body),
    }


def deliver(*, url: str, secret: str, event_id: str, body: str, attempts: int, timeout_s: float) -> str:
    """POST the event until a 2xx answer or `attempts` tries; returns a short outcome for the record.

    Each try is signed afresh (receivers reject stale timestamps), and keeps the same webhook-id so the
    receiver can drop duplicates.
    """
    outcome = "not sent"
    for attempt in range(attempts):
        try:
            response = httpx.post(
                url, content=body, headers=signed_headers(secret=secret, event_id=event_id, body=body), timeout=timeout_s
            )
            if response.is_success:
                return f"delivered ({response.status_code})"
            outcome = f"failed: HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            outcome = f"failed: {type(exc).__name__}"
        log.warning("webhook %s to %s: %s (try %d of %d)", event_id, url, outcome, attempt + 1, attempts)
        if attempt + 1 < attempts:
            time.sleep(min(2**attempt * 0.5, 10.0))
    return outcome[:100]
