"""The pycurl ``SiteProber``: the same checks as ``AiohttpSiteProber`` for less CPU.

2.1-2.4x the checks per CPU-second of the aiohttp prober on plain HTTP, 1.4-1.6x on HTTPS, where the
handshake dominates (BENCHMARKS.md).

libcurl does the HTTP and TLS work in C; one ``CurlMulti`` per prober is driven by the
asyncio loop (``loop.CurlLoop``), so every check is a coroutine like with aiohttp and the
scanner is unchanged. Each check gets a fresh connection (``FRESH_CONNECT`` +
``FORBID_REUSE``) and, by default, a full TLS handshake (no session resumption: a resumed
session sends no certificate, so the handshake measured would not be a new visitor's, and
nothing about the certificate could be checked). Phase timings come from libcurl's clocks
(``timings``); failures map onto the same ``ErrorKind`` set (``errors``).
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from collections.abc import Coroutine
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import pycurl

from sitemon_adapters.probe.curl.errors import HEADER_TOO_LONG, classify
from sitemon_adapters.probe.curl.loop import CurlLoop, Outcome
from sitemon_adapters.probe.curl.reading import conditions, search, tls_facts
from sitemon_adapters.probe.curl.timings import stage_and_timings
from sitemon_adapters.probe.curl.tls_options import UrlMap, apply_tls
from sitemon_adapters.probe.curl.transfer import Transfer
from sitemon_adapters.probe.http_common.body_regex import RegexTimeoutError
from sitemon_adapters.probe.http_common.conditions import (
    conclude,
)
from sitemon_adapters.probe.http_common.peer import (
    TlsFacts,
    tls_fields,
)
from sitemon_adapters.probe.http_common.stages import MAX_HEADER_LINE_BYTES, SEARCHING, timed_out
from sitemon_adapters.probe.http_common.watchdog import Watchdog
from sitemon_adapters.probe.tags import result_tags
from sitemon_core.models import (
    CheckResult,
    ErrorKind,
    HttpSite,
    Site,
    as_http,
    new_check_id,
)
from sitemon_core.ports import Clock

__all__ = ["MAX_HEADER_LINE_BYTES", "TIMEOUT_GRACE_S", "CurlSiteProber"]

# The outer safety net, as in the aiohttp prober (one watchdog for every check in flight):
# libcurl's own TIMEOUT_MS ends the check.
TIMEOUT_GRACE_S = 0.5
_MS = 1000.0
_SYSTEM_CA_FALLBACK = "/etc/ssl/certs/ca-certificates.crt"


def _system_cafile() -> str | None:
    """The system CA bundle: the wheel's own OpenSSL does not know where Debian keeps it."""
    paths = ssl.get_default_verify_paths()
    for candidate in (
        os.environ.get("SSL_CERT_FILE"),
        paths.cafile,
        paths.openssl_cafile,
        _SYSTEM_CA_FALLBACK,
    ):
        if candidate and os.path.isfile(candidate):
            return candidate
    return None


class CurlSiteProber:
    """Checks sites over HTTP(S) with libcurl; implements ``sitemon_core.ports.SiteProber``.

    Use as an async context manager (the multi handle is bound to the running loop).
    ``cafile`` replaces the system CAs. ``tls_session_cache`` resumes TLS sessions across
    checks of a host (off by default, see the module docstring). ``dns_cache_ttl_s`` caches
    resolved addresses (default ``None``: a fresh lookup per check, like the aiohttp prober).
    Concurrency is not bounded here: the scanner bounds it.
    """

    def __init__(
        self,
        region: str,
        clock: Clock,
        *,
        user_agent: str = "sitemon/0.1",
        cafile: str | None = None,
        tls_session_cache: bool = False,
        dns_cache_ttl_s: int | None = None,
    ) -> None:
        """Make a prober; libcurl's multi handle is created in ``async with``."""
        self._region = region
        self._clock = clock
        self._user_agent = user_agent
        self._cafile = cafile or _system_cafile()
        self._tls_sessions = tls_session_cache
        self._dns_ttl = dns_cache_ttl_s
        self._curl: CurlLoop | None = None
        self._share: pycurl.CurlShare | None = None
        self._watchdog = Watchdog()

    async def __aenter__(self) -> Self:
        """Create the multi handle and hook it to the running loop."""
        self._curl = CurlLoop(asyncio.get_running_loop())
        if self._tls_sessions:
            self._share = pycurl.CurlShare()
            self._share.setopt(pycurl.SH_SHARE, pycurl.LOCK_DATA_SSL_SESSION)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Abort what is still running and free libcurl's handles."""
        self._watchdog.close()
        if self._curl is not None:
            self._curl.close()
            self._curl = None
        if self._share is not None:
            self._share.close()
            self._share = None

    def probe(self, site: Site) -> Coroutine[Any, Any, CheckResult]:
        """Check ``site`` (an HTTP one) once; target failures come back classified, never
        raised. Returns the check's own coroutine (no wrapper frame per check)."""
        return self._check(as_http(site))

    async def _check(self, site: HttpSite) -> CheckResult:
        curl = self._curl
        if curl is None:
            raise RuntimeError("CurlSiteProber used outside 'async with'")
        spec = site.spec
        keep = spec.regex is not None or bool(spec.json_conditions)
        easy, url_back = self._easy(site)
        transfer = Transfer(easy, spec.max_body_bytes, keep)
        transfer.url_back = url_back
        if spec.headers_expected:
            transfer.headers = {}
        if site.spec.url[:6].lower() == "https:":  # (an http -> https redirect: no TLS facts)
            transfer.watch_tls(certinfo=self._tls_sessions)
        started_at = self._clock.utcnow()
        start = self._clock.monotonic()
        deadline = time.monotonic() + site.timeout_s  # for the body regex
        try:
            grace = site.timeout_s + TIMEOUT_GRACE_S
            outcome = await _within(curl, transfer.easy, self._watchdog, grace)
            matched = await search(site, transfer, outcome[0], deadline)
            name = spec.tls.server_name if spec.tls is not None else None
            tls = await tls_facts(transfer, outcome, deadline, name)
            total_ms = (self._clock.monotonic() - start) * _MS
            return self._result(
                site,
                transfer,
                outcome,
                started_at=started_at,
                total_ms=total_ms,
                matched=matched,
                tls=tls,
            )
        finally:
            transfer.easy.close()

    def _easy(self, site: HttpSite) -> tuple[pycurl.Curl, UrlMap]:
        easy = pycurl.Curl()
        setopt = easy.setopt
        setopt(pycurl.NOSIGNAL, 1)
        setopt(pycurl.FRESH_CONNECT, 1)
        setopt(pycurl.FORBID_REUSE, 1)
        setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
        setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        setopt(pycurl.REDIR_PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        setopt(pycurl.TIMEOUT_MS, max(1, round(site.timeout_s * _MS)))
        setopt(pycurl.FOLLOWLOCATION, 1 if site.spec.follow_redirects else 0)
        setopt(pycurl.MAXREDIRS, site.spec.max_redirects)
        setopt(pycurl.ACCEPT_ENCODING, "")  # what libcurl can decode; the cap counts decoded
        setopt(pycurl.USERAGENT, site.spec.user_agent or self._user_agent)
        setopt(pycurl.DNS_CACHE_TIMEOUT, self._dns_ttl or 0)
        setopt(pycurl.SSL_SESSIONID_CACHE, 1 if self._tls_sessions else 0)
        if self._share is not None:
            setopt(pycurl.SHARE, self._share)
        if site.spec.headers:
            setopt(pycurl.HTTPHEADER, [f"{name}: {value}" for name, value in site.spec.headers])
        url, back = apply_tls(easy, site.spec, self._cafile)  # may add a Host header
        setopt(pycurl.URL, url)
        if site.spec.body is not None:
            setopt(pycurl.POSTFIELDS, site.spec.body.encode())
        if site.spec.method == "HEAD":
            setopt(pycurl.NOBODY, 1)
        elif site.spec.method != "GET":
            setopt(pycurl.CUSTOMREQUEST, site.spec.method)
        return easy, back

    def _result(
        self,
        site: HttpSite,
        transfer: Transfer,
        outcome: Outcome,
        *,
        started_at: datetime,
        total_ms: float,
        matched: bool | RegexTimeoutError | None,
        tls: TlsFacts | None,
    ) -> CheckResult:
        code = outcome[0]
        easy = transfer.easy
        # The last response's status, whichever hop it was (on a redirect loop: the last
        # redirect), as the aiohttp prober reports it.
        status = easy.getinfo(pycurl.RESPONSE_CODE) or None
        truncated = transfer.too_large and not site.spec.fail_on_large_body
        final_url = transfer.url_back(easy.getinfo(pycurl.EFFECTIVE_URL))
        failed = code != 0 and not truncated  # stopping at the cap aborts the transfer
        stage, timings = stage_and_timings(easy.getinfo, site.spec.url, final_url, failed=failed)
        kind, detail = _failure(site, transfer, outcome, stage, matched)
        regex_matched = None if isinstance(matched, RegexTimeoutError) else matched
        missed = conditions(site.spec, transfer, truncated) if kind is ErrorKind.NONE else None
        ok, condition, detail = conclude(site.spec, status, regex_matched, (kind, detail), missed)
        return CheckResult(
            check_id=new_check_id(),
            site_id=site.id,
            url=site.spec.url,
            region=self._region,
            started_at=started_at,
            ok=ok,
            failed_condition=condition,
            total_ms=total_ms,
            status_code=status,
            timings=timings,
            regex_matched=regex_matched,
            bytes_read=site.spec.max_body_bytes if truncated else transfer.bytes_read,
            body_truncated=truncated,
            **tls_fields(tls),
            final_url=final_url if status is not None else None,
            error_kind=kind,
            error_message=detail,
            tags=result_tags(site.tags),
        )


def _failure(
    site: HttpSite,
    transfer: Transfer,
    outcome: Outcome,
    stage: str,
    matched: bool | RegexTimeoutError | None,
) -> tuple[ErrorKind, str]:
    """How the check failed (``ErrorKind.NONE`` if it did not), most telling cause first."""
    code, message = outcome
    if isinstance(matched, RegexTimeoutError):
        return ErrorKind.TIMEOUT, timed_out(site.timeout_s, SEARCHING)
    if transfer.too_large:
        if site.spec.fail_on_large_body:
            return ErrorKind.BODY_TOO_LARGE, f"body over {site.spec.max_body_bytes} bytes"
        return ErrorKind.NONE, ""  # stopped at the cap on purpose: judged on what was read
    if transfer.head_too_long:
        return ErrorKind.PROTOCOL, HEADER_TOO_LONG
    if code != 0:
        return classify(code, message, site, stage, transfer.easy)
    return ErrorKind.NONE, ""


async def _within(
    curl: CurlLoop, easy: pycurl.Curl, watchdog: Watchdog, timeout_s: float
) -> Outcome:
    """Run ``easy``'s transfer to its end, or to the safety net's ``timeout_s``."""
    task = watchdog.watch(timeout_s)
    try:
        return await curl.start(easy)
    except asyncio.CancelledError:
        if not watchdog.fired(task):
            raise
        return pycurl.E_OPERATION_TIMEDOUT, "safety net"  # libcurl should have ended it first
    finally:  # done, timed out or cancelled: abort the transfer if running, free the handle
        watchdog.forget(task)
        curl.discard(easy)
