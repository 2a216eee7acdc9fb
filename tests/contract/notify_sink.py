"""Receivers for the notifier contract: a recording aiohttp sink and misbehaving endpoints.

``RecordingSink`` records every request (path, headers, body) and answers what the test
sets (status, body); it can also make a number of attempts fail first. The misbehaving
endpoints are raw asyncio handlers for ``targets.raw_server`` (byte-level control): one
never answers, one answers 100 MB, two drip bytes (the status line, or an error body).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web

from tests.contract import targets

HUGE_BYTES = 100_000_000
DRIP_INTERVAL_S = 0.05
_BLOCK = bytes(64 * 1024)


@dataclass(frozen=True)
class Recorded:
    """One request the sink received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class RecordingSink:
    """What the sink answers, and what it received."""

    url: str = ""
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    echo: bool = False  # answer with the whole request (a careless receiver)
    fail_first: int = 0  # answer 503 to this many requests first
    requests: list[Recorded] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        recorded = Recorded(
            request.method, request.path_qs, dict(request.headers), await request.read()
        )
        self.requests.append(recorded)
        if len(self.requests) <= self.fail_first:
            return web.Response(status=503, text="try later")
        body = self.body
        if self.echo:
            head = [recorded.path, *(f"{k}: {v}" for k, v in recorded.headers.items())]
            body = "\n".join(head).encode() + b"\n\n" + recorded.body
        return web.Response(status=self.status, body=body, headers=self.headers)


@contextlib.asynccontextmanager
async def recording_sink() -> AsyncIterator[RecordingSink]:
    """A ``RecordingSink`` on 127.0.0.1 (free port), answering any path."""
    sink = RecordingSink()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", sink.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    sink.url = f"http://127.0.0.1:{port}"
    try:
        yield sink
    finally:
        await runner.cleanup()


async def _stream_huge(writer: asyncio.StreamWriter, status: bytes) -> None:
    writer.write(b"HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n" % (status, HUGE_BYTES))
    for _ in range(HUGE_BYTES // len(_BLOCK)):
        if writer.is_closing():
            return
        await writer.drain()  # at the pace the client reads
        writer.write(_BLOCK)


async def huge_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """``200 OK`` with a 100 MB body."""
    await targets._read_request_head(reader)
    await _stream_huge(writer, b"200 OK")


async def huge_error(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """``500`` with a 100 MB body (a notifier reads an error body for its message)."""
    await targets._read_request_head(reader)
    await _stream_huge(writer, b"500 Internal Server Error")


async def _drip(writer: asyncio.StreamWriter, data: bytes) -> None:
    for byte in data:
        if writer.is_closing():
            return
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(DRIP_INTERVAL_S)


async def drip_status(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The status line and headers of a 200, one byte every 50 ms, for ever."""
    await targets._read_request_head(reader)
    await _drip(writer, b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"z" * 100_000)


async def drip_error_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A ``503`` at once, then its 100 kB body one byte every 50 ms."""
    await targets._read_request_head(reader)
    writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 100000\r\n\r\n")
    await _drip(writer, b"y" * 100_000)


SLOW_ENDPOINTS = {
    "hang": targets.silent,
    "huge_ok": huge_ok,
    "huge_error": huge_error,
    "drip_status": drip_status,
    "drip_error_body": drip_error_body,
}
