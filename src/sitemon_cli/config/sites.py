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
from sitemon_cli.config.kinds import (
    DNS_KEYS,
    TCP_KEYS,
    TCP_SCHEMES,
    parse_dns_spec,
    parse_tcp_spec,
)
from sitemon_cli.config.values import (
    Parser,
    Section,
    choice,
    duration,
    pick_value,
    string_list,
    text,
)
from sitemon_core.models import DEFAULT_TLS_EXPIRY_WARNING_S, DnsSpec, ProbeSpec, Site, TcpSpec

# What every site has whatever its kind; the ones ``defaults`` may set, with their parsers.
COMMON_DEFAULTABLE: dict[str, Parser] = {
    "interval": duration,
    "timeout": duration,
    "tags": string_list,
    "degraded_after": duration,
    "fail_after": duration,
    "tls_expiry_warning": duration,
}
COMMON_KEYS = {"id", "kind", *COMMON_DEFAULTABLE}
# The keys a site of each kind may have; the reference lists them all.
KIND_KEYS = {
    "http": COMMON_KEYS | HTTP_KEYS,
    "tcp": COMMON_KEYS | TCP_KEYS,
    "dns": COMMON_KEYS | DNS_KEYS,
}
SITE_KEYS = set().union(*KIND_KEYS.values())
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
        path = f"sites[{index}]"
        site = parse_site(Section(root.source, path, item, _keys_of(root, path, item)), defaults)
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


def _kind_of(item: Mapping[str, Any]) -> str:
    """A site's kind: ``kind`` if given, else ``tcp`` for tcp:// and tls:// URLs, else http."""
    kind = item.get("kind")
    if kind is not None:
        return str(kind)
    url = item.get("url")
    scheme = url.partition(":")[0].strip().lower() if isinstance(url, str) else ""
    return "tcp" if scheme in TCP_SCHEMES else "http"


def _keys_of(root: Section, path: str, item: Any) -> set[str]:
    """The keys a site may have, by its kind (so an HTTP key on a DNS site is an error)."""
    if not isinstance(item, Mapping):
        return SITE_KEYS  # Section reports "must be a mapping"
    kind = _kind_of(item)
    if kind not in KIND_KEYS:
        raise root.error(f"{path}.kind", f"must be one of {', '.join(KIND_KEYS)}, got {kind!r}")
    return KIND_KEYS[kind]


def _spec(sec: Section, defaults: Mapping[str, Any]) -> ProbeSpec:
    kind = _kind_of(sec.data)
    if kind == "dns":
        return parse_dns_spec(sec)
    if kind == "tcp":
        return parse_tcp_spec(sec, defaults)
    return parse_http_spec(sec, defaults)


def parse_site(sec: Section, defaults: Mapping[str, Any]) -> Site:
    """One site mapping, validated: its spec, a positive interval, timeout <= interval."""
    spec = _spec(sec, defaults)
    interval = pick_value(sec, defaults, "interval", duration, 60.0)
    timeout = pick_value(sec, defaults, "timeout", duration, min(10.0, interval))
    if timeout > interval:
        raise sec.error(
            sec.key("timeout"), f"{timeout:g}s is longer than the interval ({interval:g}s)"
        )
    degraded_after, fail_after = _response_time(sec, defaults, timeout)
    return Site(
        id=sec.get("id", _site_id, _derived_id(spec)),
        interval_s=interval,
        timeout_s=timeout,
        spec=spec,
        tags=frozenset(pick_value(sec, defaults, "tags", string_list, [])),
        degraded_after_s=degraded_after,
        fail_after_s=fail_after,
        tls_expiry_warning_s=pick_value(
            sec, defaults, "tls_expiry_warning", duration, DEFAULT_TLS_EXPIRY_WARNING_S
        ),
    )


def _response_time(
    sec: Section, defaults: Mapping[str, Any], timeout: float
) -> tuple[float | None, float | None]:
    """``degraded_after`` and ``fail_after``: each shorter than the timeout (a check ends
    there anyway), and degraded before failed."""
    degraded = pick_value(sec, defaults, "degraded_after", duration, None)
    fail = pick_value(sec, defaults, "fail_after", duration, None)
    for name, value in (("degraded_after", degraded), ("fail_after", fail)):
        if value is not None and value >= timeout:
            raise sec.error(
                sec.key(name), f"{value:g}s is not shorter than the timeout ({timeout:g}s)"
            )
    if degraded is not None and fail is not None and degraded >= fail:
        raise sec.error(
            sec.key("degraded_after"), f"{degraded:g}s is not shorter than fail_after ({fail:g}s)"
        )
    return degraded, fail


def _derived_id(spec: ProbeSpec) -> str:
    """``example.com/health`` for HTTP; the kind in front for the others, so a TCP or DNS
    check of a host never takes the id of an HTTP check of it: ``tcp:db:5432``,
    ``dns:example.com/A``."""
    if isinstance(spec, DnsSpec):
        return _SLUG.sub("-", f"dns:{spec.name}/{spec.record_type}")[:200]
    if isinstance(spec, TcpSpec):
        return _SLUG.sub("-", spec.target.replace("://", ":", 1))[:200]
    return derive_id(spec.target)


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
