"""The probers' safety-net watchdog: one periodic sweep over every check in flight."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from sitemon_adapters.probe.http_common.watchdog import Watchdog

pytestmark = pytest.mark.timeout(10)
PERIOD_S = 0.02


async def _guarded(watchdog: Watchdog, timeout_s: float, work: asyncio.Future[None]) -> str:
    """What a prober does around its exchange: ``timeout`` when the net fired."""
    task = watchdog.watch(timeout_s)
    try:
        await work
    except asyncio.CancelledError:
        if not watchdog.fired(task):
            raise
        return "timeout"
    finally:
        watchdog.forget(task)
    return "done"


async def test_a_hanging_check_times_out_within_a_period() -> None:
    watchdog = Watchdog(PERIOD_S)
    start = time.monotonic()
    outcome = await _guarded(watchdog, 0.1, asyncio.get_running_loop().create_future())
    took = time.monotonic() - start
    assert outcome == "timeout"
    assert 0.1 <= took < 0.1 + PERIOD_S + 0.2
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0  # the cancellation was taken back
    watchdog.close()


async def test_checks_that_end_in_time_are_never_cancelled() -> None:
    watchdog = Watchdog(PERIOD_S)
    loop = asyncio.get_running_loop()

    async def quick(delay: float) -> str:
        work = loop.create_future()
        loop.call_later(delay, work.set_result, None)
        return await _guarded(watchdog, 0.2, work)

    outcomes = await asyncio.gather(*(quick(i * 0.01) for i in range(10)))
    await asyncio.sleep(0.3)  # past every deadline: nothing is watched any more
    assert outcomes == ["done"] * 10
    watchdog.close()


async def test_only_the_late_ones_of_many_time_out() -> None:
    watchdog = Watchdog(PERIOD_S)
    loop = asyncio.get_running_loop()
    timeouts = [0.05, 0.5, 0.1, 0.5, 0.05]
    outcomes = await asyncio.gather(
        *(_guarded(watchdog, t, loop.create_future()) for t in timeouts[::2]),
        *(_finishing(watchdog, t, 0.2) for t in timeouts[1::2]),
    )
    assert outcomes == ["timeout"] * 3 + ["done"] * 2
    watchdog.close()


async def _finishing(watchdog: Watchdog, timeout_s: float, after_s: float) -> str:
    work = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_later(after_s, work.set_result, None)
    return await _guarded(watchdog, timeout_s, work)


async def test_an_outside_cancellation_is_not_a_timeout() -> None:
    watchdog = Watchdog(PERIOD_S)
    check = asyncio.create_task(_guarded(watchdog, 5.0, asyncio.get_running_loop().create_future()))
    await asyncio.sleep(0.05)
    check.cancel()
    with pytest.raises(asyncio.CancelledError):
        await check
    watchdog.close()


async def test_an_outside_cancellation_wins_over_the_net() -> None:
    """Cancelled from outside (the scanner's drain) in the same loop iteration as the net
    fires: the check is cancelled, not timed out."""
    checks: list[asyncio.Task[str]] = []

    class Racing(Watchdog):
        def _sweep(self) -> None:
            super()._sweep()
            for check in checks:
                check.cancel()

    watchdog = Racing(PERIOD_S)
    work: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    checks.append(asyncio.create_task(_guarded(watchdog, 0.01, work)))
    with pytest.raises(asyncio.CancelledError):
        await checks[0]
    watchdog.close()


async def test_a_cancellation_the_check_swallowed_is_taken_back() -> None:
    """A library that swallows the CancelledError: the task is not left cancelling."""
    watchdog = Watchdog(PERIOD_S)
    loop = asyncio.get_running_loop()

    async def swallowing() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await loop.create_future()

    task = watchdog.watch(0.01)
    await swallowing()
    watchdog.forget(task)
    assert task.cancelling() == 0
    watchdog.close()
