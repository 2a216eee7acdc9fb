"""What every notifier says about an incident: times, durations, the error, the link.

Plain text only; each format escapes it its own way (JSON by its encoder, Slack in
``slack.py``).
"""

from __future__ import annotations

import json
import string
import urllib.parse
from datetime import UTC, datetime, timedelta

from sitemon_core.alerting.certificates import days_left, expiry_text
from sitemon_core.alerting.models import Incident, IncidentKind, Transition
from sitemon_core.models import ErrorKind

# Outside strings JSON never uses these, so escaping them anywhere is safe; inside strings
# it keeps a body inert if a receiver pastes it into HTML (what Go's encoder does too).
_HTML_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def json_bytes(value: object) -> bytes:
    """Compact, ASCII-only, HTML-safe JSON: no raw ``<``, ``>``, ``&``, line break or
    non-ASCII byte, whatever the strings hold (lone surrogates included)."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text.translate(_HTML_SAFE).encode("ascii")


LINK_FIELDS = frozenset({"site_id", "incident_id"})


def rfc3339(moment: datetime) -> str:
    """``2026-12-01T05:08:50.123Z``: UTC, milliseconds (a naive time is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_duration(duration: timedelta) -> str:
    """``2h 5m``, ``3m 12s``, ``40s``: the two largest units, rounded down (never negative)."""
    seconds = max(0, int(duration.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s"))]
    nonzero = [p for p in parts if not p.startswith("0")]
    return " ".join(nonzero[:2]) or "0s"


def outage(incident: Incident, now: datetime) -> timedelta:
    """How long the site has been (or was) down."""
    end = incident.resolved_at or now
    return _aware(end) - _aware(incident.opened_at)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def certificate(incident: Incident, at: datetime | None = None) -> tuple[datetime, int] | None:
    """A certificate warning's ``not_after`` and its whole days left at ``at`` (default:
    the warning's opening; the notifiers pass the notification's ``created_at``, the same
    on every retry); None for an outage."""
    if incident.kind is not IncidentKind.CERTIFICATE or incident.tls_not_after is None:
        return None
    moment = _aware(at or incident.opened_at)
    return incident.tls_not_after, days_left(_aware(incident.tls_not_after), moment)


def error_text(incident: Incident, at: datetime | None = None) -> str:
    """``connect: connection refused``: the confirming result's kind and message; for a
    site that answered (kind ``none``) ``HTTP 503 (status or body not as expected)``; for
    a certificate warning ``certificate expires <not_after> (3 days left)`` at ``at``."""
    found = certificate(incident, at)
    if found is not None:
        return expiry_text(_aware(found[0]), _aware(at or incident.opened_at))
    if incident.error_kind == ErrorKind.NONE.value:
        # No transport error to name: the answer itself failed the check, and the status
        # is what a reader needs ("none: " would read as "no error").
        answer = "no status" if incident.status_code is None else f"HTTP {incident.status_code}"
        detail = incident.error_message or "status or body not as expected"
        return f"{answer} ({detail})"
    text = f"{incident.error_kind}: {incident.error_message}"
    if incident.status_code is not None and str(incident.status_code) not in text:
        text += f" (status {incident.status_code})"
    return text


def summary(transition: Transition, incident: Incident, at: datetime | None = None) -> str:
    """One sentence for humans, e.g. ``Site shop is down: connect: connection refused``, or
    ``Site shop: certificate expires 2026-12-04T06:00:00+00:00 (3 days left)``."""
    if incident.kind is IncidentKind.CERTIFICATE:
        if transition is Transition.RESOLVED:
            return f"Site {incident.site_id}: certificate renewed (no longer expiring soon)"
        return f"Site {incident.site_id}: {error_text(incident, at)}"
    if transition is Transition.RESOLVED:
        return f"Site {incident.site_id} is back up"
    if transition is Transition.FLAPPING:
        return f"Site {incident.site_id} is flapping (changing state too often)"
    return f"Site {incident.site_id} is down: {error_text(incident)}"


def check_link_template(template: str | None) -> None:
    """Raise ``ValueError`` unless ``template`` only uses ``{site_id}`` / ``{incident_id}``."""
    if template is None:
        return
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ValueError(f"link template: {exc}") from None
    unknown = fields - LINK_FIELDS
    if unknown:
        raise ValueError(f"link template: unknown field {sorted(unknown)[0]!r}")


def link(template: str | None, incident: Incident) -> str | None:
    """The template filled with the percent-encoded site and incident ids (no ``/``, ``|``,
    ``>`` or space can come from them), or ``None`` without a template."""
    if template is None:
        return None
    return template.format(
        site_id=urllib.parse.quote(incident.site_id, safe=""),
        incident_id=urllib.parse.quote(incident.id, safe=""),
    )
