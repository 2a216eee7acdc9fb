"""Running ``sitemon-run`` as a real OS process and reading its JSON logs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

LogPredicate = Callable[[dict[str, Any]], bool]


def write_config(path: Path, document: dict[str, Any]) -> Path:
    """Write a config document as YAML and return its path.

    Without a ``web`` section the status page is off: ``standalone`` would otherwise take
    127.0.0.1:8080, which parallel tests (and other users of the machine) may hold. Every
    check is logged (``logging.checks: all``) unless the document says otherwise: the
    tests watch checks happen through their log lines.
    """
    logging = {"checks": "all", **document.get("logging", {})}
    document = {**document, "web": document.get("web", {"enabled": False}), "logging": logging}
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


class SitemonProcess:
    """One ``sitemon-run <command>`` child with its structured log lines collected."""

    def __init__(
        self, command: str, config: Path, *extra: str, env: dict[str, str] | None = None
    ) -> None:
        self.args = [
            sys.executable,
            "-m",
            "sitemon_cli.main",
            "--log-format",
            "json",
            command,
            "-c",
            str(config),
            *extra,
        ]
        self.env = {**os.environ, **(env or {})}
        self.logs: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._new_line = asyncio.Event()

    async def start(self) -> SitemonProcess:
        self.proc = await asyncio.create_subprocess_exec(
            *self.args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=self.env
        )
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        async for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            self.raw.append(line)
            with contextlib.suppress(json.JSONDecodeError):
                self.logs.append(json.loads(line))
            self._new_line.set()

    def find(self, predicate: LogPredicate) -> dict[str, Any] | None:
        return next((entry for entry in self.logs if predicate(entry)), None)

    def count(self, predicate: LogPredicate) -> int:
        return sum(1 for entry in self.logs if predicate(entry))

    async def wait_for(self, predicate: LogPredicate, timeout: float = 60.0) -> dict[str, Any]:
        """The first log entry matching ``predicate``, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        while (entry := self.find(predicate)) is None:
            assert self.proc is not None
            if self.proc.returncode is not None:
                # The exit can be noticed before the reader has seen the last lines: read
                # the pipe to its end before deciding the line never came.
                if self._reader is not None:
                    with contextlib.suppress(TimeoutError):  # a child may hold the pipe
                        await asyncio.wait_for(
                            asyncio.shield(self._reader), max(1.0, deadline - time.monotonic())
                        )
                if (entry := self.find(predicate)) is not None:
                    return entry
                raise AssertionError(f"process exited {self.proc.returncode}:\n" + self.tail())
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("log line not seen in time:\n" + self.tail())
            self._new_line.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_line.wait(), min(remaining, 1.0))
        return entry

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Send ``sig`` and wait for the exit code."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        if self._reader is not None:
            await self._reader
        return code

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            await self._reader

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.raw[-n:])


def message_is(text: str) -> LogPredicate:
    return lambda entry: entry.get("msg") == text


async def wait_until(
    condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.2
) -> Any:
    """Poll an async ``condition`` until it returns a truthy value (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await condition()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")
