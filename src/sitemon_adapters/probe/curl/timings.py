"""Phase timings and the stage a check ended in, from libcurl's transfer clocks."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pycurl

from sitemon_adapters.probe.http_common.stages import (
    CONNECTING,
    READING,
    RESOLVING,
    TLS_STAGE,
    WAITING,
)
from sitemon_core.models import PhaseTimings

_MS = 1000.0
# ``Curl.getinfo``: one of libcurl's clocks, in seconds.
Info = Callable[[int], Any]

# The common cases without parsing the URL: an IPv4 literal right after the scheme, or an
# IPv6 one in brackets. Anything with userinfo goes the long way.
_IPV4_URL = re.compile(r"https?://(?:\d{1,3}\.){3}\d{1,3}(?::\d*)?(?:[/?#]|$)", re.IGNORECASE)


def is_ip_literal(url: str) -> bool:
    """Whether ``url``'s host is an IP address (so no name lookup happens)."""
    if "@" not in url:
        return _IPV4_URL.match(url) is not None or "://[" in url
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def stage_and_timings(
    info: Info, url: str, final_url: str, *, failed: bool
) -> tuple[str, PhaseTimings]:
    """The stage the check ended in, and its phase timings (see ``probe/aiohttp/trace.py`` for
    what each phase means). libcurl's clocks run from the start of the transfer and add up
    over redirect hops; a phase a failed check was in ends at the failure."""
    lookup, connect = info(pycurl.NAMELOOKUP_TIME), info(pycurl.CONNECT_TIME)
    app, pre = info(pycurl.APPCONNECT_TIME), info(pycurl.PRETRANSFER_TIME)
    first, total = info(pycurl.STARTTRANSFER_TIME), info(pycurl.TOTAL_TIME)
    is_tls = final_url.startswith("https:") or url.startswith("https:")
    named = not is_ip_literal(url)
    dns = lookup * _MS if named and lookup > 0 else None
    if connect <= 0:
        stage = RESOLVING if named and lookup <= 0 else CONNECTING
        if stage == RESOLVING:
            return stage, PhaseTimings(dns_ms=total * _MS)
        return stage, PhaseTimings(dns_ms=dns, connect_ms=max(0.0, total - lookup) * _MS)
    connect_ms = max(0.0, connect - lookup) * _MS
    if is_tls and app <= 0:
        return TLS_STAGE, PhaseTimings(
            dns_ms=dns, connect_ms=connect_ms, tls_ms=max(0.0, total - connect) * _MS
        )
    tls_ms = max(0.0, app - connect) * _MS if is_tls else None
    sent = max(pre, app, connect)
    if first <= 0:
        return WAITING, PhaseTimings(
            dns_ms=dns, connect_ms=connect_ms, tls_ms=tls_ms, ttfb_ms=max(0.0, total - sent) * _MS
        )
    return READING if failed else "done", PhaseTimings(
        dns_ms=dns,
        connect_ms=connect_ms,
        tls_ms=tls_ms,
        ttfb_ms=max(0.0, first - sent) * _MS,
        transfer_ms=max(0.0, total - first) * _MS,
    )
