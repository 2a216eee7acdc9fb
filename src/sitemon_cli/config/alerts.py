"""The ``alerts:`` section: notifiers, alert policies by site and tag, maintenance windows.

Every rule is checked here so that a bad setting is a ``check-config`` error naming its key
path (threshold 0, ``confirm_regions`` above the configured regions, an unknown notifier
name, a bad URL, a malformed maintenance window, an unknown time zone) and never a failure
at run time. Secrets (webhook secret, Alertmanager credentials, the Slack URL) come from
``${ENV}`` or ``*_file`` and are masked in every log line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from sitemon_cli.config.secrets import secret
from sitemon_cli.config.values import (
    Section,
    choice,
    duration,
    positive_int,
    string_list,
    string_map,
    text,
)
from sitemon_core.alerting.maintenance import Maintenance, MaintenanceWindow, OneOff, Weekly
from sitemon_core.alerting.policy import AlertPolicy, SiteAlerting
from sitemon_core.models import Site

KEYS = {
    "regions",
    "defaults",
    "routes",
    "notifiers",
    "maintenance",
    "link",
    "timeout",
    "delivery_deadline",
    "group_id",
}
POLICY_KEYS = {
    "failure_threshold",
    "success_threshold",
    "confirm_regions",
    "flap",
    "renotify_every",
    "notify",
}
NOTIFIER_KEYS = {
    "alertmanager": {
        "kind",
        "urls",
        "severity",
        "resend_every",
        "username",
        "password",
        "password_file",
        "bearer_token",
        "bearer_token_file",
    },
    "webhook": {"kind", "url", "secret", "secret_file", "headers"},
    "slack": {"kind", "url", "url_file"},
}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Alertmanager resolves an alert not re-sent within 4 x this (the notifier's endsAt rule).
DEFAULT_RESEND_S = 60.0


@attrs.frozen(kw_only=True)
class NotifierSpec:
    """One configured notifier: its name, kind and settings (secrets included, not shown)."""

    name: str
    kind: str
    urls: tuple[str, ...] = ()
    secret: str | None = attrs.field(default=None, repr=False)
    headers: tuple[tuple[str, str], ...] = attrs.field(default=(), repr=False)
    severity: str = "critical"
    resend_every_s: float | None = None
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    bearer_token: str | None = attrs.field(default=None, repr=False)

    def secrets(self) -> list[str]:
        """Values to mask in logs: credentials, and the Slack URL (it is the credential)."""
        values = [self.secret, self.password, self.bearer_token]
        values += [value for _, value in self.headers]
        if self.kind == "slack":
            values += list(self.urls)
        return [v for v in values if v]


@attrs.frozen(kw_only=True)
class Route:
    """Sites (by id or tag) whose alerts follow ``policy`` instead of the defaults."""

    site_ids: frozenset[str]
    tags: frozenset[str]
    policy: AlertPolicy

    def matches(self, site: Site) -> bool:
        """Whether ``site`` is one of this route's sites."""
        return site.id in self.site_ids or not self.tags.isdisjoint(site.tags)


@attrs.frozen(kw_only=True)
class AlertSettings:
    """The validated ``alerts:`` section."""

    regions: tuple[str, ...]
    default_policy: AlertPolicy
    routes: tuple[Route, ...] = ()
    notifiers: tuple[NotifierSpec, ...] = ()
    maintenance: tuple[MaintenanceWindow, ...] = ()
    link_template: str | None = None
    timeout_s: float = 10.0
    delivery_deadline_s: float = 3600.0
    group_id: str = "sitemon-alerter"  # the alerter's Kafka consumer group

    def policy_for(self, site: Site) -> AlertPolicy:
        """The first matching route's policy, else the defaults."""
        return next((r.policy for r in self.routes if r.matches(site)), self.default_policy)

    def sites(self, sites: Sequence[Site]) -> dict[str, SiteAlerting]:
        """What the alerter knows of each configured site."""
        return {
            s.id: SiteAlerting(
                policy=self.policy_for(s),
                interval_s=s.interval_s,
                tags=s.tags,
                tls_expiry_warning_s=s.tls_expiry_warning_s,
            )
            for s in sites
        }

    def maintenance_windows(self) -> Maintenance:
        """The maintenance windows, as the alerter asks them."""
        return Maintenance(self.maintenance)

    def secrets(self) -> list[str]:
        """Every secret of every notifier."""
        return [value for spec in self.notifiers for value in spec.secrets()]


def parse_alerts(root: Section, scanner_region: str) -> AlertSettings | None:
    """The ``alerts:`` section of ``root``, or None when it is absent."""
    if root.data.get("alerts") is None:
        return None
    sec = root.child("alerts", KEYS)
    regions = tuple(sec.get("regions", string_list, [scanner_region]))
    if not regions:
        raise sec.error(sec.key("regions"), "must name at least one region")
    notifiers = _notifiers(sec.child("notifiers", set(sec.data.get("notifiers") or {})))
    names = tuple(spec.name for spec in notifiers)
    resends = {s.name: s.resend_every_s for s in notifiers if s.resend_every_s is not None}
    defaults = sec.child("defaults", POLICY_KEYS)
    default_policy = _policy(defaults, {}, regions, names, resends)
    return AlertSettings(
        regions=regions,
        default_policy=default_policy,
        routes=_routes(sec, defaults.data, regions, names, resends),
        notifiers=notifiers,
        maintenance=_windows(sec),
        link_template=sec.get("link", _link, None),
        timeout_s=sec.get("timeout", duration, 10.0),
        delivery_deadline_s=sec.get("delivery_deadline", duration, 3600.0),
        group_id=sec.get("group_id", text, "sitemon-alerter"),
    )


def _policy(
    sec: Section,
    base: Mapping[str, Any],
    regions: tuple[str, ...],
    names: tuple[str, ...],
    resends: Mapping[str, float],
) -> AlertPolicy:
    """An AlertPolicy from ``sec``, keys it leaves out taken from ``base`` (the defaults)."""
    merged = Section(sec.source, sec.path, {**base, **sec.data}, set(sec.data) | set(base))
    flap = merged.child("flap", {"window", "max_changes"})
    confirm = merged.get("confirm_regions", positive_int, 1)
    if confirm > len(regions):
        raise sec.error(
            merged.key("confirm_regions"),
            f"must not exceed the {len(regions)} region(s) of alerts.regions "
            f"({', '.join(regions)}), got {confirm}",
        )
    notify = merged.get("notify", string_list, list(names))
    for index, name in enumerate(notify):
        if name not in names:
            known = ", ".join(names) or "none"
            raise sec.error(
                f"{merged.key('notify')}[{index}]",
                f"unknown notifier {name!r} (configured: {known})",
            )
    return AlertPolicy(
        failure_threshold=merged.get("failure_threshold", positive_int, 3),
        success_threshold=merged.get("success_threshold", positive_int, 2),
        confirm_regions=confirm,
        flap_window=flap.get("window", positive_int, 21),
        flap_max_changes=flap.get("max_changes", positive_int, 5),
        renotify_every_s=merged.get("renotify_every", duration, None),
        notifiers=tuple(notify),
        resend_every_s={n: resends[n] for n in notify if n in resends},
    )


def _routes(
    sec: Section,
    defaults: Mapping[str, Any],
    regions: tuple[str, ...],
    names: tuple[str, ...],
    resends: Mapping[str, float],
) -> tuple[Route, ...]:
    raw = sec.data.get("routes") or []
    if not isinstance(raw, list):
        raise sec.error(sec.key("routes"), f"must be a list, got {type(raw).__name__}")
    routes = []
    for index, item in enumerate(raw):
        route = Section(sec.source, f"{sec.key('routes')}[{index}]", item, POLICY_KEYS | {"match"})
        match = route.child("match", {"sites", "tags"})
        site_ids, tags = _selection(match)
        if not site_ids and not tags:
            raise route.error(route.key("match"), "must name sites or tags")
        policy_data = {k: v for k, v in route.data.items() if k != "match"}
        policy_sec = Section(sec.source, route.path, policy_data, POLICY_KEYS)
        policy = _policy(policy_sec, defaults, regions, names, resends)
        routes.append(Route(site_ids=site_ids, tags=tags, policy=policy))
    return tuple(routes)


def _selection(sec: Section) -> tuple[frozenset[str], frozenset[str]]:
    """The ``sites`` and ``tags`` a route or a maintenance window selects."""
    none: list[str] = []
    return (
        frozenset(sec.get("sites", string_list, none)),
        frozenset(sec.get("tags", string_list, none)),
    )


def _notifiers(sec: Section) -> tuple[NotifierSpec, ...]:
    return tuple(_notifier(sec, str(name)) for name in sec.data)


def _notifier(parent: Section, name: str) -> NotifierSpec:
    raw = parent.data[name]
    kind_path = f"{parent.key(name)}.kind"
    if not isinstance(raw, Mapping) or "kind" not in raw:
        raise parent.error(kind_path, "is required (alertmanager, webhook or slack)")
    kind = choice(*NOTIFIER_KEYS)(parent, kind_path, raw["kind"])
    sec = parent.child(name, NOTIFIER_KEYS[kind])
    if kind == "alertmanager":
        return NotifierSpec(
            name=name,
            kind=kind,
            urls=tuple(_url(sec, sec.key(f"urls[{i}]"), u) for i, u in enumerate(_urls(sec))),
            severity=sec.get("severity", text, "critical"),
            resend_every_s=sec.get("resend_every", duration, DEFAULT_RESEND_S),
            username=sec.get("username", text, None),
            password=secret(sec, "password"),
            bearer_token=secret(sec, "bearer_token"),
        )
    if kind == "webhook":
        signing = secret(sec, "secret")
        if not signing:
            raise sec.error(sec.key("secret"), "is required: the receiver verifies the signature")
        return NotifierSpec(
            name=name,
            kind=kind,
            urls=(sec.require("url", _url),),
            secret=signing,
            headers=tuple(sec.get("headers", string_map, dict[str, str]()).items()),
        )
    url = secret(sec, "url")
    if url is None:
        raise sec.error(sec.key("url"), "is required (or url_file)")
    return NotifierSpec(name=name, kind=kind, urls=(_url(sec, sec.key("url"), url),))


def _urls(sec: Section) -> list[str]:
    urls = sec.require("urls", string_list)
    if not urls:
        raise sec.error(sec.key("urls"), "must name at least one Alertmanager URL")
    return urls


def _url(sec: Section, path: str, raw: Any) -> str:
    """An http(s) URL with a host; the message never quotes it (it may hold a secret)."""
    value = text(sec, path, raw)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError as exc:
        raise sec.error(path, "must be an http(s) URL with a valid port") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise sec.error(path, "must be an http:// or https:// URL with a host")
    return value


def _link(sec: Section, path: str, raw: Any) -> str:
    value = text(sec, path, raw)
    if not value.startswith(("http://", "https://")):
        raise sec.error(path, "must be an http(s) URL, e.g. https://status.example.com/{site_id}")
    return value


def _windows(sec: Section) -> tuple[MaintenanceWindow, ...]:
    raw = sec.data.get("maintenance") or []
    if not isinstance(raw, list):
        raise sec.error(sec.key("maintenance"), f"must be a list, got {type(raw).__name__}")
    keys = {"sites", "tags", "start", "duration", "weekly"}
    return tuple(
        _window(Section(sec.source, f"{sec.key('maintenance')}[{i}]", item, keys))
        for i, item in enumerate(raw)
    )


def _window(sec: Section) -> MaintenanceWindow:
    has_weekly, has_start = "weekly" in sec.data, "start" in sec.data
    if has_weekly == has_start:
        raise sec.error(sec.path, "give either start + duration (one-off) or weekly, not both")
    schedule: OneOff | Weekly
    if has_start:
        if "duration" not in sec.data:
            raise sec.error(sec.key("duration"), "is required with start")
        start = sec.require("start", _instant)
        schedule = OneOff(start=start, duration=_span(sec, sec.require("duration", duration)))
    else:
        if "duration" in sec.data:
            raise sec.error(sec.key("duration"), "goes inside weekly")
        schedule = _weekly(sec.child("weekly", {"day", "time", "duration", "timezone"}))
    site_ids, tags = _selection(sec)
    return MaintenanceWindow(schedule=schedule, site_ids=site_ids, tags=tags)


def _weekly(sec: Section) -> Weekly:
    day = sec.require("day", choice(*WEEKDAYS, *(d[:3] for d in WEEKDAYS)))
    return Weekly(
        weekday=[d[:3] for d in WEEKDAYS].index(day[:3]),
        time=sec.require("time", _time_of_day),
        duration=_span(sec, sec.require("duration", duration)),
        zone=sec.get("timezone", _zone, ZoneInfo("UTC")),
    )


def _span(sec: Section, seconds: float) -> timedelta:
    if seconds > 7 * 86400:
        raise sec.error(sec.key("duration"), f"must be at most 7 days, got {seconds:g}s")
    return timedelta(seconds=seconds)


def _instant(sec: Section, path: str, raw: Any) -> datetime:
    value = raw if isinstance(raw, datetime) else None
    if value is None:
        try:
            value = datetime.fromisoformat(text(sec, path, raw))
        except ValueError as exc:
            raise sec.error(path, "must be an ISO 8601 time like 2026-12-24T22:00:00Z") from exc
    if value.utcoffset() is None:
        raise sec.error(path, "must include a UTC offset (Z or +01:00)")
    return value


def _time_of_day(sec: Section, path: str, raw: Any) -> time:
    value = text(sec, path, raw)
    try:
        return time.fromisoformat(value)
    except ValueError as exc:
        raise sec.error(path, f"must be a time of day like 02:30, got {value!r}") from exc


def _zone(sec: Section, path: str, raw: Any) -> ZoneInfo:
    value = text(sec, path, raw)
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise sec.error(
            path, f"unknown time zone {value!r} (an IANA name like Europe/Paris)"
        ) from exc
