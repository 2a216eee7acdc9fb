"""The Slack-compatible notifier: one readable message per transition through an incoming
webhook (Slack; Mattermost and Rocket.Chat accept the same ``{"text": …}`` payload).

Every string that comes from a site (its id, URL, error message, regions) is made inert
before it enters the message: ``&``, ``<`` and ``>`` are escaped as Slack requires (so
``<!channel>`` or ``<https://evil|click>`` stay text), a word joiner (U+2060) follows each
``@`` (so ``@channel`` / ``@here`` / ``@all`` mention no one in Mattermost or Rocket.Chat),
line breaks and other control characters become spaces, and the value is shown in a code
span (a backtick in it becomes U+02CB, a look-alike) so no Markdown link or formatting
applies. Values are cut to a readable length. Only the link is a real link: a configured
template filled with percent-encoded ids.

The webhook URL is the secret: it never appears in an error, a log line or a repr (only its
host does).
"""

from __future__ import annotations

import logging
from datetime import datetime
from types import TracebackType
from typing import Self

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
from sitemon_core.alerting.certificates import days_text
from sitemon_core.alerting.models import (
    Delivery,
    Incident,
    IncidentKind,
    Notification,
    Transition,
)
from sitemon_core.ports import Clock

log = logging.getLogger("sitemon.notify")

MAX_VALUE_CHARS = 300
WORD_JOINER = "\u2060"
GRAVE_LOOKALIKE = "\u02cb"  # modifier letter grave accent, so a backtick cannot close the code span


def inert(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    """``text`` as a code span that no Slack, Mattermost or Rocket.Chat parser acts on."""
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    flat = flat.replace("`", GRAVE_LOOKALIKE).replace("@", "@" + WORD_JOINER)
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"`{flat}`" if flat else "`-`"


def _certificate_headline(transition: Transition, site: str) -> str:
    if transition is Transition.RESOLVED:
        return f":large_green_circle: *RESOLVED* {site} certificate renewed"
    if transition is Transition.REMINDER:
        return f":warning: *CERTIFICATE STILL EXPIRING* {site}"
    return f":warning: *CERTIFICATE EXPIRING* {site}"


def _headline(transition: Transition, incident: Incident, now_text: str) -> str:
    site = inert(incident.site_id, 100)
    if incident.kind is IncidentKind.CERTIFICATE:
        return _certificate_headline(transition, site)
    if transition is Transition.RESOLVED:
        return f":large_green_circle: *RESOLVED* {site} is back up after {now_text}"
    if transition is Transition.REMINDER:
        return f":red_circle: *STILL DOWN* {site} for {now_text}"
    if transition is Transition.FLAPPING:
        return f":warning: *FLAPPING* {site} changes state too often; quiet until stable"
    return f":red_circle: *DOWN* {site}"


def slack_text(
    transition: Transition,
    incident: Incident,
    link: str | None,
    duration: str,
    at: datetime | None = None,
) -> str:
    """The message: a headline, then the error (a certificate warning: its expiry and days
    left at ``at``), URL and regions, then the link."""
    lines = [_headline(transition, incident, duration)]
    found = messages.certificate(incident, at)
    if found is not None:
        left = days_text(found[1])
        lines.append(f"Certificate not after: {messages.rfc3339(found[0])} ({left} left)")
    elif transition is not Transition.RESOLVED:
        lines.append(f"Error: {inert(messages.error_text(incident))}")
    lines.append(f"URL: {inert(incident.url)}")
    if incident.regions:
        lines.append(f"Regions: {inert(', '.join(incident.regions))}")
    opened = messages.rfc3339(incident.opened_at)
    since = "Warning since" if found is not None else "Down since"
    lines.append(f"{since}: {opened}")
    if link is not None:
        # The link is ours (a configured template, ids percent-encoded): only `|` and `>`
        # could break Slack's <url|text> syntax, and escaping covers them too.
        safe = link.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        lines.append(f"<{safe.replace('|', '%7C')}|Details>")
    return "\n".join(lines)


class SlackNotifier:
    """Implements ``Notifier`` for Slack-compatible incoming webhooks; an async context
    manager owning its HTTP session."""

    def __init__(
        self,
        url: str,
        *,
        name: str = "slack",
        link_template: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        clock: Clock | None = None,
    ) -> None:
        """``url``: the incoming webhook URL (a secret). ``link_template``: e.g.
        ``https://status.example/sites/{site_id}``. Raises ``ValueError`` on a bad setting
        (its message never quotes the URL)."""
        check_url(url, f"slack {name}: url")
        messages.check_link_template(link_template)
        self.name = name
        self._url = url
        self._link_template = link_template
        self._clock = clock or SystemClock()
        self._http = HttpPoster(
            timeout_s=timeout_s, max_response_bytes=max_response_bytes, secrets=url_secrets(url)
        )

    def __repr__(self) -> str:
        return f"SlackNotifier(name={self.name!r}, target={origin(self._url)})"

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

    def payload(self, notification: Notification) -> bytes:
        """The JSON payload: ``{"text": …}``."""
        incident = notification.incident
        duration = messages.format_duration(messages.outage(incident, self._clock.utcnow()))
        link = messages.link(self._link_template, incident)
        text = slack_text(
            notification.transition, incident, link, duration, notification.created_at
        )
        return messages.json_bytes({"text": text})

    async def send(self, notification: Notification) -> Delivery:
        """POST the message once; see ``HttpPoster.post`` for the outcomes."""
        outcome = await self._http.post(
            self._url, self.payload(notification), {"Content-Type": "application/json"}
        )
        if not outcome.delivered:
            error = f"{origin(self._url)}: {outcome.error}"
            outcome = Delivery(delivered=False, retriable=outcome.retriable, error=error)
            log.debug("notifier %s: %s not delivered: %s", self.name, notification.key, error)
        return outcome
