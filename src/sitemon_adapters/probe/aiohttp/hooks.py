"""Where the phase timings are stamped: three thin subclasses of aiohttp's own classes.

aiohttp's request tracing (``TraceConfig``) would give the same moments, but once a session
has a trace config every request sends every signal, each building a params object and
awaiting the signal's callbacks: 4.7 % of a check's CPU in a profile, for seven time stamps.
These hooks stamp the same moments with a plain method call on the running check's
``PhaseTrace``, found through the ``current_check`` context variable the prober sets for
each check (as ``TimedSSLContext`` finds it for the TLS handshake start):

- ``TimedConnector``: a new connection starts / is established; name resolution starts /
  ends (not for IP literals, nor for DNS cache hits: aiohttp did not trace those either);
- ``TimedRequest``: the request headers were written;
- ``TimedResponse``: response headers were parsed: a redirect hop's, or the final one's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp
from aiohttp.abc import ResolveResult
from aiohttp.helpers import is_ip_address

from sitemon_adapters.probe.aiohttp.tls import current_check
from sitemon_adapters.probe.aiohttp.trace import PhaseTrace

# The statuses aiohttp follows when redirects are allowed (ClientSession._request).
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def _trace() -> PhaseTrace | None:
    stamp = current_check.get()
    return stamp if isinstance(stamp, PhaseTrace) else None


class TimedConnector(aiohttp.TCPConnector):
    """A ``TCPConnector`` that stamps connection and name-resolution phases."""

    async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> Any:  # noqa: ASYNC109 (aiohttp's signature)
        trace = _trace()
        if trace is None:
            return await super()._create_connection(req, traces, timeout)
        trace.connection_started()
        proto = await super()._create_connection(req, traces, timeout)
        trace.connection_ended()  # a failure leaves the stage at what failed
        return proto

    async def _resolve_host(
        self, host: str, port: int, traces: Sequence[Any] | None = None
    ) -> list[ResolveResult]:
        trace = _trace()
        if trace is None or is_ip_address(host) or self._cache_hit(host, port):
            return await super()._resolve_host(host, port, traces)
        trace.dns_started()
        resolved = await super()._resolve_host(host, port, traces)
        trace.dns_ended()
        return resolved

    def _cache_hit(self, host: str, port: int) -> bool:
        key = (host, port)
        cached = self._cached_hosts
        return self._use_dns_cache and key in cached and not cached.expired(key)


class TimedRequest(aiohttp.ClientRequest):
    """A ``ClientRequest`` that stamps the moment its headers went out."""

    async def send(self, conn: Any) -> aiohttp.ClientResponse:
        """Send as usual; the headers are written by the time this returns."""
        response = await super().send(conn)
        trace = _trace()
        if trace is not None:
            trace.headers_sent(self.url.scheme == "https")
        return response


class TimedResponse(aiohttp.ClientResponse):
    """A ``ClientResponse`` that stamps the end of its headers (redirect hop or final)."""

    async def start(self, connection: Any) -> TimedResponse:
        """Read the status line and headers as usual, then stamp them."""
        await super().start(connection)
        trace = _trace()
        if trace is not None:
            if trace.follows_redirects and self._is_followed_redirect():
                trace.redirected(self)
            else:
                trace.response_started(final=True)
        return self

    def _is_followed_redirect(self) -> bool:
        # aiohttp returns a redirect without a target as the final response.
        headers = self.headers
        target = headers.get("Location") or headers.get("URI")
        return self.status in REDIRECT_STATUSES and bool(target)
