"""``--workers N``: run N processes of one command.

Scanners (``producer``, ``standalone``): each worker is a plain ``sitemon-run <command>
--shard k/N`` child: no coordinator, the stable hash of the site id decides who checks
what. Persisters (``consumer``): N identical members of one Kafka consumer group, which
shares the topic's partitions among them. SIGTERM/SIGINT/SIGHUP are passed on;
the parent exits with the first non-zero exit code of its children (0 when all are 0).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Sequence
from types import FrameType

from sitemon_cli import early_signals


def worker_argv(
    command: str, options: Sequence[str], shard: int, workers: int, *, sharded: bool = True
) -> list[str]:
    """The command line of worker ``shard`` of ``workers`` (``--shard`` when ``sharded``).

    ``--worker-index`` moves the worker's ``/metrics`` port up by its index, so N workers
    on one host serve N endpoints (port, port + 1, ...) instead of fighting over one.
    """
    argv = [
        sys.executable,
        "-m",
        "sitemon_cli.entry",
        command,
        *options,
        "--worker-index",
        str(shard),
    ]
    return [*argv, "--shard", f"{shard}/{workers}"] if sharded else argv


def run_workers(
    command: str,
    options: Sequence[str],
    workers: int,
    global_options: Sequence[str] = (),
    *,
    sharded: bool = True,
) -> int:
    """Run ``workers`` children of ``command`` until they all exit."""
    children = [
        subprocess.Popen([*argv[:3], *global_options, *argv[3:]])
        for argv in (
            worker_argv(command, options, k, workers, sharded=sharded) for k in range(workers)
        )
    ]

    def forward(signum: int, _frame: FrameType | None) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    early = early_signals.take()
    if early is not None:  # came while loading: the children stop as soon as they can
        forward(early, None)
    codes = [child.wait() for child in children]
    return next((code for code in codes if code != 0), 0)
