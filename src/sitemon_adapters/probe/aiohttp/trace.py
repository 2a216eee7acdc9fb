"""Per-check phase timings, stamped by the hooks in ``hooks.py`` (and ``tls.py``).

What each number means (milliseconds, summed over every hop of a redirect chain, ``None``
when the phase never happened in this check):

- ``dns``: name resolution (``None`` for IP-literal URLs). A fresh lookup per check by
  default (the prober disables aiohttp's DNS cache unless given a TTL; a cache hit is
  ``None``). With the default threaded resolver this includes any wait for a free
  resolver thread under high concurrency.
- ``connect``: the TCP handshake, from the end of resolution (or the start of the connection
  attempt for IP literals) until the socket is connected; includes failed attempts to other
  addresses of the same name (happy eyeballs).
- ``tls``: the TLS handshake, from the first TLS state being created on the connected socket
  until the handshake completed (see ``tls.py``). ``None`` for plain HTTP, and for HTTPS
  when the prober was given an ``SSLContext`` that is not a ``TimedSSLContext`` — then the
  handshake cannot be told apart from the connect, and ``connect`` is ``None`` too rather
  than a number that silently includes it.
- ``ttfb``: from the request headers being written until the response headers were parsed
  (server processing plus one round trip).
- ``transfer``: from the final response's headers until the body read ended (the end of the
  body, or the read cap).

When a check fails, the phase it failed in reports the time until the failure (a refused
connect has a ``connect``, a timeout waiting for headers has a ``ttfb`` of about the
timeout) and later phases stay ``None``: the ``error_kind`` says the phase did not complete.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable

import aiohttp
from yarl import URL

from sitemon_adapters.probe.http_common.stages import (
    CONNECTING,
    READING,
    RESOLVING,
    TLS_STAGE,
    WAITING,
)
from sitemon_core.models import PhaseTimings

_MS = 1000.0


def _add(total: float | None, seconds: float) -> float:
    return (total or 0.0) + seconds * _MS


class PhaseTrace:
    """The mutable timing state of one check; the prober's ``current_check`` while it runs.

    ``stage`` says what the check is doing; when the check fails, the phase it was in is
    closed at the failure (a refused connect still reports how long refusal took).
    """

    __slots__ = (
        "_conn_start",
        "_dns_start",
        "_headers_at",
        "_now",
        "_sent_at",
        "_tls_start",
        "_untimed",
        "connect",
        "dns",
        "follows_redirects",
        "next_url",
        "redirect_status",
        "redirect_url",
        "stage",
        "tls",
        "tls_object",
        "transfer",
        "ttfb",
    )

    def __init__(self, now: Callable[[], float], *, follows_redirects: bool = True) -> None:
        self._now = now
        # Whether a redirect response is a hop (aiohttp follows it) or the final response.
        self.follows_redirects = follows_redirects
        self._dns_start = self._conn_start = self._sent_at = self._headers_at = 0.0
        self._tls_start: float | None = None
        # A connection time not yet attributed: plain TCP, or TCP+TLS when the handshake
        # start was not observable. Only the request URL's scheme (known when the headers
        # are sent) tells which.
        self._untimed: float | None = None
        self.dns: float | None = None
        self.connect: float | None = None
        self.tls: float | None = None
        self.ttfb: float | None = None
        self.transfer: float | None = None
        self.stage = "starting"
        # The last redirect response read and where it pointed: what the check reports
        # when it ends before a final response (see ``redirected``).
        self.redirect_status: int | None = None
        self.redirect_url: str | None = None
        self.next_url: str | None = None
        self.tls_object: ssl.SSLObject | None = None

    def connection_started(self) -> None:
        """A new connection is being opened (once per hop with fresh connections)."""
        self._conn_start = self._now()
        self._tls_start = None
        self.stage = CONNECTING

    def dns_started(self) -> None:
        """Name resolution begins."""
        self._dns_start = self._now()
        self.stage = RESOLVING

    def dns_ended(self) -> None:
        """Name resolution succeeded; the TCP connect starts now."""
        now = self._conn_start = self._now()
        self.dns = _add(self.dns, now - self._dns_start)
        self.stage = CONNECTING

    def tls_wrapped(self, tls: ssl.SSLObject) -> None:
        """The TLS object of the connection being made (the last one: after redirects,
        the final hop's), read after the check for the certificate and version."""
        self.tls_object = tls

    def tls_started(self) -> None:
        """The TCP connection is up and the TLS handshake begins (called by ``tls.py``)."""
        self._tls_start = self._now()
        self.stage = TLS_STAGE

    def connection_ended(self) -> None:
        """The connection (TCP, and TLS for HTTPS) is established."""
        now = self._now()
        if self._tls_start is not None:
            self.connect = _add(self.connect, self._tls_start - self._conn_start)
            self.tls = _add(self.tls, now - self._tls_start)
        else:
            self._untimed = now - self._conn_start
        self.stage = "sending the request"

    def headers_sent(self, is_tls: bool) -> None:
        """The request headers are being written (on a TLS connection if ``is_tls``)."""
        self._sent_at = self._now()
        if self._untimed is not None and not is_tls:
            self.connect = _add(self.connect, self._untimed)
        self._untimed = None
        self.stage = WAITING

    def response_started(self, final: bool) -> None:
        """Response headers arrived (a redirect hop's, or the final response's)."""
        now = self._now()
        self.ttfb = _add(self.ttfb, now - self._sent_at)
        if final:
            self._headers_at = now
            self.stage = READING
        else:
            self.stage = "following a redirect"

    def redirected(self, response: aiohttp.ClientResponse) -> None:
        """A redirect response arrived: remember its status, its URL and its target."""
        self.response_started(final=False)
        self.redirect_status = response.status
        self.redirect_url = str(response.url)
        location = response.headers.get("Location")
        try:
            self.next_url = str(response.url.join(URL(location))) if location else None
        except ValueError:  # a Location that is no URL: aiohttp fails the check on it
            self.next_url = None

    def body_ended(self) -> None:
        """The body read ended (complete, or stopped at the cap)."""
        self.transfer = _add(None, self._now() - self._headers_at)
        self.stage = "closing"

    def timings(self) -> PhaseTimings:
        """The phase timings; a phase still open (the check failed in it) ends now."""
        stage, now = self.stage, self._now()
        if stage == RESOLVING:
            self.dns = _add(self.dns, now - self._dns_start)
        elif stage == CONNECTING:
            self.connect = _add(self.connect, now - self._conn_start)
        elif stage == TLS_STAGE:
            self.connection_ended()
        elif stage == WAITING:
            self.ttfb = _add(self.ttfb, now - self._sent_at)
        elif stage == READING:
            self.transfer = _add(None, now - self._headers_at)
        return PhaseTimings(
            dns_ms=self.dns,
            connect_ms=self.connect,
            tls_ms=self.tls,
            ttfb_ms=self.ttfb,
            transfer_ms=self.transfer,
        )
