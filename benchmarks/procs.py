"""Child processes of the harness: each measurement runs in its own interpreter, so its CPU
time is its own and N scanners really use N cores. A child reads its parameters as one JSON
line on stdin and prints its result as the last line of stdout, as JSON.

Measuring children (``handshake=True``) first get ready (interpreter started, catalogue
loaded, scanner running), print ``READY`` and wait for a second stdin line: the wall-clock
measurement window, the same for every child of a run, set once all of them are ready."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

# Children's stderr (aiokafka's and uvloop's log lines) goes here, not to the tables.
LOG_DIR = Path("bench-results") / "logs"


def spawn(module: str, params: dict[str, Any], *, handshake: bool = False) -> subprocess.Popen[str]:
    """Start ``python -m <module>`` with ``params`` on its stdin and stdout captured;
    with ``handshake`` stdin stays open for ``start_window``."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with (LOG_DIR / f"{module.rsplit('.', 1)[-1]}.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, "--child"],
            stdout=subprocess.PIPE,
            stdin=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
        )
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(params) + "\n")
    proc.stdin.flush()
    if not handshake:
        proc.stdin.close()
        proc.stdin = None  # communicate() must not touch the closed pipe
    return proc


def start_window(
    children: list[subprocess.Popen[str]], warmup_s: float, measure_s: float
) -> list[float]:
    """Wait until every child printed READY, then send them all one window
    ``[now + warmup, now + warmup + measure]`` (wall clock); return it."""
    for child in children:
        assert child.stdout is not None
        line = child.stdout.readline()
        if line.strip() != "READY":
            raise RuntimeError(f"benchmark child {child.args[2:3]} did not get ready: {line!r}")
    now = time.time()
    window = [now + warmup_s, now + warmup_s + measure_s]
    for child in children:
        assert child.stdin is not None
        child.stdin.write(json.dumps(window) + "\n")
        child.stdin.close()
        child.stdin = None
    return window


async def ready_for_window() -> list[float]:
    """In a child: say READY and wait for the window the parent sends."""
    print("READY", flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    window: list[float] = json.loads(line)
    return window


def collect(proc: subprocess.Popen[str], timeout_s: float) -> dict[str, Any]:
    """Wait for a child and return its JSON result (raise if it failed)."""
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise RuntimeError(f"benchmark child {proc.args[2:3]} timed out") from None
    lines = [line for line in out.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"benchmark child {proc.args[2:3]} failed (exit {proc.returncode})")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def run_child(module: str, params: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """Run one child to completion and return its result."""
    return collect(spawn(module, params), timeout_s)


def child_main(body: Callable[[dict[str, Any]], Coroutine[Any, Any, dict[str, Any]]]) -> None:
    """The entry point of a child: parse params, run ``body`` on uvloop, print the result."""
    params = json.loads(sys.stdin.readline())
    result = run_async(body(params), uvloop=params.get("uvloop", True))
    print(json.dumps(result), flush=True)


def run_async(coro: Coroutine[Any, Any, Any], *, uvloop: bool = True) -> Any:
    """``asyncio.run`` on uvloop when asked for and installed."""
    factory = None
    if uvloop:
        with contextlib.suppress(ImportError):
            import uvloop as _uvloop

            factory = _uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)
