"""Parsing and validating the ``sites`` list of a configuration file."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import regex

from sitemon_adapters.probe.http_common.body_regex import compile_body_regex
from sitemon_cli.config.values import (
    Section,
    boolean,
    choice,
    duration,
    positive_int,
    string_list,
    string_map,
    text,
)
from sitemon_core.models import DEFAULT_MAX_BODY_BYTES, Site

SITE_KEYS = {
    "id",
    "url",
    "interval",
    "timeout",
    "regex",
    "expected_status",
    "headers",
    "method",
    "follow_redirects",
    "max_redirects",
    "max_body_bytes",
    "tags",
}
DEFAULT_KEYS = SITE_KEYS - {"id", "url", "regex"}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$")
_SLUG = re.compile(r"[^A-Za-z0-9._:/-]+")


def parse_sites(root: Section) -> tuple[Site, ...]:
    """The sites of the document, with ``defaults`` applied; ids must be unique."""
    defaults = root.child("defaults", DEFAULT_KEYS)
    raw = root.data.get("sites")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise root.error("sites", f"must be a list, got {type(raw).__name__}")
    sites: list[Site] = []
    seen: dict[str, str] = {}
    for index, item in enumerate(raw):
        site = parse_site(Section(root.source, f"sites[{index}]", item, SITE_KEYS), defaults)
        if site.id in seen:
            raise root.error(
                f"sites[{index}].id", f"duplicate site id {site.id!r} (also {seen[site.id]})"
            )
        seen[site.id] = f"sites[{index}]"
        sites.append(site)
    return tuple(sites)


def _pick(sec: Section, defaults: Section, name: str, parse: Any, fallback: Any) -> Any:
    if sec.data.get(name) is not None:
        return sec.get(name, parse, fallback)
    return defaults.get(name, parse, fallback)


def parse_site(sec: Section, defaults: Section) -> Site:
    """One site mapping, validated: URL, regex, positive interval, timeout <= interval."""
    url = sec.require("url", _url)
    interval = _pick(sec, defaults, "interval", duration, 60.0)
    timeout = _pick(sec, defaults, "timeout", duration, min(10.0, interval))
    if timeout > interval:
        raise sec.error(
            sec.key("timeout"), f"{timeout:g}s is longer than the interval ({interval:g}s)"
        )
    return Site(
        id=sec.get("id", _site_id, derive_id(url)),
        url=url,
        interval_s=interval,
        timeout_s=timeout,
        regex=sec.get("regex", _regex, None),
        expected_statuses=frozenset(
            _pick(sec, defaults, "expected_status", _statuses, range(200, 300))
        ),
        headers=_pick(sec, defaults, "headers", string_map, {}),
        method=_pick(sec, defaults, "method", choice("GET", "HEAD", "POST"), "GET"),
        follow_redirects=_pick(sec, defaults, "follow_redirects", boolean, True),
        max_redirects=_pick(sec, defaults, "max_redirects", positive_int, 10),
        max_body_bytes=_pick(sec, defaults, "max_body_bytes", positive_int, DEFAULT_MAX_BODY_BYTES),
        tags=frozenset(_pick(sec, defaults, "tags", string_list, [])),
    )


def derive_id(url: str) -> str:
    """A readable, stable id from a URL: ``example.com/health``."""
    parts = urlsplit(url)
    base = (parts.netloc + parts.path).rstrip("/") or parts.netloc
    return _SLUG.sub("-", base)[:200]


def _url(sec: Section, path: str, raw: Any) -> str:
    value = text(sec, path, raw).strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise sec.error(path, f"must be an http:// or https:// URL, got {value!r}")
    if not parts.hostname:
        raise sec.error(path, f"has no host: {value!r}")
    try:
        _ = parts.port
    except ValueError as exc:
        raise sec.error(path, f"has an invalid port: {value!r}") from exc
    return value


def _regex(sec: Section, path: str, raw: Any) -> str:
    value = text(sec, path, raw)
    try:
        re.compile(value)
    except re.error as exc:
        raise sec.error(path, f"invalid regular expression {value!r}: {exc}") from exc
    try:  # the engine the probers search with (re-compatible; see body_regex)
        compile_body_regex(value)
    except regex.error as exc:
        raise sec.error(path, f"regular expression {value!r} is not supported: {exc}") from exc
    return value


def _site_id(sec: Section, path: str, raw: Any) -> str:
    value = text(sec, path, raw)
    if not _ID.match(value):
        raise sec.error(
            path, f"must be 1-200 characters of letters, digits and ._:/- , got {value!r}"
        )
    return value


def _statuses(sec: Section, path: str, raw: Any) -> list[int]:
    items = raw if isinstance(raw, list) else [raw]
    codes: list[int] = []
    for i, item in enumerate(items):
        if isinstance(item, bool) or not isinstance(item, int) or not 100 <= item <= 599:
            raise sec.error(f"{path}[{i}]", f"must be an HTTP status code 100-599, got {item!r}")
        codes.append(item)
    return codes
