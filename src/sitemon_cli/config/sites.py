"""Parsing and validating the ``sites`` list of a configuration file.

What every check has (id, interval, timeout, tags) is parsed here; the spec of its probe
kind by that kind's module (``config/http.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from sitemon_cli.config.http import HTTP_DEFAULTABLE, HTTP_KEYS, parse_http_spec
from sitemon_cli.config.values import (
    Parser,
    Section,
    choice,
    duration,
    pick_value,
    string_list,
    text,
)
from sitemon_core.models import Site

# What every site has whatever its kind; the ones ``defaults`` may set, with their parsers.
COMMON_DEFAULTABLE: dict[str, Parser] = {
    "interval": duration,
    "timeout": duration,
    "tags": string_list,
}
COMMON_KEYS = {"id", *COMMON_DEFAULTABLE}
SITE_KEYS = COMMON_KEYS | HTTP_KEYS
DEFAULTABLE = COMMON_DEFAULTABLE | HTTP_DEFAULTABLE
DEFAULT_KEYS = set(DEFAULTABLE)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$")
_SLUG = re.compile(r"[^A-Za-z0-9._:/-]+")


SOURCE_KEYS = {"source"}
SOURCES = ("config", "kafka")


def sites_source(root: Section) -> str:
    """Where the scanner's sites come from: ``config`` (the ``sites`` list of this file) or
    ``kafka`` (``sites: {source: kafka}``: the catalogue topic, shared by partition)."""
    raw = root.data.get("sites")
    if not isinstance(raw, Mapping):
        return "config"
    if "source" not in raw:
        raise root.error(
            "sites", f"must be a list, got {type(raw).__name__} (or a mapping with source: kafka)"
        )
    return Section(root.source, "sites", raw, SOURCE_KEYS).require("source", choice(*SOURCES))


def parse_sites(root: Section) -> tuple[Site, ...]:
    """The sites of the document, with ``defaults`` applied; ids must be unique."""
    defaults = parse_defaults(root.child("defaults", DEFAULT_KEYS))
    raw = root.data.get("sites")
    if raw is None or (isinstance(raw, Mapping) and sites_source(root)):
        return ()  # the mapping form names a source: no list in this file
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


def parse_defaults(sec: Section) -> dict[str, Any]:
    """The values set under ``defaults``, parsed (and so checked) even if no site uses them."""
    parsed = {name: sec.get(name, parse, None) for name, parse in DEFAULTABLE.items()}
    return {name: value for name, value in parsed.items() if value is not None}


def parse_site(sec: Section, defaults: Mapping[str, Any]) -> Site:
    """One site mapping, validated: its spec, a positive interval, timeout <= interval."""
    spec = parse_http_spec(sec, defaults)
    interval = pick_value(sec, defaults, "interval", duration, 60.0)
    timeout = pick_value(sec, defaults, "timeout", duration, min(10.0, interval))
    if timeout > interval:
        raise sec.error(
            sec.key("timeout"), f"{timeout:g}s is longer than the interval ({interval:g}s)"
        )
    return Site(
        id=sec.get("id", _site_id, derive_id(spec.target)),
        interval_s=interval,
        timeout_s=timeout,
        spec=spec,
        tags=frozenset(pick_value(sec, defaults, "tags", string_list, [])),
    )


def derive_id(url: str) -> str:
    """A readable, stable id from a URL: ``example.com/health``."""
    parts = urlsplit(url)
    base = (parts.netloc + parts.path).rstrip("/") or parts.netloc
    return _SLUG.sub("-", base)[:200]


def _site_id(sec: Section, path: str, raw: Any) -> str:
    value = text(sec, path, raw)
    if not _ID.match(value):
        raise sec.error(
            path, f"must be 1-200 characters of letters, digits and ._:/- , got {value!r}"
        )
    return value
