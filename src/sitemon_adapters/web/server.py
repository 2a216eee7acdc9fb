"""``WebServer``: the web application as a ``Service`` (listen, serve until asked to stop)."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from sitemon_adapters.web.app import STATS, WebStats, create_app
from sitemon_adapters.web.options import WebOptions
from sitemon_core.alerting.ports import IncidentRepository
from sitemon_core.errors import ConfigError
from sitemon_core.queries import StatusQueries

log = logging.getLogger("sitemon.web")


class WebServer:
    """Serves the status page and API on ``host:port`` until ``request_stop``.

    A port that cannot be bound is a ``ConfigError`` naming ``key_path`` in ``source``.
    """

    def __init__(
        self,
        queries: StatusQueries,
        options: WebOptions | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        source: str = "config",
        key_path: str = "web.listen",
        incident_repository: IncidentRepository | None = None,
    ) -> None:
        self.app = create_app(queries, options, incident_repository=incident_repository)
        self.host = host
        self.port = port
        self._where = (source, key_path)
        self._stop = asyncio.Event()
        self._bound = asyncio.Event()

    @property
    def stats(self) -> WebStats:
        """Requests answered, 4xx and 5xx among them."""
        return self.app[STATS]

    @property
    def url(self) -> str:
        """Where the page is served (the real port once listening, even if 0 was asked)."""
        return f"http://{self.host}:{self.port}/"

    async def wait_listening(self) -> None:
        """Return once the socket is bound."""
        await self._bound.wait()

    def request_stop(self) -> None:
        """Stop listening and return from ``run``."""
        self._stop.set()

    async def run(self) -> WebStats:
        """Listen, serve until ``request_stop``, then close every connection."""
        runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=2.0
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            try:
                await site.start()
            except OSError as exc:
                raise ConfigError(
                    *self._where, f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
                ) from exc
            self.port = _bound_port(runner, self.port)
            self._bound.set()
            log.info("web listening", extra={"url": self.url})
            await self._stop.wait()
        finally:
            await runner.cleanup()
        return self.stats


def _bound_port(runner: web.AppRunner, fallback: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return fallback
