"""Signals and resource resolution shared by the runners."""

from __future__ import annotations

import asyncio
import inspect
import logging
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger("sitemon.process")


async def resolve(provider: Callable[[], Any]) -> Any:
    """Call a provider; await it when it depends on an async resource."""
    value = provider()
    return await value if inspect.isawaitable(value) else value


@contextmanager
def signal_handlers(on_stop: Callable[[], None], on_reload: Callable[[], None] | None = None
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
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
