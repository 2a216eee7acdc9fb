"""An experiment, not a sitemon feature: TLS session resumption for the aiohttp prober.

A context that offers the server the last session it got from the same host, so the next
handshake is an abbreviated one (no certificate sent, no signature verified). Used only to
show what a session cache would save; BENCHMARKS.md explains why checks don't resume.
"""

from __future__ import annotations

import ssl
from typing import Any

from sitemon_adapters.probe.aiohttp.tls import TimedSSLContext


class ResumingTLSContext(TimedSSLContext):
    """Remembers the newest resumable session per server name and offers it."""

    def wrap_bio(
        self,
        incoming: Any,
        outgoing: Any,
        server_side: bool = False,
        server_hostname: str | None = None,
        session: Any = None,
    ) -> ssl.SSLObject:
        """Wrap, offering a remembered session for ``server_hostname``."""
        state: dict[str, Any] = self.__dict__.setdefault("_sessions", {})
        last: dict[str, ssl.SSLObject] = self.__dict__.setdefault("_last", {})
        key = server_hostname or ""
        previous = last.get(key)
        if previous is not None:
            try:  # TLS 1.3 tickets arrive after the handshake; before, there is no session
                fresh = previous.session
            except ValueError:  # "i2d() failed": the handshake is still running
                fresh = None
            if fresh is not None and fresh.has_ticket:
                state[key] = fresh
        if session is None:
            session = state.get(key)
        wrapped = super().wrap_bio(incoming, outgoing, server_side, server_hostname, session)
        last[key] = wrapped
        return wrapped


def resuming_context(cafile: str) -> ResumingTLSContext:
    """A verifying context trusting ``cafile`` that resumes sessions."""
    context = ResumingTLSContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=cafile)
    return context
