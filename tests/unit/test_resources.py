"""Resource start-up: a repository that is down at start is retried, a fatal error is not."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from datetime import datetime

import pytest

from sitemon_cli import resources
from sitemon_core.errors import RepositoryError
from tests.unit.fakes import EPOCH


class JumpingClock:
    """A Clock whose sleeps return at once, moving its time forward by what was asked."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def utcnow(self) -> datetime:
        return EPOCH

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def flaky(
    failures: int, retriable: bool = True
) -> tuple[Callable[[], AbstractAsyncContextManager[str]], list[int]]:
    calls: list[int] = []

    @asynccontextmanager
    async def make() -> AsyncIterator[str]:
        calls.append(1)
        if len(calls) <= failures:
            raise RepositoryError("connection refused", retriable=retriable)
        yield "repository"

    return make, calls


async def test_a_repository_down_at_start_is_retried() -> None:
    make, calls = flaky(failures=3)
    clock = JumpingClock()
    async with AsyncExitStack() as stack:
        assert await resources._open_with_retry(stack, make, clock=clock) == "repository"
    assert len(calls) == 4
    assert len(clock.slept) == 3 and clock.slept == sorted(clock.slept)  # backing off


async def test_a_fatal_error_at_start_is_raised_at_once() -> None:
    make, calls = flaky(failures=1, retriable=False)
    clock = JumpingClock()
    async with AsyncExitStack() as stack:
        with pytest.raises(RepositoryError):
            await resources._open_with_retry(stack, make, clock=clock)
    assert len(calls) == 1 and clock.slept == []


async def test_retrying_gives_up_after_the_startup_wait() -> None:
    make, calls = flaky(failures=1000)
    clock = JumpingClock()
    async with AsyncExitStack() as stack:
        with pytest.raises(RepositoryError, match="refused"):
            await resources._open_with_retry(stack, make, clock=clock)
    assert clock.now <= resources.STARTUP_WAIT_S
    assert clock.now + max(clock.slept) > resources.STARTUP_WAIT_S  # no retry left in time
    assert len(calls) == len(clock.slept) + 1


async def test_no_wait_means_one_attempt() -> None:
    make, calls = flaky(failures=100)
    async with AsyncExitStack() as stack:
        with pytest.raises(RepositoryError, match="refused"):
            await resources._open_with_retry(stack, make, clock=JumpingClock(), wait_s=0.0)
    assert len(calls) == 1
