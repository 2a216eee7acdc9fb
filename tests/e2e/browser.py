"""A real browser for the web tests: Debian's Chromium driven by Playwright, and the web app
served on loopback from its own event-loop thread (Playwright's sync API owns the test's).

Browser downloads cannot be reached, so Playwright drives the system Chromium through
``executable_path``; as root it needs ``--no-sandbox``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from playwright.sync_api import Browser, Playwright, sync_playwright

from sitemon_adapters.store.memory_queries import InMemoryStatusQueries
from sitemon_adapters.web import WebOptions, WebServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
T = TypeVar("T")


def launch_chromium() -> tuple[Playwright, Browser]:
    """Start Playwright and Chromium; raises with the reason when either cannot start."""
    playwright = sync_playwright().start()
    try:
        return playwright, playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000
        )
    except Exception:
        playwright.stop()
        raise


class ServedApp:
    """A ``WebServer`` over an ``InMemoryStatusQueries`` on 127.0.0.1, in a thread."""

    def __init__(
        self, queries: InMemoryStatusQueries, options: WebOptions, incidents: object = None
    ) -> None:
        self.queries = queries
        self.server = WebServer(
            queries,
            options,
            host="127.0.0.1",
            port=0,
            incident_repository=incidents,  # type: ignore[arg-type]
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._task: Future[object] | None = None
        self.base = ""  # http://127.0.0.1:port, once started

    def start(self) -> str:
        """Serve; return the base URL once listening."""
        self._thread.start()
        self._task = asyncio.run_coroutine_threadsafe(self.server.run(), self._loop)
        self.call(self.server.wait_listening(), timeout=30)
        self.base = self.server.url.rstrip("/")
        return self.base

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``coroutine`` on the server's loop (e.g. ``queries.save``) and wait for it."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def stop(self) -> None:
        """Stop serving and end the thread."""
        self._loop.call_soon_threadsafe(self.server.request_stop)
        if self._task is not None:
            self._task.result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()
