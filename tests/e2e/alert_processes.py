"""The sitemon processes of the alerting tests: started, tail shown on failure, killed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg

from tests.e2e import alert_rig as rig
from tests.e2e.procs import SitemonProcess, message_is, write_config


@contextlib.asynccontextmanager
async def processes() -> AsyncIterator[list[SitemonProcess]]:
    """Processes the test starts; any still running at the end is killed."""
    started: list[SitemonProcess] = []
    try:
        yield started
    except BaseException:
        for proc in started:  # what each process said, next to the failure
            print(f"--- {proc.args[5]} {Path(proc.args[7]).name}\n{proc.tail(15)}")
        raise
    finally:
        for proc in started:
            await proc.kill()


async def launch(
    started: list[SitemonProcess], command: str, path: Path, doc: dict[str, Any]
) -> SitemonProcess:
    """Start ``sitemon-run <command>`` with ``doc`` written to ``path``; track it in
    ``started``."""
    quiet = ("--quiet",) if command == "producer" else ()
    proc = await SitemonProcess(command, write_config(path, doc), *quiet).start()
    started.append(proc)
    return proc


async def assigned(proc: SitemonProcess) -> None:
    """The alerter is a member of its group (it reads from the latest record on)."""
    await proc.wait_for(message_is("partitions assigned"), timeout=60)


async def incidents(pg: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every stored incident, oldest first (none before the alerter migrated)."""
    return await rig.fetch(pg, "SELECT * FROM incidents ORDER BY opened_at")
