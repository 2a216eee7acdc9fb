"""The ``sitemon-run`` console script: SIGTERM/SIGINT are caught from the first instant.

Importing the CLI (aiohttp, dependency-injector, the config loader…) takes ~0.4 s, more on
a busy host. A SIGTERM in that window would kill the process with no shutdown at all, so
this module — which imports nothing heavy — records such a signal first; the runners
apply it as soon as their own handlers are in place (a clean stop, exit 0).
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

RECEIVED: list[int] = []  # signals that arrived before the runners' handlers


def _remember(signum: int, _frame: FrameType | None) -> None:
    RECEIVED.append(signum)


def restore_defaults() -> None:
    """For commands that never install handlers of their own (``status``, ``init``…):
    Ctrl-C and SIGTERM act as usual again, and one that came early acts now."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if RECEIVED:
        signal.raise_signal(RECEIVED.pop(0))


def main() -> int:
    """Install the early handlers, then run the CLI."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _remember)
    from sitemon_cli.main import main as run_cli

    return run_cli()


if __name__ == "__main__":  # python -m sitemon_cli.entry (what --workers children run)
    # This file runs as __main__ here; the runners read RECEIVED of sitemon_cli.entry.
    from sitemon_cli import entry  # noqa: PLW0406  (on purpose, see above)

    sys.exit(entry.main())
