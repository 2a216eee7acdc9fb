"""What makes a site checkable, for sites that arrive from outside a config file.

A site on the catalogue topic was validated by ``sites apply`` with the config rules; these
are the same rules (the config loader's, where they concern a finished ``Site``), applied
again to what a scanner decodes, so a record written by anything else cannot crash or
mislead it.

The pattern languages (the body regex engine, JSONPath) live with the probers in the
adapters: a ``PatternCheck`` passed in from there applies their exact syntax; without one,
``re`` and "a JSONPath starts at ``$``" stand in.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Protocol
from urllib.parse import urlsplit

from sitemon_core.models import DnsSpec, HttpSpec, Site, TcpSpec
from sitemon_core.spec_rules import (
    conditions_problem,
    dns_problem,
    headers_expected_problem,
    tcp_problem,
    tls_problem,
    user_agent_problem,
)

SITE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$")
HTTP_METHODS = ("GET", "HEAD", "POST")


class PatternCheck(Protocol):
    """The syntax of the patterns a site's checks use, as the probers' engines read it."""

    def regex_problem(self, pattern: str) -> str | None:
        """Why the body regex ``pattern`` cannot be searched with, or ``None``."""
        ...

    def json_path_problem(self, path: str) -> str | None:
        """Why ``path`` is not a JSONPath query the probers can evaluate, or ``None``."""
        ...


def site_problem(site: Site, patterns: PatternCheck | None = None) -> str | None:
    """Why ``site`` cannot be checked (one short reason), or ``None`` when it can."""
    if not SITE_ID.match(site.id):
        return f"id must be 1-200 characters of letters, digits and ._:/- , got {site.id!r}"
    if not (math.isfinite(site.interval_s) and site.interval_s > 0):
        return f"interval must be > 0, got {site.interval_s!r}"
    if not (math.isfinite(site.timeout_s) and 0 < site.timeout_s <= site.interval_s):
        return f"timeout must be > 0 and at most the interval, got {site.timeout_s!r}"
    return response_time_problem(site) or spec_problem(site, patterns)


def spec_problem(site: Site, patterns: PatternCheck | None = None) -> str | None:
    """Why the spec of ``site`` cannot be checked, by its kind, or ``None``."""
    if isinstance(site.spec, HttpSpec):
        return http_problem(site.spec, patterns)
    if isinstance(site.spec, TcpSpec):
        return tcp_problem(site.spec)
    if isinstance(site.spec, DnsSpec):
        return dns_problem(site.spec)
    return f"unknown probe kind {site.kind!r}"  # pragma: no cover - every kind is above


def response_time_problem(site: Site) -> str | None:
    """Why ``degraded_after``/``fail_after``/``tls_expiry_warning`` cannot be, or ``None``:
    each a positive time, the first two shorter than the timeout, degraded before failed."""
    degraded, fail = site.degraded_after_s, site.fail_after_s
    for name, value in (("degraded_after", degraded), ("fail_after", fail)):
        if value is not None and not (math.isfinite(value) and 0 < value < site.timeout_s):
            return f"{name} must be > 0 and shorter than the timeout, got {value!r}"
    if degraded is not None and fail is not None and degraded >= fail:
        return f"degraded_after ({degraded!r}) must be shorter than fail_after ({fail!r})"
    warning = site.tls_expiry_warning_s
    if not (math.isfinite(warning) and warning > 0):
        return f"tls_expiry_warning must be > 0, got {warning!r}"
    return None


# The common shape of a URL, accepted without urlsplit (which costs ~10 µs: a second on an
# assignment of 100,000 sites); anything else takes the full path below.
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9.-]*[A-Za-z0-9](?::(\d{1,5}))?(?:[/?#][!-~]*)?")


def url_problem(url: str) -> str | None:
    """Why ``url`` is not an http(s) URL with a host and a valid port, or ``None``."""
    plain = _PLAIN_URL.fullmatch(url)
    if plain is not None and (plain.group(1) is None or int(plain.group(1)) <= 65535):
        return None
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        return f"url is not a valid URL: {url!r}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"url must be an http:// or https:// URL with a host, got {url!r}"
    return None


def http_problem(spec: HttpSpec, patterns: PatternCheck | None = None) -> str | None:
    """Why an HTTP spec cannot be checked, or ``None``."""
    problem = url_problem(spec.url)
    if problem is not None:
        return problem
    if spec.method not in HTTP_METHODS:
        return f"method must be one of {', '.join(HTTP_METHODS)}, got {spec.method!r}"
    if not _statuses_ok(spec.expected_statuses):
        return "expected statuses must be HTTP status codes 100-599"
    if spec.max_redirects < 1 or spec.max_body_bytes < 1:
        return "max_redirects and max_body_bytes must be >= 1"
    if spec.body is not None and spec.method != "POST":
        return f"a request body needs method POST, got {spec.method}"
    return (
        _regex_problem(spec.regex, patterns)
        or conditions_problem(spec.json_conditions)
        or _json_paths_problem(spec, patterns)
        or headers_expected_problem(spec.headers_expected)
        or user_agent_problem(spec.user_agent)
        or tls_problem(spec.tls)
    )


def _regex_problem(pattern: str | None, patterns: PatternCheck | None) -> str | None:
    if pattern is None:
        return None
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"invalid regular expression {pattern!r}: {exc}"
    return None if patterns is None else patterns.regex_problem(pattern)


def _json_paths_problem(spec: HttpSpec, patterns: PatternCheck | None) -> str | None:
    if patterns is None:
        return None
    problems = (patterns.json_path_problem(c.path) for c in spec.json_conditions)
    return next((problem for problem in problems if problem is not None), None)


@functools.lru_cache(maxsize=256)
def _statuses_ok(statuses: frozenset[int]) -> bool:
    # Cached: sites share a handful of status sets (a frozenset caches its own hash), and a
    # scanner validates 100,000 decoded sites on an assignment.
    return bool(statuses) and all(100 <= s <= 599 for s in statuses)
