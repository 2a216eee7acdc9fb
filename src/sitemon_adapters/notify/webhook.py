"""The webhook notifier: a documented, versioned JSON body, signed with a shared secret.

The request (``POST``, ``Content-Type: application/json``):

- ``User-Agent: sitemon/<version>``
- ``Idempotency-Key``: the notification's key (incident id + transition [+ sequence]), the
  same on every retry of one notification: receivers deduplicate on it;
- ``X-Sitemon-Event``: ``firing`` | ``resolved`` | ``reminder`` | ``flapping``;
- ``X-Sitemon-Timestamp``: Unix seconds when this attempt was signed;
- ``X-Sitemon-Signature: sha256=<hex>``, the HMAC-SHA256, keyed with the shared secret
  (UTF-8), of the bytes ``<timestamp>`` ``.`` ``<body>``: the timestamp header's exact
  ASCII digits, a full stop, then the exact body bytes. A receiver recomputes it over the
  raw body (before any JSON parsing), compares in constant time, and rejects a timestamp
  more than 5 minutes from its clock: a captured request cannot be replayed later.
  ``verify_signature`` does all three.

The body, version 1: compact ASCII JSON (``<``, ``>``, ``&`` and every non-ASCII character
as ``\\uXXXX`` escapes), times RFC 3339 UTC; new fields may be added within a version, a
change of meaning bumps it::

    {"version": 1, "event": "firing", "key": "…", "notification_id": "…",
     "created_at": "…",
     "site": {"id": "shop", "url": "https://shop.example/", "tags": ["prod"]},
     "incident": {"id": "…", "opened_at": "…", "resolved_at": null, "duration_s": null,
                  "regions": ["eu", "us"],
                  "error": {"kind": "http_status", "message": "…", "status_code": 503},
                  "kind": "down", "certificate": null},
     "summary": "Site shop is down: …", "link": null}

``duration_s`` is the outage's length once resolved. ``kind`` is ``down`` (an outage) or
``certificate`` (a warning: the site's certificate expires within its
``tls_expiry_warning``); a warning's ``certificate`` is ``{"not_after": "…", "days_left": 3}``
(days counted at ``created_at``), its error kind ``certificate``. The body of one
notification is the same on every attempt (only the timestamp and signature headers change).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from sitemon_adapters.clock import SystemClock
from sitemon_adapters.notify import messages
from sitemon_adapters.notify.http_post import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT_S,
    HttpPoster,
    check_url,
    origin,
    url_secrets,
)
from sitemon_core.alerting.models import Delivery, Incident, Notification
from sitemon_core.ports import Clock

log = logging.getLogger("sitemon.notify")

BODY_VERSION = 1
SIGNATURE_HEADER = "X-Sitemon-Signature"
TIMESTAMP_HEADER = "X-Sitemon-Timestamp"
EVENT_HEADER = "X-Sitemon-Event"
SIGNATURE_TOLERANCE_S = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``timestamp.body`` keyed with ``secret``."""
    mac = hmac.new(secret.encode(), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str,
    body: bytes,
    signature: str,
    timestamp: str,
    *,
    now_s: float,
    tolerance_s: float = SIGNATURE_TOLERANCE_S,
) -> bool:
    """What a receiver checks: the signature matches (in constant time) and the timestamp
    is an integer within ``tolerance_s`` of ``now_s``."""
    if not timestamp.isascii() or not timestamp.isdigit():
        return False
    if abs(now_s - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def _incident(incident: Incident, at: datetime) -> dict[str, Any]:
    duration = None
    if incident.resolved_at is not None:
        duration = messages.outage(incident, incident.resolved_at).total_seconds()
    resolved = incident.resolved_at
    return {
        "id": incident.id,
        "opened_at": messages.rfc3339(incident.opened_at),
        "resolved_at": messages.rfc3339(resolved) if resolved is not None else None,
        "duration_s": duration,
        "regions": list(incident.regions),
        "error": {
            "kind": incident.error_kind,
            "message": incident.error_message,
            "status_code": incident.status_code,
        },
        "kind": incident.kind.value,
        "certificate": _certificate(incident, at),
    }


def _certificate(incident: Incident, at: datetime) -> dict[str, Any] | None:
    found = messages.certificate(incident, at)
    if found is None:
        return None
    return {"not_after": messages.rfc3339(found[0]), "days_left": found[1]}


def webhook_body(notification: Notification, link_template: str | None = None) -> bytes:
    """The version-1 JSON body of ``notification`` (see the module docstring), as sent."""
    incident = notification.incident
    body = {
        "version": BODY_VERSION,
        "event": notification.transition.value,
        "key": notification.key,
        "notification_id": notification.id,
        "created_at": messages.rfc3339(notification.created_at),
        "site": {"id": incident.site_id, "url": incident.url, "tags": sorted(incident.tags)},
        "incident": _incident(incident, notification.created_at),
        "summary": messages.summary(notification.transition, incident, notification.created_at),
        "link": messages.link(link_template, incident),
    }
    return messages.json_bytes(body)


OWN_HEADERS = frozenset(
    h.lower()
    for h in ("Content-Type", "Idempotency-Key", EVENT_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)
)


def _check_headers(name: str, headers: Mapping[str, str]) -> None:
    """Extra headers may not replace the notifier's own nor carry a line break (which
    would fail every attempt, or inject a header)."""
    for key, value in headers.items():
        if key.lower() in OWN_HEADERS:
            raise ValueError(f"webhook {name}: headers: {key} is set by sitemon")
        if not key or any(ch in key for ch in "\r\n:") or any(ch in value for ch in "\r\n"):
            raise ValueError(f"webhook {name}: headers: invalid header {key!r}")


class WebhookNotifier:
    """Implements ``Notifier`` with a signed JSON POST; an async context manager owning its
    HTTP session."""

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        name: str = "webhook",
        headers: Mapping[str, str] | None = None,
        link_template: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        clock: Clock | None = None,
    ) -> None:
        """``secret`` signs every request. ``headers``: extra request headers (e.g. an
        ``Authorization`` the receiver wants); their values are treated as secrets, and so
        is the URL (only its host and port are ever shown). Raises ``ValueError`` on a bad
        setting (its message never quotes a secret)."""
        check_url(url, f"webhook {name}: url")
        if not secret:
            raise ValueError(f"webhook {name}: the signing secret must not be empty")
        messages.check_link_template(link_template)
        _check_headers(name, headers or {})
        self.name = name
        self._url = url
        self._secret = secret
        self._extra = dict(headers or {})
        self._link_template = link_template
        self._clock = clock or SystemClock()
        self._http = HttpPoster(
            timeout_s=timeout_s,
            max_response_bytes=max_response_bytes,
            secrets=(secret, *url_secrets(url), *self._extra.values()),
        )

    def __repr__(self) -> str:
        return f"WebhookNotifier(name={self.name!r}, target={origin(self._url)})"

    async def __aenter__(self) -> Self:
        """Open the HTTP session."""
        await self._http.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the HTTP session."""
        await self._http.close()

    def request(self, notification: Notification) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one attempt (signed now)."""
        body = webhook_body(notification, self._link_template)
        timestamp = str(int(self._clock.utcnow().timestamp()))
        headers = {
            **self._extra,
            "Content-Type": "application/json",
            "Idempotency-Key": notification.key,
            EVENT_HEADER: notification.transition.value,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        }
        return body, headers

    async def send(self, notification: Notification) -> Delivery:
        """POST the signed body once; see ``HttpPoster.post`` for the outcomes."""
        body, headers = self.request(notification)
        outcome = await self._http.post(self._url, body, headers)
        if not outcome.delivered:
            error = f"{origin(self._url)}: {outcome.error}"
            outcome = Delivery(delivered=False, retriable=outcome.retriable, error=error)
            log.debug("notifier %s: %s not delivered: %s", self.name, notification.key, error)
        return outcome
