"""Resource start-up: a repository that is down at start is retried, a fatal error is not."""

from __future__ import annotations

from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest

from sitemon_cli import resources
from sitemon_core.errors import RepositoryError


def flaky(failures: int, retriable: bool = True) -> tuple[Any, list[int]]:
    calls: list[int] = []

    @asynccontextmanager
    async def make() -> Any:
        calls.append(1)
        if len(calls) <= failures:
            raise RepositoryError("connection refused", retriable=retriable)
        yield "repository"

    return make, calls


async def test_a_repository_down_at_start_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resources.asyncio, "sleep", _no_sleep)
    make, calls = flaky(failures=3)
    async with AsyncExitStack() as stack:
        assert await resources._open_with_retry(stack, make) == "repository"
    assert len(calls) == 4


async def test_a_fatal_error_at_start_is_raised_at_once() -> None:
    make, calls = flaky(failures=1, retriable=False)
    async with AsyncExitStack() as stack:
        with pytest.raises(RepositoryError):
            await resources._open_with_retry(stack, make)
    assert len(calls) == 1


async def test_retrying_gives_up_after_the_startup_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resources.asyncio, "sleep", _no_sleep)
    monkeypatch.setattr(resources, "STARTUP_WAIT_S", 0.0)
    make, calls = flaky(failures=100)
    async with AsyncExitStack() as stack:
        with pytest.raises(RepositoryError, match="refused"):
            await resources._open_with_retry(stack, make)
    assert len(calls) == 1


async def _no_sleep(_seconds: float) -> None:
    return None
