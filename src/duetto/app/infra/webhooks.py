"""Signed webhooks (Standard Webhooks, OpenAI's envelope) sent when a video completes or fails."""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
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


class PrivateTarget(ValueError):
    """A webhook URL whose host is, or resolves to, an address that is not public."""


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback
    return ip.is_global and not ip.is_multicast


def resolve_target(url: str, *, allow_private: bool) -> str | None:
    """The address to send a webhook to: the host's first address when every address it resolves to is
    public; None when private targets are allowed (the URL is then used as it is).

    Raises PrivateTarget for a loopback, private, link-local or otherwise reserved address (a webhook is a
    request the server makes on a user's behalf: pointed inside the operator's network it would reach
    services no user may reach), and ValueError for a URL without an http(s) scheme or a resolvable host.
    """
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        raise ValueError(f"webhook_url is not a valid URL ({error})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError("webhook_url must be an http(s) URL with a host")
    if allow_private:
        return None
    try:
        infos = socket.getaddrinfo(parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80),
                                   type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise ValueError(f"webhook_url's host {parsed.host} cannot be resolved") from None
    addresses = [info[4][0] for info in infos]
    private = [a for a in addresses if not _is_public(a)]
    if private or not addresses:
        shown = private[0] if private else "no address"
        raise PrivateTarget(f"webhook_url's host {parsed.host} is a private or local address ({shown})")
    return addresses[0]


def _post(url: str, address: str | None, *, headers: dict[str, str], body: str, timeout_s: float) -> str:
    """One try; connects to `address` when given, naming the URL's host in the Host header and for TLS."""
    target = httpx.URL(url)
    extensions: dict[str, object] = {}
    if address is not None:
        headers = {**headers, "host": target.netloc.decode("ascii")}
        extensions["sni_hostname"] = target.host
        target = target.copy_with(host=address)
    try:
        with httpx.Client(timeout=timeout_s) as client:  # follows no redirects, as httpx never does by default
            response = client.post(target, content=body, headers=headers, extensions=extensions)
    except httpx.HTTPError as exc:
        return f"failed: {type(exc).__name__}"
    return f"delivered ({response.status_code})" if response.is_success else f"failed: HTTP {response.status_code}"


def deliver(*, url: str, secret: str, event_id: str, body: str, attempts: int, timeout_s: float,
            allow_private: bool = False) -> str:
    """POST the event until a 2xx answer or `attempts` tries; returns a short outcome for the record.

    Each try is signed afresh (receivers reject stale timestamps), and keeps the same webhook-id so the
    receiver can drop duplicates. Unless private targets are allowed, the host is resolved and checked
    before each try, and the connection goes to the very address that was checked, so a name that
    resolves differently a moment later cannot turn the request inwards.
    """
    outcome = "not sent"
    for attempt in range(attempts):
        try:
            address = resolve_target(url, allow_private=allow_private)
        except PrivateTarget:
            log.warning("webhook %s to %s: refused, the host is not a public address", event_id, url)
            return "failed: refused, not a public address"
        except ValueError:
            outcome = "failed: host not found"
        else:
            headers = signed_headers(secret=secret, event_id=event_id, body=body)
            outcome = _post(url, address, headers=headers, body=body, timeout_s=timeout_s)
            if outcome.startswith("delivered"):
                return outcome
        log.warning("webhook %s to %s: %s (try %d of %d)", event_id, url, outcome, attempt + 1, attempts)
        if attempt + 1 < attempts:
            time.sleep(min(2**attempt * 0.5, 10.0))
    return outcome[:100]
