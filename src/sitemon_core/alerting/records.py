"""From state changes to what is stored: incidents and their outbox notifications.

Notification keys are derived from the incident id and the transition only (plus the
period number for reminders), so a replay after a crash produces the same keys and the
repository ignores the duplicates; receivers deduplicate on them too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from sitemon_core.alerting.models import DeliveryState, Incident, Notification, Transition
from sitemon_core.alerting.state import Change

IdFactory = Callable[[], str]


def new_id() -> str:
    """A fresh id for an incident or an outbox row."""
    return uuid.uuid4().hex


def public_url(url: str) -> str:
    """``url`` without the user name and password it may embed (never stored or sent)."""
    try:
        parts = urlsplit(url)
        if parts.username is None and parts.password is None:
            return url
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        if parts.port is not None:
            netloc += f":{parts.port}"
    except ValueError:  # an unparsable URL: keep nothing that could be a credential
        return url.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=netloc))


def open_incident(change: Change, tags: Iterable[str], make_id: IdFactory = new_id) -> Incident:
    """The incident a ``DOWN`` change opens, described by its confirming result."""
    result = change.result
    return Incident(
        id=make_id(),
        site_id=result.site_id,
        url=public_url(result.url),
        opened_at=result.started_at,
        error_kind=result.error_kind.value,
        error_message=result.error_message,
        status_code=result.status_code,
        regions=change.regions,
        tags=tuple(sorted(tags)),
    )


def notification_key(incident_id: str, transition: Transition, period: int | None = None) -> str:
    """The idempotency key of a notification (the same for every notifier)."""
    key = f"{incident_id}:{transition.value}"
    return key if period is None else f"{key}:{period}"


def notifications(
    incident: Incident,
    transition: Transition,
    notifiers: Iterable[str],
    *,
    now: datetime,
    hold_until: datetime | None = None,
    period: int | None = None,
    make_id: IdFactory = new_id,
) -> list[Notification]:
    """One notification per notifier; ``HELD`` until ``hold_until`` when given."""
    key = notification_key(incident.id, transition, period)
    state = DeliveryState.PENDING if hold_until is None else DeliveryState.HELD
    return [
        Notification(
            id=make_id(),
            key=key,
            notifier=name,
            transition=transition,
            incident=incident,
            created_at=now,
            state=state,
            not_before=hold_until,
        )
        for name in notifiers
    ]
