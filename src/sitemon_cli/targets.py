"""A local web app with one route per target behaviour, to probe without the internet.

Serves the contract and e2e tests and the ``demo`` command. Build it from plain code::

    runner, base_url = await start_target_server()   # http://127.0.0.1:<free port>
    ...
    await runner.cleanup()

Routes:
    /ok                    200, a small HTML page containing "sitemon target ok"
    /status/{code}         that status code
    /slow/{seconds}        200 after a delay (headers are late)
    /slow-body/{seconds}   200 headers at once, the body after a delay
    /redirect/{n}          302 chain of n hops ending at /ok
    /loop                  302 to itself forever
    /body/{bytes}          a body of that many bytes
    /gzip/{bytes}          that many zero bytes, gzip-compressed (a small decompression bomb)
    /text?content=..&charset=..   text/plain with that content, in that charset
    /echo                  JSON of the request method, headers and body
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import ssl

from aiohttp import web

OK_BODY = "<html><body><h1>sitemon target ok</h1></body></html>\n"
MAX_DELAY_S = 30.0  # a stray request must not pin a handler forever
MAX_BYTES = 64 * 1024 * 1024


def _number(request: web.Request, name: str, high: float) -> float:
    try:
        value = float(request.match_info[name])
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be a number") from None
    if not 0 <= value <= high:
        raise web.HTTPBadRequest(text=f"{name} must be within 0..{high}")
    return value


async def ok(_request: web.Request) -> web.Response:
    """A healthy page."""
    return web.Response(text=OK_BODY, content_type="text/html")


async def status(request: web.Request) -> web.Response:
    """Answer with the status code from the path."""
    return web.Response(status=int(_number(request, "code", 599)), text="status\n")


async def slow(request: web.Request) -> web.Response:
    """Answer after a delay: a slow server (late headers)."""
    await asyncio.sleep(_number(request, "seconds", MAX_DELAY_S))
    return web.Response(text=OK_BODY, content_type="text/html")


async def slow_body(request: web.Request) -> web.StreamResponse:
    """Send the headers at once and the body after a delay: a stalled transfer."""
    delay = _number(request, "seconds", MAX_DELAY_S)
    response = web.StreamResponse()
    response.content_length = len(OK_BODY)
    await response.prepare(request)
    await asyncio.sleep(delay)
    await response.write(OK_BODY.encode())
    return response


async def redirect(request: web.Request) -> web.Response:
    """A chain of exactly ``n`` redirects ending at /ok (``/redirect/0`` is the ok page)."""
    hops = int(_number(request, "n", 1000))
    if hops == 0:
        return await ok(request)
    raise web.HTTPFound("/ok" if hops == 1 else f"/redirect/{hops - 1}")


async def loop(_request: web.Request) -> web.Response:
    """A redirect to itself."""
    raise web.HTTPFound("/loop")


async def body(request: web.Request) -> web.Response:
    """A body of exactly the requested size."""
    size = int(_number(request, "bytes", MAX_BYTES))
    return web.Response(body=b"x" * size, content_type="application/octet-stream")


@functools.lru_cache(maxsize=8)
def _gzipped_zeros(size: int) -> bytes:
    return gzip.compress(bytes(size), compresslevel=9)


async def gzipped(request: web.Request) -> web.Response:
    """``bytes`` zero bytes, gzip-compressed: tiny on the wire, big once decompressed."""
    payload = _gzipped_zeros(int(_number(request, "bytes", MAX_BYTES)))
    headers = {"Content-Encoding": "gzip"}
    return web.Response(body=payload, headers=headers, content_type="application/octet-stream")


async def text(request: web.Request) -> web.Response:
    """``content`` as text/plain, encoded in ``charset`` (default utf-8)."""
    charset = request.query.get("charset", "utf-8")
    try:
        payload = request.query.get("content", "").encode(charset)
    except (LookupError, UnicodeEncodeError):
        raise web.HTTPBadRequest(text="bad charset or content") from None
    return web.Response(body=payload, content_type="text/plain", charset=charset)


async def echo(request: web.Request) -> web.Response:
    """The request's method, headers and body (as text), as JSON."""
    body = await request.text()
    payload = {"method": request.method, "headers": dict(request.headers), "body": body}
    return web.Response(text=json.dumps(payload), content_type="application/json")


def make_target_app() -> web.Application:
    """The target app; every route answers any method."""
    app = web.Application()
    routes = {
        "/ok": ok,
        "/status/{code}": status,
        "/slow/{seconds}": slow,
        "/slow-body/{seconds}": slow_body,
        "/redirect/{n}": redirect,
        "/loop": loop,
        "/body/{bytes}": body,
        "/gzip/{bytes}": gzipped,
        "/text": text,
        "/echo": echo,
    }
    for path, handler in routes.items():
        app.router.add_route("*", path, handler)
    return app


async def start_target_server(
    host: str = "127.0.0.1", port: int = 0, *, ssl_context: ssl.SSLContext | None = None
) -> tuple[web.AppRunner, str]:
    """Serve ``make_target_app()``; returns the runner (``await runner.cleanup()`` to stop)
    and the base URL. Port 0 picks a free port. Handlers of disconnected clients are
    cancelled and shutdown waits at most a moment, so stopping is quick."""
    runner = web.AppRunner(make_target_app(), handler_cancellation=True, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    if ":" in bound_host:  # IPv6 literal
        bound_host = f"[{bound_host}]"
    scheme = "https" if ssl_context is not None else "http"
    return runner, f"{scheme}://{bound_host}:{bound_port}"
