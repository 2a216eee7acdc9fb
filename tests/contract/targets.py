"""Misbehaving targets for the prober contract: raw TCP servers and a self-signed TLS cert.

The well-behaved HTTP routes live in ``sitemon_cli.targets`` (the ``demo`` command serves
them too); what needs byte-level control (garbage, resets, stalls) is here.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import ssl
import struct
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request_head(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        await reader.readuntil(b"\r\n\r\n")


async def _wait_for_client_close(reader: asyncio.StreamReader) -> None:
    while await reader.read(65536):
        pass


async def silent(reader: asyncio.StreamReader, _w: asyncio.StreamWriter) -> None:
    """Accept, read the request, never answer."""
    await _wait_for_client_close(reader)


async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer with bytes that are not HTTP, then close."""
    await _read_request_head(reader)
    writer.write(b"\x00\x01\x02 this is not HTTP at all \xff\xfe\r\n\r\n")
    await writer.drain()


async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the request, then reset the connection (RST, via SO_LINGER 0)."""
    await _read_request_head(reader)
    sock: socket.socket = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def reset_on_accept(_r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reset the connection as soon as it is accepted."""
    sock: socket.socket = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def close_early(reader: asyncio.StreamReader, _w: asyncio.StreamWriter) -> None:
    """Read the request and close cleanly without answering."""
    await _read_request_head(reader)


def _answer(raw: bytes, *, stall: bool = False) -> Behaviour:
    async def behaviour(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request_head(reader)
        writer.write(raw)
        await writer.drain()
        if stall:
            await _wait_for_client_close(reader)

    behaviour.__name__ = f"answer_{raw[:20]!r}"
    return behaviour


truncated_body = _answer(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
bad_header = _answer(b"HTTP/1.1 200 OK\r\nThis is no header\r\n\r\n")
bad_status_line = _answer(b"HTTP/1.1 two hundred OK\r\n\r\n")
bad_chunked = _answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n")
headers_then_stall = _answer(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", stall=True)
half_status_then_stall = _answer(b"HTTP/1.1 2", stall=True)

MISBEHAVIOURS: dict[str, Behaviour] = {
    "silent": silent,
    "garbage": garbage,
    "reset": reset,
    "reset_on_accept": reset_on_accept,
    "close_early": close_early,
    "truncated_body": truncated_body,
    "bad_header": bad_header,
    "bad_status_line": bad_status_line,
    "bad_chunked": bad_chunked,
    "headers_then_stall": headers_then_stall,
    "half_status_then_stall": half_status_then_stall,
}


@contextlib.asynccontextmanager
async def raw_server(
    behaviour: Behaviour, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[str]:
    """Serve ``behaviour`` on 127.0.0.1 (a free port), over TLS with ``ssl_context``;
    yields ``http://127.0.0.1:<port>``.

    On exit every connection is closed and every handler finished, so no task or transport
    outlives the test (warnings are errors in this suite).
    """
    handlers: set[asyncio.Task[Any]] = set()
    writers: set[asyncio.StreamWriter] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        writers.add(writer)
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await behaviour(reader, writer)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ssl_context)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        # Closing a connection ends its handler (its reads see EOF); cancelling handlers
        # instead would make asyncio's stream server log the CancelledError.
        for writer in writers:
            writer.close()
        if handlers:
            await asyncio.wait(handlers, timeout=5)
        await server.wait_closed()


def closed_port() -> int:
    """A loopback port nothing listens on: bound to get a free number, then closed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def make_self_signed_cert(directory: Path) -> tuple[Path, Path] | None:
    """A self-signed ECDSA P-256 certificate valid for ``DNS:localhost`` only (not for the
    IP 127.0.0.1, so the same server also serves a name-mismatch case).

    Returns (cert, key), or None when the ``openssl`` CLI is missing.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server-side context presenting ``cert``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context
