"""A SIGTERM while ``sitemon-run`` is still loading is a graceful stop (exit 0), not a kill."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from tests.e2e.procs import write_config

SIGTERM_BIT = 1 << (signal.SIGTERM - 1)


def standalone_config(tmp_path: Path, target_base: str) -> Path:
    return write_config(
        tmp_path / "e.yaml",
        {
            "sites": [{"id": "e", "url": f"{target_base}/ok", "interval": "1s"}],
            "repository": {"kind": "sqlite", "sqlite": {"path": str(tmp_path / "e.db")}},
        },
    )


async def finish(proc: asyncio.subprocess.Process) -> tuple[bytes, bytes]:
    """Its output once it exits; killed (and the test failed) if that takes over 60 s."""
    try:
        return await asyncio.wait_for(proc.communicate(), 60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError("still running 60 s after SIGTERM") from None


def catches_sigterm(pid: int) -> bool:
    """Whether ``pid`` has a handler for SIGTERM (the SigCgt mask in /proc)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) & SIGTERM_BIT)
    return False


async def test_sigterm_recorded_while_loading_stops_cleanly(
    tmp_path: Path,
    target_base: str,
) -> None:
    # As if the signal had arrived between the first line of the console script and the
    # runner's own handlers: the runner must apply it as soon as it can.
    script = (
        "import signal, sys; from sitemon_cli import early_signals, entry; "
        "early_signals.install(); early_signals.RECEIVED.append(signal.SIGTERM); "
        "sys.exit(entry.main())"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        "--log-format",
        "json",
        "standalone",
        "-c",
        str(standalone_config(tmp_path, target_base)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await finish(proc)
    logs = (out + err).decode()
    assert proc.returncode == 0, logs
    assert '"msg": "shutting down", "signal": "SIGTERM"' in logs
    assert '"msg": "scanner stopped"' in logs


async def test_sigterm_as_soon_as_it_is_caught_never_kills(
    tmp_path: Path,
    target_base: str,
) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sitemon_cli.entry",
        "standalone",
        "-c",
        str(standalone_config(tmp_path, target_base)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while not catches_sigterm(proc.pid):  # the earliest moment a SIGTERM can be graceful
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("no SIGTERM handler installed")
        await asyncio.sleep(0.001)
    os.kill(proc.pid, signal.SIGTERM)
    out, err = await finish(proc)
    assert proc.returncode == 0, (out + err).decode()
