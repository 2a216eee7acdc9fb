"""Certificate warnings: a site's TLS certificate expires within its ``tls_expiry_warning``.

Apart from the up/down state machine on purpose: a warning is an incident of kind
``CERTIFICATE`` with its own notifications, so it never opens, resolves or delays an
outage, and an outage never touches it. Per site, at most one warning is open. Only results
that carry ``tls_not_after`` count; each is judged alone (no thresholds: the certificate
is the same whichever check read it), in arrival order, a result not newer than the site's
last one being ignored (a replay). A result inside the window opens a warning when none is
open; a result beyond the window resolves the open one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

import attrs

from sitemon_core.alerting.models import Incident, IncidentKind, Transition
from sitemon_core.alerting.records import IdFactory, new_id, public_url
from sitemon_core.models import CheckResult

ERROR_KIND = "certificate"
DAY = timedelta(days=1)


def days_left(not_after: datetime, at: datetime) -> int:
    """Whole days from ``at`` until ``not_after`` (rounded down; negative once expired)."""
    return math.floor((not_after - at) / DAY)


def expiring(result: CheckResult, window_s: float) -> bool | None:
    """Whether the result's certificate expires within ``window_s`` of the check (None: the
    result carries no certificate)."""
    if result.tls_not_after is None:
        return None
    return (result.tls_not_after - result.started_at).total_seconds() < window_s


def expiry_text(not_after: datetime, at: datetime) -> str:
    """``certificate expires 2026-12-04T06:00:00+00:00 (2 days left)`` (or expired)."""
    left = days_left(not_after, at)
    when = not_after.isoformat()
    if not_after <= at:
        return f"certificate expired {when} ({days_text(-left)} ago)"
    return f"certificate expires {when} ({days_text(left)} left)"


def days_text(count: int) -> str:
    """``1 day``, ``3 days``."""
    return f"{count} day" if count == 1 else f"{count} days"


def certificate_incident(
    result: CheckResult, tags: Iterable[str], make_id: IdFactory = new_id
) -> Incident:
    """The warning ``result`` opens (its certificate, seen at its time)."""
    assert result.tls_not_after is not None  # expiring() said so
    return Incident(
        id=make_id(),
        site_id=result.site_id,
        url=public_url(result.url),
        opened_at=result.started_at,
        error_kind=ERROR_KIND,
        error_message=expiry_text(result.tls_not_after, result.started_at),
        regions=(result.region,),
        tags=tuple(sorted(tags)),
        kind=IncidentKind.CERTIFICATE,
        tls_not_after=result.tls_not_after,
    )


@attrs.frozen
class CertificateChange:
    """A warning opened (``FIRING``) or resolved (``RESOLVED``) by ``result``."""

    transition: Transition
    incident: Incident
    result: CheckResult


class CertificateWatch:
    """Every site's open certificate warning and the time of its newest certificate."""

    def __init__(self, make_id: IdFactory = new_id) -> None:
        self.open: dict[str, Incident] = {}  # site id -> its open warning
        self._last: dict[str, datetime] = {}  # site id -> newest result with a certificate
        self._make_id = make_id

    def restore(self, incident: Incident) -> None:
        """Take back a stored warning (the newest of its site): results not newer than its
        last change are a replay of what it already accounts for."""
        self._last[incident.site_id] = incident.resolved_at or incident.opened_at
        if incident.is_open:
            self.open[incident.site_id] = incident

    def observe(
        self, result: CheckResult, window_s: float, tags: Iterable[str]
    ) -> CertificateChange | None:
        """Account for ``result``; the warning it opens or resolves, if any."""
        inside = expiring(result, window_s)
        if inside is None:
            return None
        last = self._last.get(result.site_id)
        if last is not None and result.started_at <= last:
            return None
        self._last[result.site_id] = result.started_at
        opened = self.open.get(result.site_id)
        if inside and opened is None:
            incident = certificate_incident(result, tags, self._make_id)
            self.open[result.site_id] = incident
            return CertificateChange(Transition.FIRING, incident, result)
        if not inside and opened is not None:
            del self.open[result.site_id]
            resolved = attrs.evolve(opened, resolved_at=result.started_at)
            return CertificateChange(Transition.RESOLVED, resolved, result)
        return None

    def __iter__(self) -> Iterator[Incident]:
        return iter(self.open.values())
