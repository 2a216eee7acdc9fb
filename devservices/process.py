"""Process, polling and log helpers shared by the Kafka and PostgreSQL services."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class ServiceError(RuntimeError):
    """A local service could not be fetched, started or stopped.

    The message always carries the reason, and the tail of the service's log
    when there is one, so a failing CI run explains itself.
    """


def log_tail(path: Path, lines: int = 40) -> str:
    """Return the last `lines` lines of a text file ('' if it does not exist)."""
    try:
        data = path.read_bytes()[-64_000:]
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def with_log(message: str, *logs: Path) -> str:
    """Append the tails of the given log files to an error message."""
    parts = [message]
    for log in logs:
        tail = log_tail(log)
        if tail:
            parts.append(f"--- last lines of {log} ---\n{tail}")
    return "\n".join(parts)


def error_lines(path: Path, start: int = 0, limit: int = 12) -> list[str]:
    """ERROR/FATAL log lines (each with the next line, usually the exception)
    written to `path` after byte offset `start`, at most `limit` of them.

    The root cause of a failed start is often hundreds of shutdown lines
    above the tail, so it is quoted separately.
    """
    try:
        with open(path, "rb") as log:
            log.seek(start)
            lines = log.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return []
    found = []
    for i, line in enumerate(lines):
        if "] ERROR " in line or "] FATAL " in line:
            found.extend(lines[i : i + 2])
    return found[: 2 * limit]


def poll_until(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    abort: Callable[[], str | None] = lambda: None,
    interval: float = 0.2,
) -> float:
    """Call `check` until it returns True; return the seconds waited.

    `abort` is polled too and returns a reason to give up early (e.g. the
    process died). Raises ServiceError on abort or when `timeout` passes.
    """
    start = time.monotonic()
    while True:
        reason = abort()
        if reason:
            raise ServiceError(f"{what}: {reason}")
        if check():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise ServiceError(f"{what}: not done within {timeout:.0f} s")
        time.sleep(interval)


def terminate(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    """Stop a child process: SIGTERM, wait up to `timeout`, then SIGKILL.

    Returns the exit code. Safe to call on a process that already exited.
    """
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def kill_now(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a child process (simulates a crash) and reap it."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def run_coroutine(factory: Callable[[], Awaitable[T]]) -> T:
    """Run an async probe to completion from synchronous code.

    A fresh thread with its own event loop is used so this also works when
    the caller is itself inside a running loop (e.g. an async fixture).
    """

    async def runner() -> T:
        return await factory()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, runner()).result()
