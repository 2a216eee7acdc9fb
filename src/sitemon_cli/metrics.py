"""``/metrics``: the process's own counters in the Prometheus text format.

Opt-in (``metrics.listen: host:port``). What the scanner, publisher, persister, subscriber
and retention count (the same figures their "... stopped" log lines give at the end),
checks by outcome, and a histogram of check durations. No per-site series: with 100,000
sites that would be a cardinality bomb; per-site data is what PostgreSQL is for.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable
from typing import Any

import attrs
from aiohttp import web

from sitemon_cli.lifecycle import resolve
from sitemon_core.errors import ConfigError
from sitemon_core.models import CheckResult

log = logging.getLogger("sitemon.process")

# Seconds; as blackbox_exporter users would bucket probe durations.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class CheckMetrics:
    """Checks by outcome and their durations; ``observe`` is a scanner result observer."""

    def __init__(self) -> None:
        self.outcomes: dict[str, int] = {}
        self.buckets = [0] * len(DURATION_BUCKETS)
        self.count = 0
        self.sum_s = 0.0

    def observe(self, result: CheckResult, _lag_s: float) -> None:
        """Count one check."""
        outcome = result.outcome
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        seconds = result.total_ms / 1000.0
        index = bisect.bisect_left(DURATION_BUCKETS, seconds)
        if index < len(self.buckets):
            self.buckets[index] += 1
        self.count += 1
        self.sum_s += seconds

    def render(self) -> Iterable[str]:
        """Exposition lines."""
        yield "# HELP sitemon_checks_total Checks finished, by outcome."
        yield "# TYPE sitemon_checks_total counter"
        for outcome, value in sorted(self.outcomes.items()):
            yield f'sitemon_checks_total{{outcome="{outcome}"}} {value}'
        yield "# HELP sitemon_check_duration_seconds Total time of a check."
        yield "# TYPE sitemon_check_duration_seconds histogram"
        cumulative = 0
        for bound, value in zip(DURATION_BUCKETS, self.buckets, strict=True):
            cumulative += value
            yield f'sitemon_check_duration_seconds_bucket{{le="{bound}"}} {cumulative}'
        yield f'sitemon_check_duration_seconds_bucket{{le="+Inf"}} {self.count}'
        yield f"sitemon_check_duration_seconds_sum {self.sum_s!r}"
        yield f"sitemon_check_duration_seconds_count {self.count}"


def render_stats(component: str, stats: Any) -> Iterable[str]:
    """An attrs stats object's fields: ints as counters, floats as gauges."""
    for field in attrs.fields(type(stats)):
        value = getattr(stats, field.name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        kind = "counter" if isinstance(value, int) else "gauge"
        name = f"sitemon_{component}_{field.name}" + ("_total" if kind == "counter" else "")
        yield f"# TYPE {name} {kind}"
        yield f"{name} {value!r}"


def fan_out(*observers: Any) -> Any:
    """One scanner observer calling each of ``observers``."""

    def observe(result: CheckResult, lag_s: float) -> None:
        for observer in observers:
            observer(result, lag_s)

    return observe


class MetricsEndpoint:
    """Serves ``/metrics`` from whatever components are registered."""

    def __init__(self, host: str, port: int, source: str = "(config)") -> None:
        self.host, self.port, self.source = host, port, source
        self.checks: CheckMetrics | None = None
        self._components: dict[str, Any] = {}
        self._gauges: dict[str, Any] = {}
        self._runner: web.AppRunner | None = None

    def add_stats(self, component: str, owner: object) -> None:
        """Expose ``owner.stats`` (an attrs object) if it has one."""
        stats = getattr(owner, "stats", None)
        if stats is not None and attrs.has(type(stats)):
            self._components[component] = stats

    def add_gauge(self, name: str, read: Any) -> None:
        """Expose ``read()`` as the gauge ``sitemon_<name>``."""
        self._gauges[name] = read

    def render(self) -> str:
        """The whole exposition."""
        lines: list[str] = []
        for component, stats in self._components.items():
            lines.extend(render_stats(component, stats))
        for name, read in self._gauges.items():
            lines += [f"# TYPE sitemon_{name} gauge", f"sitemon_{name} {read()!r}"]
        if self.checks is not None:
            lines.extend(self.checks.render())
        return "\n".join(lines) + "\n"

    async def expose(self, container: Any, *parts: str) -> None:
        """Register the stats of the container's ``parts`` (already resolved), then listen."""
        for part in parts:
            self.add_stats(part, await resolve(getattr(container, part)))
        await self.start()

    async def start(self) -> None:
        """Listen; a port already in use is an error naming it."""
        app = web.Application()
        app.router.add_get("/metrics", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise ConfigError(
                self.source,
                "metrics.listen",
                f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}",
            ) from exc
        log.info("metrics listening", extra={"url": f"http://{self.host}:{self.port}/metrics"})

    async def stop(self) -> None:
        """Stop listening."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _handle(self, _request: web.Request) -> web.Response:
        return web.Response(body=self.render().encode(), headers={"Content-Type": CONTENT_TYPE})


def metrics_for(config: Any, *, checks: bool) -> MetricsEndpoint | None:
    """The endpoint ``config.metrics_listen`` asks for (with check counters for a
    scanner), or None."""
    if config.metrics_listen is None:
        return None
    endpoint = MetricsEndpoint(*config.metrics_listen, source=config.source)
    if checks:
        endpoint.checks = CheckMetrics()
    return endpoint
