"""One timer for the safety nets of every check in flight.

Each HTTP engine bounds a check with its library's own timeout; a safety net, a little
later, ends a check that escaped it (a phase outside the library's timer). Per check,
``asyncio.timeout`` costs a timer handle, a context manager and its state machine (≈ 4 µs,
1-2 % of a plain-HTTP check); here a check costs a dict entry (≈ 0.4 µs), and one periodic
sweep cancels the checks past their deadline, so a net fires up to ``period_s`` late.
The cancellation is taken back (``Task.uncancel``) and reported as a timeout only when
nothing else cancelled the task, as ``asyncio.timeout`` does.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

Task = asyncio.Task[Any]
DEFAULT_PERIOD_S = 0.25


class Watchdog:
    """Cancels the watched tasks still running past their deadline; one per prober.

    Its timer runs only while it watches a task, on that task's loop; ``close()`` stops it.
    """

    def __init__(self, period_s: float = DEFAULT_PERIOD_S) -> None:
        """A watchdog that looks at the checks every ``period_s`` seconds."""
        self._period = period_s
        self._deadlines: dict[Task, float] = {}
        self._fired: set[Task] = set()
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, timeout_s: float) -> Task:
        """Watch the running task for ``timeout_s`` seconds; returns it for ``fired`` and
        ``forget``. Call ``forget`` when the watched part ends, whatever the outcome."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("Watchdog.watch outside a task")
        self._deadlines[task] = time.monotonic() + timeout_s
        if self._timer is None:
            self._timer = task.get_loop().call_later(self._period, self._sweep)
        return task

    def fired(self, task: Task) -> bool:
        """Whether a ``CancelledError`` in ``task`` was this watchdog's alone: then the
        cancellation is taken back and the caller reports a timeout; else it re-raises."""
        if task not in self._fired:
            return False
        self._fired.discard(task)
        return task.uncancel() == 0

    def forget(self, task: Task) -> None:
        """Stop watching ``task`` (taking back a cancellation it sent that the task did
        not see as a ``CancelledError``, as ``asyncio.timeout`` does on exit)."""
        del self._deadlines[task]
        if task in self._fired:
            self._fired.discard(task)
            task.uncancel()

    def close(self) -> None:
        """Stop the timer (the tasks still watched are left alone)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _sweep(self) -> None:
        now = time.monotonic()
        for task, deadline in self._deadlines.items():
            if deadline <= now and task not in self._fired:
                self._fired.add(task)
                task.cancel()  # raises in the task at its next step, not here
        self._timer = None
        if self._deadlines:
            loop = next(iter(self._deadlines)).get_loop()
            self._timer = loop.call_later(self._period, self._sweep)
