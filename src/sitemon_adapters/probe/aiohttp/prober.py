"""The aiohttp ``SiteProber``: one HTTP(S) check of one site, timed phase by phase.

A fresh TCP (and TLS) connection per check by default: a pooled connection would report
the connect and TLS cost of some earlier check (or none at all), so timings would lie and a
dead listener could hide behind a live keep-alive connection.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Self

import aiohttp
from yarl import URL

from sitemon_adapters.probe.aiohttp.errors import classify
from sitemon_adapters.probe.aiohttp.exchange import Exchange
from sitemon_adapters.probe.aiohttp.hooks import TimedConnector, TimedRequest, TimedResponse
from sitemon_adapters.probe.aiohttp.tls import (
    current_check,
    request_tls_options,
    session_facts,
    system_tls_context,
)
from sitemon_adapters.probe.aiohttp.trace import PhaseTrace
from sitemon_adapters.probe.http_common.body_regex import RegexTimeoutError, search_body
from sitemon_adapters.probe.http_common.conditions import (
    conclude,
    failed_header,
    failed_json,
)
from sitemon_adapters.probe.http_common.peer import (
    CERTIFICATE_REJECTED,
    TlsFacts,
    rejected_certificate,
    tls_fields,
)
from sitemon_adapters.probe.http_common.stages import MAX_HEADER_LINE_BYTES, SEARCHING, timed_out
from sitemon_adapters.probe.http_common.watchdog import Watchdog
from sitemon_adapters.probe.tags import result_tags
from sitemon_core.models import (
    CheckResult,
    ErrorKind,
    HttpSite,
    HttpSpec,
    Site,
    as_http,
    new_check_id,
)
from sitemon_core.ports import Clock

# The outer safety net fires this long (plus up to the watchdog's period) after the site's
# own timeout, in case a phase escaped aiohttp's timer (e.g. a slow thread-pool DNS
# lookup); it should never trigger.
TIMEOUT_GRACE_S = 0.5
READ_CHUNK = 64 * 1024


@functools.lru_cache(maxsize=64)
def _client_timeout(total_s: float) -> aiohttp.ClientTimeout:
    # ceil_threshold=inf: aiohttp would otherwise round timeouts above 5 s up to a whole
    # second of loop time, making "timed out after 10.0s" take up to 11 s.
    return aiohttp.ClientTimeout(total=total_s, ceil_threshold=float("inf"))


class AiohttpSiteProber:
    """Checks sites over HTTP(S) with aiohttp; implements ``sitemon_core.ports.SiteProber``.

    Use as an async context manager: it owns one ``aiohttp.ClientSession``, created in
    ``__aenter__`` (inside the running loop) and closed in ``__aexit__``.
    """

    def __init__(
        self,
        region: str,
        clock: Clock,
        *,
        user_agent: str = "sitemon/0.1",
        fresh_connections: bool = True,
        ssl_context: ssl.SSLContext | None = None,
        dns_cache_ttl_s: int | None = None,
    ) -> None:
        """Make a prober; the HTTP session opens in ``async with``.

        ``ssl_context`` defaults to a verifying ``TimedSSLContext`` over the system CAs;
        a plain ``SSLContext`` also works but then HTTPS checks report no connect/TLS split.
        ``dns_cache_ttl_s``: ``None`` (default) resolves the name on every check, so
        ``dns_ms`` is real and DNS failures and changes show at once; a TTL caches
        addresses, saving the resolver's CPU (a few hundred µs per check with the threaded
        resolver), and cache hits then report ``dns_ms=None``.
        Concurrency is not bounded here: the scanner bounds it.
        """
        self._region = region
        self._clock = clock
        self._user_agent = user_agent
        self._fresh = fresh_connections
        self._ssl_context = ssl_context
        self._dns_ttl = dns_cache_ttl_s
        self._session: aiohttp.ClientSession | None = None
        self._watchdog = Watchdog()

    async def __aenter__(self) -> Self:
        """Open the HTTP session."""
        connector = TimedConnector(
            force_close=self._fresh,
            limit=0,
            use_dns_cache=self._dns_ttl is not None,
            ttl_dns_cache=self._dns_ttl,
            ssl=self._ssl_context or system_tls_context(),
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            # Phase timings are stamped by these subclasses (see hooks.py), not by
            # aiohttp's tracing, which costs a params object and an await per signal.
            request_class=TimedRequest,
            response_class=TimedResponse,
            headers={"User-Agent": self._user_agent},
            # Cookies set by one site must not travel with later checks.
            cookie_jar=aiohttp.DummyCookieJar(),
            # The pure-Python parser (AIOHTTP_NO_EXTENSIONS) checks a header line that
            # spans two reads against max_line_size, so both limits move together.
            max_line_size=MAX_HEADER_LINE_BYTES,
            max_field_size=MAX_HEADER_LINE_BYTES,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the HTTP session and its connections."""
        session, self._session = self._session, None
        self._watchdog.close()
        if session is not None:
            await session.close()

    def probe(self, site: Site) -> Coroutine[Any, Any, CheckResult]:
        """Check ``site`` (an HTTP one) once; target failures come back classified, never
        raised. Returns the check's own coroutine (no wrapper frame per check)."""
        return self._check(as_http(site))

    async def _check(self, site: HttpSite) -> CheckResult:
        session = self._session
        if session is None:
            raise RuntimeError("AiohttpSiteProber used outside 'async with'")
        trace = PhaseTrace(self._clock.monotonic, follows_redirects=site.spec.follow_redirects)
        exchange = Exchange()
        exchange.deadline = time.monotonic() + site.timeout_s
        started_at = self._clock.utcnow()
        start = self._clock.monotonic()
        kind, message = await self._attempt(session, site, trace, exchange)
        exchange.tls = session_facts(trace.tls_object)
        if exchange.tls is None and message.startswith(CERTIFICATE_REJECTED):
            exchange.tls = await _rejected(site, trace, exchange)
        # Phases still open end now, *before* the total is taken: the other order let a
        # pause between the two clock reads (GC, a busy host) make the phases add up to
        # more than the whole check.
        timings = trace.timings()
        total_ms = (self._clock.monotonic() - start) * 1000.0
        status, matched = exchange.status, exchange.regex_matched
        ok, failed, message = conclude(site.spec, status, matched, (kind, message), exchange.failed)
        return CheckResult(
            check_id=new_check_id(),
            site_id=site.id,
            url=site.spec.url,
            region=self._region,
            started_at=started_at,
            ok=ok,
            failed_condition=failed,
            total_ms=total_ms,
            status_code=exchange.status,
            timings=timings,
            regex_matched=exchange.regex_matched,
            bytes_read=exchange.bytes_read,
            final_url=exchange.final_url,
            error_kind=kind,
            error_message=message,
            tags=result_tags(site.tags),
            body_truncated=exchange.truncated,
            **tls_fields(exchange.tls),
        )

    async def _attempt(
        self, session: aiohttp.ClientSession, site: HttpSite, trace: PhaseTrace, out: Exchange
    ) -> tuple[ErrorKind, str]:
        """Run the exchange within the site's timeout; how it failed, classified."""
        token = current_check.set(trace)
        watchdog = self._watchdog
        task = watchdog.watch(site.timeout_s + TIMEOUT_GRACE_S)
        try:
            await self._exchange(session, site, trace, out)
        except RegexTimeoutError:
            return ErrorKind.TIMEOUT, timed_out(site.timeout_s, SEARCHING)
        except asyncio.CancelledError:
            if not watchdog.fired(task):
                raise
            return _failed(TimeoutError(), site, trace, out)  # the safety net fired
        except Exception as exc:  # any target failure; CancelledError is not an Exception
            return _failed(exc, site, trace, out)
        finally:
            watchdog.forget(task)
            current_check.reset(token)
        if out.too_large:
            return ErrorKind.BODY_TOO_LARGE, f"body over {site.spec.max_body_bytes} bytes"
        return ErrorKind.NONE, ""

    async def _exchange(
        self, session: aiohttp.ClientSession, site: HttpSite, trace: PhaseTrace, out: Exchange
    ) -> None:
        spec = site.spec
        headers = spec.headers
        if spec.user_agent is not None:
            headers = (*headers, ("User-Agent", spec.user_agent))
        # aiohttp raises TooManyRedirects once the redirect count *reaches* max_redirects,
        # so "follow at most N" is N + 1 (and 0 would mean unlimited to aiohttp).
        async with session.request(
            spec.method,
            spec.url,
            headers=headers or None,
            data=None if spec.body is None else spec.body.encode(),
            **request_tls_options(spec),
            allow_redirects=site.spec.follow_redirects,
            max_redirects=site.spec.max_redirects + 1,
            timeout=_client_timeout(site.timeout_s),
        ) as response:
            out.status = response.status
            out.final_url = str(response.url)
            body = await self._read_body(response, site, out)
            trace.body_ended()
            if spec.headers_expected:
                received = response.headers
                out.failed = failed_header(spec, lambda name: received.getall(name, []))
            if out.too_large or out.truncated:
                response.close()  # don't drain the rest
        if site.spec.regex is not None:
            text = _decode(body, response.charset)
            trace.stage = SEARCHING
            out.regex_matched = await search_body(site.spec.regex, text, out.deadline)
        if out.failed is None and spec.json_conditions:
            out.failed = failed_json(spec, body, response.charset, out.truncated)

    async def _read_body(
        self, response: aiohttp.ClientResponse, site: HttpSite, out: Exchange
    ) -> bytes:
        """Read at most ``max_body_bytes + 1`` (decompressed) bytes, so a huge or
        decompression-bomb body costs no more than the cap. Keeps the bytes only when a
        regex needs them; past the cap, keeps and counts the first ``max_body_bytes``."""
        cap = site.spec.max_body_bytes
        limit = cap + 1
        keep: list[bytes] | None = [] if _needs_body(site.spec) else None
        content = response.content
        while out.bytes_read < limit and not content.at_eof():
            chunk = await content.read(min(READ_CHUNK, limit - out.bytes_read))
            if not chunk:
                break
            out.bytes_read += len(chunk)
            if keep is not None:
                keep.append(chunk)
        if out.bytes_read < limit:
            return b"".join(keep) if keep else b""
        out.too_large = site.spec.fail_on_large_body
        if out.too_large:
            return b""
        out.truncated = True
        out.bytes_read = cap  # what the check was judged on
        return b"".join(keep)[:cap] if keep else b""


def _failed(
    exc: Exception, site: HttpSite, trace: PhaseTrace, out: Exchange
) -> tuple[ErrorKind, str]:
    """How the exchange failed, classified (after a redirect: the exchange it got to)."""
    if out.status is None and trace.redirect_status is not None:
        _after_redirect(exc, trace, out)
    return classify(exc, site, trace.stage)


def _needs_body(spec: HttpSpec) -> bool:
    return spec.regex is not None or bool(spec.json_conditions)


def _after_redirect(exc: Exception, trace: PhaseTrace, out: Exchange) -> None:
    """A check that ended after a redirect (a loop, a bad Location, a dead next hop)
    reports what libcurl reports, so both engines record the same exchange: the status of
    the last response read, and the URL the check was at: the redirect's own when no more
    redirects were allowed, else the one it was going to (when it was a URL)."""
    out.status = trace.redirect_status
    if isinstance(exc, aiohttp.TooManyRedirects) or trace.next_url is None:
        out.final_url = trace.redirect_url
    else:
        out.final_url = trace.next_url


async def _rejected(site: HttpSite, trace: PhaseTrace, out: Exchange) -> TlsFacts | None:
    """The certificate a failed handshake rejected, read within the check's time left."""
    url = URL(trace.next_url or site.spec.url)
    if url.scheme != "https" or url.host is None:
        return None
    left = out.deadline - time.monotonic()
    name = site.spec.tls.server_name if site.spec.tls is not None else None
    return await rejected_certificate(url.host, url.port or 443, name, left)


def _decode(body: bytes, charset: str | None) -> str:
    """The body as text for the regex: the declared charset, else UTF-8; never fails."""
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:  # an unknown charset name in Content-Type
        return body.decode("utf-8", errors="replace")
