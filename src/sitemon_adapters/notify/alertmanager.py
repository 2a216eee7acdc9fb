"""The Alertmanager notifier: incidents become alerts through the API v2
(``POST /api/v2/alerts``), and Alertmanager does routing, grouping, silences and receivers.

One alert per site, identified (as Alertmanager identifies alerts) by its labels:

- ``alertname``: ``SiteDown`` (``SiteFlapping`` for a flapping notification), configurable;
  ``CertificateExpiring`` for a certificate warning (a distinct alert of the same site);
- ``site_id``: the site's id, as is (a label *value* may be any UTF-8 string);
- ``severity``: configurable, ``critical`` by default; always ``warning`` for a certificate
  warning;
- ``tags``: the site's tags, sorted, each between commas (``,db,prod,``) with ``%`` and ``,``
  inside a tag percent-encoded, so any tag string fits and ``tags=~".*,prod,.*"`` matches
  exactly one tag (the Prometheus service-discovery convention); absent without tags;
- ``tag_<tag>="true"`` for every tag made only of ``[A-Za-z0-9_]`` (a valid label name once
  prefixed, never rewritten, so two tags can never collide): ``tag_prod="true"`` is the
  easy matcher. Other tags are only in ``tags``.

Annotations: ``summary``, ``url``, ``error``, ``regions`` (comma-separated), ``incident_id``
(and ``link`` with a link template, also sent as ``generatorURL``); a certificate warning
adds ``not_after`` (RFC 3339) and ``days_left``.

FIRING and REMINDER send the alert with ``startsAt`` = the incident's opening and ``endsAt`` =
now + four times ``resend_every`` (Prometheus's rule): the alert stays firing as long as it is
re-sent at least every ``resend_every``, and resolves by itself if sitemon disappears.
RESOLVED sends ``endsAt`` = the resolution time. FLAPPING sends a ``SiteFlapping`` alert
that starts now and ends by itself after four times ``resend_every`` (no transition ends it).

With several Alertmanager URLs (an HA cluster, which deduplicates through its gossip) the
alert goes to each, concurrently, like Prometheus does; the notification is delivered when
any one accepted it, retriable when none did and some failure was retriable.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from collections.abc import Sequence
from datetime import timedelta
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
)
from sitemon_core.alerting.models import (
    Delivery,
    Incident,
    IncidentKind,
    Notification,
    Transition,
)
from sitemon_core.ports import Clock

log = logging.getLogger("sitemon.notify")

ALERTS_PATH = "/api/v2/alerts"
_PLAIN_TAG = re.compile(r"[A-Za-z0-9_]+")
TTL_FACTOR = 4  # an alert lives this many resend periods unless re-sent
CERTIFICATE_ALERTNAME = "CertificateExpiring"
CERTIFICATE_SEVERITY = "warning"


def tags_label(tags: Sequence[str]) -> str:
    """``,a,b,``: the sorted, percent-encoded tags between commas ('' without tags)."""
    if not tags:
        return ""
    encoded = sorted({t.replace("%", "%25").replace(",", "%2C") for t in tags})
    return "," + ",".join(encoded) + ","


def alert_labels(incident: Incident, alertname: str, severity: str) -> dict[str, str]:
    """The labels that identify a site's alert (see the module docstring)."""
    labels = {"alertname": alertname, "site_id": incident.site_id, "severity": severity}
    if incident.tags:
        labels["tags"] = tags_label(incident.tags)
    for tag in incident.tags:
        if _PLAIN_TAG.fullmatch(tag):
            labels[f"tag_{tag}"] = "true"
    return labels


def _check_settings(urls: Sequence[str], names: Sequence[str], resend_every: timedelta) -> None:
    if not urls:
        raise ValueError("alertmanager: at least one URL is needed")
    for i, url in enumerate(urls, 1):
        check_url(url, f"alertmanager URL {i}")
    if not all(names):
        raise ValueError("alertmanager: alertname and severity must not be empty")
    if resend_every <= timedelta(0):
        raise ValueError("alertmanager: resend_every must be positive")


def _authorization(username: str | None, password: str | None, token: str | None) -> str:
    """The ``Authorization`` header value: basic, bearer, or '' for none."""
    if username is not None or password is not None:
        pair = f"{username or ''}:{password or ''}".encode()
        return "Basic " + base64.b64encode(pair).decode()
    return f"Bearer {token}" if token else ""


class AlertmanagerNotifier:
    """Implements ``Notifier`` for Prometheus Alertmanager (API v2); an async context
    manager owning its HTTP session.

    ``resend_every``: the alerter must re-send (REMINDER) an open incident's alert at least
    this often, whatever ``renotify_every`` says, or Alertmanager resolves it after
    four times ``resend_every``.
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        name: str = "alertmanager",
        severity: str = "critical",
        alertname: str = "SiteDown",
        flapping_alertname: str = "SiteFlapping",
        username: str | None = None,
        password: str | None = None,
        bearer_token: str | None = None,
        resend_every: timedelta = timedelta(minutes=5),
        link_template: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        clock: Clock | None = None,
    ) -> None:
        """``urls``: base URLs of the Alertmanagers (``http://am:9093``, a route prefix
        allowed). Basic auth (``username``/``password``) or ``bearer_token``, not both.
        Raises ``ValueError`` on a bad setting (its message never quotes a secret)."""
        _check_settings(urls, (alertname, flapping_alertname, severity), resend_every)
        if bearer_token and (username or password):
            raise ValueError("alertmanager: basic auth or a bearer token, not both")
        messages.check_link_template(link_template)
        self.name = name
        self.resend_every = resend_every
        self._urls = [url.rstrip("/") + ALERTS_PATH for url in urls]
        self._severity = severity
        self._alertnames = {True: flapping_alertname, False: alertname}
        self._link_template = link_template
        self._clock = clock or SystemClock()
        self._headers = {"Content-Type": "application/json"}
        authorization = _authorization(username, password, bearer_token)
        if authorization:
            self._headers["Authorization"] = authorization
        self._http = HttpPoster(
            timeout_s=timeout_s,
            max_response_bytes=max_response_bytes,
            secrets=(password, bearer_token, authorization),
        )

    def __repr__(self) -> str:
        targets = ", ".join(origin(url) for url in self._urls)
        return f"AlertmanagerNotifier(name={self.name!r}, targets=[{targets}])"

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

    def alert(self, notification: Notification) -> dict[str, Any]:
        """The postable alert for ``notification`` (one item of the API's array)."""
        incident, transition = notification.incident, notification.transition
        now = self._clock.utcnow()
        ttl_end = now + TTL_FACTOR * self.resend_every
        flapping = transition is Transition.FLAPPING
        labels = alert_labels(incident, self._alertnames[flapping], self._severity)
        if incident.kind is IncidentKind.CERTIFICATE:
            labels.update(alertname=CERTIFICATE_ALERTNAME, severity=CERTIFICATE_SEVERITY)
        alert: dict[str, Any] = {
            "labels": labels,
            "annotations": self._annotations(notification),
            "startsAt": messages.rfc3339(now if flapping else incident.opened_at),
            "endsAt": messages.rfc3339(ttl_end),
        }
        if transition is Transition.RESOLVED:
            alert["endsAt"] = messages.rfc3339(incident.resolved_at or now)
        link = messages.link(self._link_template, incident)
        if link is not None:
            alert["generatorURL"] = link
        return alert

    def _annotations(self, notification: Notification) -> dict[str, str]:
        incident, at = notification.incident, notification.created_at
        annotations = {
            "summary": messages.summary(notification.transition, incident, at),
            "url": incident.url,
            "error": messages.error_text(incident, at),
            "regions": ", ".join(incident.regions),
            "incident_id": incident.id,
        }
        found = messages.certificate(incident, at)
        if found is not None:
            annotations["not_after"] = messages.rfc3339(found[0])
            annotations["days_left"] = str(found[1])
        link = messages.link(self._link_template, incident)
        if link is not None:
            annotations["link"] = link
        return annotations

    async def send(self, notification: Notification) -> Delivery:
        """POST the alert to every Alertmanager at once; delivered if any accepted it."""
        body = messages.json_bytes([self.alert(notification)])
        outcomes = await asyncio.gather(
            *(self._http.post(url, body, self._headers) for url in self._urls)
        )
        failures = [
            f"{origin(url)}: {outcome.error}"
            for url, outcome in zip(self._urls, outcomes, strict=True)
            if not outcome.delivered
        ]
        if any(outcome.delivered for outcome in outcomes):
            if failures:
                log.warning("notifier %s: some Alertmanagers failed: %s", self.name, failures)
            return Delivery(delivered=True)
        retriable = any(outcome.retriable for outcome in outcomes)
        error = self._http.redact("; ".join(failures))
        log.debug("notifier %s: %s not delivered: %s", self.name, notification.key, error)
        return Delivery(delivered=False, retriable=retriable, error=error)
