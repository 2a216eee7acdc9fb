"""``--workers N``: run N scanner processes on disjoint shards of one site list.

Each worker is a plain ``sitemon-run <command> --shard k/N`` child: no coordinator, the
stable hash of the site id decides who checks what. SIGTERM/SIGINT/SIGHUP are passed on;
the parent exits with the first non-zero exit code of its children (0 when all are 0).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Sequence
from types import FrameType


def worker_argv(command: str, options: Sequence[str], shard: int, workers: int) -> list[str]:
    """The command line of worker ``shard`` of ``workers``."""
    return [sys.executable, "-m", "sitemon_cli.main", command, *options,
            "--shard", f"{shard}/{workers}"]


def run_workers(command: str, options: Sequence[str], workers: int,
                global_options: Sequence[str] = ()) -> int:
    """Run ``workers`` children of ``command`` until they all exit."""
    children = [
        subprocess.Popen([*argv[:3], *global_options, *argv[3:]])
        for argv in (worker_argv(command, options, k, workers) for k in range(workers))
    ]

    def forward(signum: int, _frame: FrameType | None) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    codes = [child.wait() for child in children]
    return next((code for code in codes if code != 0), 0)
