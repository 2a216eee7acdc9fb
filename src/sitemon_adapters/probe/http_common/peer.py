"""The certificate of a server whose certificate failed verification.

When verification fails, neither engine hands back the certificate it rejected (Python
3.11's ``ssl`` keeps the unverified chain to itself; libcurl collects ``CERTINFO`` only
after a successful handshake). The certificate is still what a user most wants to see
("expired on ..."), so the check shakes hands once more without verifying, within what is
left of its timeout, only to read it. Nothing is sent after the handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
from datetime import datetime
from typing import Any

import attrs

from sitemon_adapters.probe.http_common.certificate import read_certificate

# How both engines' messages start when the handshake failed on the certificate itself.
CERTIFICATE_REJECTED = "certificate verify failed"


@attrs.frozen
class TlsFacts:
    """What a check records of the TLS session: certificate expiry, issuer, version."""

    not_after: datetime | None = None
    issuer: str | None = None
    version: str | None = None


def facts(der: bytes | None, version: str | None) -> TlsFacts:
    """``TlsFacts`` of a leaf certificate's DER bytes and the negotiated version."""
    cert = read_certificate(der)
    return TlsFacts(not_after=cert.not_after, issuer=cert.issuer, version=version)


def tls_fields(tls: TlsFacts | None) -> dict[str, Any]:
    """The ``CheckResult`` keyword arguments for ``tls`` (none for a check without TLS)."""
    if tls is None:
        return {}
    return {"tls_not_after": tls.not_after, "tls_issuer": tls.issuer, "tls_version": tls.version}


@functools.cache
def _unverified_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # reading the certificate, not trusting it
    return context


async def rejected_certificate(
    host: str, port: int, server_name: str | None, timeout_s: float
) -> TlsFacts | None:
    """The leaf certificate and version of ``host:port``, unverified; ``None`` if the
    second handshake fails too or runs out of ``timeout_s``."""
    if timeout_s <= 0:
        return None
    writer = None
    try:
        async with asyncio.timeout(timeout_s):
            _reader, writer = await asyncio.open_connection(
                host, port, ssl=_unverified_context(), server_hostname=server_name or host
            )
            tls = writer.get_extra_info("ssl_object")
            return facts(tls.getpeercert(binary_form=True), tls.version())
    except (OSError, TimeoutError, ssl.SSLError, ValueError):
        return None
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
                async with asyncio.timeout(0.2):
                    await writer.wait_closed()
