"""The lifecycle every long-running use case shares, and the supervisor that runs them.

A ``Service`` runs until asked to stop, then winds down (drains, flushes) and returns its
counters. A deployment shape (standalone, producer, consumer, …) is an ordered set of named
services; the ``Supervisor`` runs them together and stops them one after another in that
order, so a scanner has drained into the bus before the persister that empties it stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import attrs

log = logging.getLogger("sitemon.process")


@runtime_checkable
class Service(Protocol):
    """A long-running use case (scanner, persister, retention, alerter…)."""

    @property
    def stats(self) -> object:
        """Its counters so far (an attrs instance): logged at the end, served as metrics."""
        ...

    async def run(self) -> object:
        """Run until ``request_stop``, wind down, and return the final counters."""
        ...

    def request_stop(self) -> None:
        """Ask ``run`` to wind down and return; safe to call more than once."""
        ...


def stats_fields(stats: object) -> dict[str, object]:
    """An attrs stats object as a flat dict (for a log line); empty for anything else."""
    return attrs.asdict(stats) if attrs.has(type(stats)) else {}  # type: ignore[arg-type]


class Supervisor:
    """Runs named services concurrently and stops them in order.

    The stop begins on ``request_stop`` or as soon as any service returns or fails on its
    own; each service is then asked to stop only after every one before it has finished.
    The first failure is raised once all of them have ended.
    """

    def __init__(self, services: Mapping[str, Service]) -> None:
        self._services = dict(services)
        self._wake = asyncio.Event()
        self._failures: list[BaseException] = []

    def request_stop(self) -> None:
        """Begin the ordered stop."""
        self._wake.set()

    async def run(self) -> None:
        """Run every service to its end; raise the first failure, if any."""
        async with asyncio.TaskGroup() as group:
            tasks = {
                name: group.create_task(self._run_one(name, service))
                for name, service in self._services.items()
            }
            group.create_task(self._stop_in_order(tasks))
        if self._failures:
            raise self._failures[0]

    async def _run_one(self, name: str, service: Service) -> None:
        try:
            stats = await service.run()
        except Exception as exc:  # reported once every service has stopped
            log.error("%s failed", name, exc_info=exc)
            self._failures.append(exc)
        else:
            log.info("%s stopped", name, extra=stats_fields(stats))
        finally:
            self._wake.set()

    async def _stop_in_order(self, tasks: Mapping[str, asyncio.Task[None]]) -> None:
        await self._wake.wait()
        for name, service in self._services.items():
            service.request_stop()
            await tasks[name]
