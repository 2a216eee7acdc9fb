"""SIGTERM/SIGINT that arrive before the runners' own handlers are in place.

Importing the CLI (aiohttp, dependency-injector, the config loader…) takes ~0.4 s, more on
a busy host. A SIGTERM in that window would kill the process with no shutdown at all, so
the console script records such a signal first (``install``); the runners apply it as soon
as their own handlers are in place (a clean stop, exit 0). A leaf module: it imports nothing
of sitemon, so everything may import it.
"""

from __future__ import annotations

import signal
from types import FrameType

RECEIVED: list[int] = []  # signals that arrived before the runners' handlers


def _remember(signum: int, _frame: FrameType | None) -> None:
    RECEIVED.append(signum)


def install() -> None:
    """Record SIGTERM/SIGINT from now on instead of dying of them."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _remember)


def take() -> int | None:
    """The first signal recorded so far (forgetting the rest), or None."""
    first = RECEIVED[0] if RECEIVED else None
    RECEIVED.clear()
    return first


def restore_defaults() -> None:
    """For commands that never install handlers of their own (``status``, ``init``…):
    Ctrl-C and SIGTERM act as usual again, and one that came early acts now."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    early = take()
    if early is not None:
        signal.raise_signal(early)
