"""What alerting stores and sends: incidents, notifications and delivery outcomes."""

from __future__ import annotations

import enum
from datetime import datetime

import attrs


class Transition(enum.Enum):
    """Why a notification is sent."""

    FIRING = "firing"  # the site went down (an incident opened)
    RESOLVED = "resolved"  # the site recovered (the incident closed)
    REMINDER = "reminder"  # ``renotify_every`` while an incident stays open
    FLAPPING = "flapping"  # the site changes state too often; quiet until stable


class IncidentKind(enum.Enum):
    """What an incident is about; each kind has its own incidents, one open per site."""

    DOWN = "down"  # the site failed its checks (the up/down state machine)
    CERTIFICATE = "certificate"  # its TLS certificate expires within tls_expiry_warning


class DeliveryState(enum.Enum):
    """Where a notification is in its delivery."""

    PENDING = "pending"  # stored, not yet delivered (or being retried)
    HELD = "held"  # inside a maintenance window: sent when it ends, if still relevant
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up: a 4xx, or the retry deadline passed
    DROPPED = "dropped"  # no longer relevant when its hold ended (the incident closed)


@attrs.frozen(kw_only=True)
class Incident:
    """One outage of one site (opened on up→down, resolved on down→up), or, of kind
    ``CERTIFICATE``, one warning about a certificate expiring soon (opened by a result
    inside the site's warning window, resolved by a later one beyond it).

    A certificate warning keeps ``tls_not_after`` of the certificate that opened it; its
    ``error_kind`` is ``certificate`` and its message says when the certificate expires.
    """

    id: str  # uuid4 hex
    site_id: str
    url: str  # as configured; credentials are stripped before it is stored or sent
    opened_at: datetime
    resolved_at: datetime | None = None
    error_kind: str  # of the first confirming result
    error_message: str
    status_code: int | None = None
    regions: tuple[str, ...] = ()  # the regions failing when it opened
    tags: tuple[str, ...] = ()
    kind: IncidentKind = IncidentKind.DOWN
    tls_not_after: datetime | None = None

    @property
    def is_open(self) -> bool:
        """Whether the incident is still going on."""
        return self.resolved_at is None


@attrs.frozen(kw_only=True)
class Notification:
    """One message about one incident to one notifier (by its configured name).

    ``key`` is stable across retries and restarts (incident id, transition and a sequence
    number for reminders): receivers deduplicate on it (the webhook's Idempotency-Key).
    """

    id: str  # uuid4 hex, the outbox row
    key: str
    notifier: str
    transition: Transition
    incident: Incident
    created_at: datetime
    state: DeliveryState = DeliveryState.PENDING
    attempts: int = 0
    last_error: str = ""
    not_before: datetime | None = None  # held until then (maintenance), or next retry


@attrs.frozen(kw_only=True)
class Delivery:
    """What one attempt to deliver a notification gave."""

    delivered: bool
    retriable: bool = False  # a 5xx, a timeout, a refused connection: try again later
    error: str = ""  # why not, for the incident's record and the logs (never a secret)
