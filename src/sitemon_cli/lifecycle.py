"""Signals and provider resolution shared by the runners."""

from __future__ import annotations

import asyncio
import inspect
import logging
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sitemon_cli import early_signals

log = logging.getLogger("sitemon.process")


async def resolve(provider: Callable[[], Any]) -> Any:
    """Call a provider; await it when it depends on an async resource."""
    value = provider()
    return await value if inspect.isawaitable(value) else value


async def shutdown_resources(container: Any) -> None:
    """Close every resource the container opened (awaiting when any of them is async)."""
    closing = container.shutdown_resources()
    if inspect.isawaitable(closing):
        await closing


@contextmanager
def signal_handlers(
    on_stop: Callable[[], None], on_reload: Callable[[], None] | None = None
) -> Iterator[None]:
    """SIGTERM/SIGINT call ``on_stop`` (graceful shutdown), SIGHUP calls ``on_reload``."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []

    def stop(sig: signal.Signals) -> None:
        log.info("shutting down", extra={"signal": sig.name})
        on_stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop, sig)
        installed.append(sig)
    if on_reload is not None:
        loop.add_signal_handler(signal.SIGHUP, on_reload)
        installed.append(signal.SIGHUP)
    early = early_signals.take()
    if early is not None:  # a signal while the program was still loading: apply it now
        stop(signal.Signals(early))
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


class Shutdown:
    """The targets of the signal handlers, installed before the process starts connecting.

    A SIGTERM that arrives while Kafka and the database are being set up is remembered and
    applied as soon as the use case is attached (it then stops at once, exit 0) instead of
    killing the process; signals during the final flush/close only repeat the stop request.
    """

    def __init__(self) -> None:
        self.requested = False
        self._on_stop: Callable[[], None] | None = None
        self._on_reload: Callable[[], None] | None = None

    def stop(self) -> None:
        """The SIGTERM/SIGINT handler."""
        self.requested = True
        if self._on_stop is not None:
            self._on_stop()

    def reload(self) -> None:
        """The SIGHUP handler."""
        if self._on_reload is None:
            attached = self._on_stop is not None  # running, but its shape has no site list
            log.info("reload ignored: " + ("no site list" if attached else "not running yet"))
            return
        self._on_reload()

    def attach(
        self, on_stop: Callable[[], None], on_reload: Callable[[], None] | None = None
    ) -> None:
        """Route the signals to the running use case (and stop it now if asked already)."""
        self._on_stop, self._on_reload = on_stop, on_reload
        if self.requested:
            on_stop()
