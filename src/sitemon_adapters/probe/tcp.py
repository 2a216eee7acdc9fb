"""The TCP ``SiteProber``: connect to ``host:port`` (``tcp://``), and for ``tls://`` shake
hands and record the certificate like an HTTPS check. Phases: ``dns`` (the name resolved
on every check), ``connect`` and ``tls``; nothing is sent after the connection is up."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import time
from collections.abc import Coroutine
from typing import Any

from sitemon_adapters.probe.aiohttp.tls import site_tls_context, system_tls_context
from sitemon_adapters.probe.http_common.peer import (
    CERTIFICATE_REJECTED,
    TlsFacts,
    facts,
    rejected_certificate,
    tls_fields,
)
from sitemon_adapters.probe.http_common.stages import CONNECTING, RESOLVING, TLS_STAGE, timed_out
from sitemon_adapters.probe.tags import result_tags
from sitemon_core.models import CheckResult, ErrorKind, PhaseTimings, Site, TcpSpec, new_check_id
from sitemon_core.ports import Clock

_MS = 1000.0


class _Attempt:
    """What one TCP check has measured so far."""

    __slots__ = ("connect_ms", "dns_ms", "stage", "tls", "tls_ms")

    def __init__(self) -> None:
        self.stage = RESOLVING
        self.dns_ms: float | None = None
        self.connect_ms: float | None = None
        self.tls_ms: float | None = None
        self.tls: TlsFacts | None = None


class TcpSiteProber:
    """Checks ``tcp`` sites; implements ``sitemon_core.ports.SiteProber``.

    ``ssl_context`` verifies ``tls://`` sites (default: the system CAs). Holds no
    connection between checks, so ``async with`` is only for symmetry with the others.
    """

    def __init__(
        self, region: str, clock: Clock, *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        """Make a prober stamping results with ``region`` and ``clock``."""
        self._region = region
        self._clock = clock
        self._ssl_context = ssl_context

    async def __aenter__(self) -> TcpSiteProber:
        """Nothing to open."""
        return self

    async def __aexit__(self, *_exc: object) -> None:
        """Nothing to close."""

    def probe(self, site: Site) -> Coroutine[Any, Any, CheckResult]:
        """Check ``site`` (a TCP one) once; failures come back classified, never raised."""
        spec = site.spec
        if not isinstance(spec, TcpSpec):
            raise TypeError(f"site {site.id!r} is a {site.kind} check, not a TCP one")
        return self._check(site, spec)

    async def _check(self, site: Site, spec: TcpSpec) -> CheckResult:
        attempt = _Attempt()
        started_at = self._clock.utcnow()
        start = self._clock.monotonic()
        deadline = time.monotonic() + site.timeout_s
        try:
            async with asyncio.timeout(site.timeout_s):
                await self._connect(spec, attempt)
            kind, message = ErrorKind.NONE, ""
        except TimeoutError:
            kind, message = ErrorKind.TIMEOUT, timed_out(site.timeout_s, attempt.stage)
        except (OSError, ssl.SSLError) as exc:
            kind, message = _classify(exc, attempt.stage)
        if kind is ErrorKind.TLS and message.startswith(CERTIFICATE_REJECTED):
            left = deadline - time.monotonic()
            name = spec.tls_settings.server_name if spec.tls_settings is not None else None
            attempt.tls = await rejected_certificate(spec.host, spec.port, name, left)
        total_ms = (self._clock.monotonic() - start) * _MS
        return CheckResult(
            check_id=new_check_id(),
            site_id=site.id,
            url=spec.target,
            region=self._region,
            started_at=started_at,
            ok=kind is ErrorKind.NONE,
            total_ms=total_ms,
            timings=PhaseTimings(
                dns_ms=attempt.dns_ms, connect_ms=attempt.connect_ms, tls_ms=attempt.tls_ms
            ),
            error_kind=kind,
            error_message=message,
            tags=result_tags(site.tags),
            **tls_fields(attempt.tls),
        )

    async def _connect(self, spec: TcpSpec, attempt: _Attempt) -> None:
        loop = asyncio.get_running_loop()
        begin = time.monotonic()
        addresses = await loop.getaddrinfo(spec.host, spec.port, type=socket.SOCK_STREAM)
        if not _is_literal(spec.host):
            attempt.dns_ms = (time.monotonic() - begin) * _MS
        attempt.stage = CONNECTING
        begin = time.monotonic()
        family, type_, proto, _, address = addresses[0]
        sock = socket.socket(family, type_, proto)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, address)
            attempt.connect_ms = (time.monotonic() - begin) * _MS
            if spec.tls:
                attempt.stage = TLS_STAGE
                begin = time.monotonic()
                attempt.tls = await self._handshake(spec, sock)
                attempt.tls_ms = (time.monotonic() - begin) * _MS
        finally:
            sock.close()

    async def _handshake(self, spec: TcpSpec, sock: socket.socket) -> TlsFacts:
        settings = spec.tls_settings
        if settings is None:
            context: ssl.SSLContext = self._ssl_context or system_tls_context()
            name = spec.host
        else:
            context = site_tls_context(settings)
            name = settings.server_name or spec.host
        _reader, writer = await asyncio.open_connection(
            sock=sock, ssl=context, server_hostname=name
        )
        try:
            tls = writer.get_extra_info("ssl_object")
            return facts(tls.getpeercert(binary_form=True), tls.version())
        finally:
            writer.transport.abort()  # the check is done: no TLS close_notify dance
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def _is_literal(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True


def _os_reason(exc: BaseException) -> str:
    """'connection refused' rather than "[Errno 111] Connect call failed (...)"."""
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno).lower()
    return str(exc).lower()


def _classify(exc: BaseException, stage: str) -> tuple[ErrorKind, str]:
    """A failed connect or handshake, as the HTTP probers word it."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ErrorKind.TLS, f"{CERTIFICATE_REJECTED}: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        reason = (exc.reason or str(exc)).lower().replace("_", " ")
        return ErrorKind.TLS, f"TLS error: {reason}"
    if isinstance(exc, socket.gaierror):
        return ErrorKind.DNS, f"name not resolved: {(exc.strerror or str(exc)).lower()}"
    reason = _os_reason(exc)
    if stage == TLS_STAGE:  # TCP was up: a reset or close mid-handshake is a TLS failure
        return ErrorKind.TLS, f"TLS handshake failed: {reason or type(exc).__name__}"
    return ErrorKind.CONNECT, reason or type(exc).__name__
