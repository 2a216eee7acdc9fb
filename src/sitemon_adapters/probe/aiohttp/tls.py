"""Timing the TLS handshake separately from the TCP connect.

aiohttp opens a connection in one step (TCP connect, then ``loop.create_connection(sock=...,
ssl=...)`` which runs the handshake) and only traces the start and end of the whole step.
The one observable point in between is asyncio creating the TLS state machine: its
``SSLProtocol`` calls ``SSLContext.wrap_bio`` once the socket is already connected and just
before the ClientHello is sent (the stdlib and uvloop both do). A context subclass stamps that
moment into the check that is being made, found through a context variable the prober sets
for the duration of one probe (asyncio copies context variables into the task and its
callbacks, so concurrent checks never see each other's state).
"""

from __future__ import annotations

import functools
import ssl
from contextvars import ContextVar
from typing import Any, Protocol

from sitemon_adapters.probe.http_common.peer import TlsFacts, facts
from sitemon_core.models import HttpSpec, TlsSettings


class HandshakeStamp(Protocol):
    """Whatever records the moment a TLS handshake starts (the per-check phase trace)."""

    def tls_started(self) -> None:
        """Record that the TCP connection is up and the TLS handshake begins now."""
        ...

    def tls_wrapped(self, tls: ssl.SSLObject) -> None:
        """Keep the connection's TLS object: it holds the certificate and version."""
        ...


current_check: ContextVar[HandshakeStamp | None] = ContextVar("sitemon_current_check", default=None)


class TimedSSLContext(ssl.SSLContext):
    """An ``SSLContext`` that tells the running check when its TLS handshake starts."""

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        """Stamp the handshake start, then wrap as usual (and hand the check the result)."""
        stamp = current_check.get()
        if stamp is None:
            return super().wrap_bio(*args, **kwargs)
        stamp.tls_started()
        tls = super().wrap_bio(*args, **kwargs)
        stamp.tls_wrapped(tls)
        return tls


@functools.cache
def system_tls_context() -> TimedSSLContext:
    """The shared verifying context over the system CAs (loading them takes ~50-100 ms,
    so every prober of the process shares one; an SSLContext is safe to share)."""
    return verified_tls_context()


def verified_tls_context(cafile: str | None = None) -> TimedSSLContext:
    """A client context that verifies certificates and host names, like
    ``ssl.create_default_context()``, trusting the system CAs or only ``cafile`` if given."""
    context = TimedSSLContext(ssl.PROTOCOL_TLS_CLIENT)  # check_hostname + CERT_REQUIRED
    if cafile is None:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    else:
        context.load_verify_locations(cafile=cafile)
    return context


@functools.lru_cache(maxsize=256)
def site_tls_context(settings: TlsSettings) -> TimedSSLContext:
    """The context of a site's ``tls`` settings: its CA file instead of the system CAs, its
    client certificate, or no verification at all (``verify: false``).

    Made on a site's first check and shared by every site with equal settings (the files
    are read then: replacing them on disk takes a restart). Raises ``OSError`` or
    ``ssl.SSLError`` when a file cannot be used.
    """
    context = verified_tls_context(settings.ca_file)
    if not settings.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if settings.client_cert is not None:
        context.load_cert_chain(settings.client_cert, settings.client_key)
    return context


def request_tls_options(spec: HttpSpec) -> dict[str, Any]:
    """The request's ``ssl`` and ``server_hostname`` for the site's own TLS settings."""
    tls = spec.tls
    if tls is None:
        return {}
    options: dict[str, Any] = {"ssl": site_tls_context(tls)}
    if tls.server_name is not None:
        options["server_hostname"] = tls.server_name
    return options


def session_facts(tls: ssl.SSLObject | None) -> TlsFacts | None:
    """The certificate and TLS version of the check's last TLS connection (``None``: no
    TLS, or no completed handshake)."""
    version = tls.version() if tls is not None else None
    if tls is None or version is None:  # no handshake completed
        return None
    return facts(tls.getpeercert(binary_form=True), version)
