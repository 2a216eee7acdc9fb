"""``/metrics``: the process's own counters in the Prometheus text format.

Opt-in (``metrics.listen: host:port``). Whatever the running deployment shape is made of is
registered from that same set of parts: every part's attrs ``stats`` (the figures its
"... stopped" log line gives at the end), checks by outcome, a histogram of check durations
and the number of sites scheduled. No per-site series: with 100,000 sites that would be a
cardinality bomb; per-site data is what PostgreSQL is for. ``promtool check metrics``
accepts the exposition (a test scrapes a running process with it).
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import attrs
from aiohttp import web

from sitemon_cli.config import Config
from sitemon_core.errors import ConfigError
from sitemon_core.models import CheckResult
from sitemon_core.scanner import Scanner

log = logging.getLogger("sitemon.process")

# Seconds; as blackbox_exporter users would bucket probe durations.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Prometheus names carry their base unit spelled out.
_UNIT_SUFFIXES = (("_s", "_seconds"), ("_ms", "_milliseconds"))
# HELP text per stats field; a field without one is described from its name.
HELP = {
    "scanner_started": "Checks started.",
    "scanner_published": "Results handed to the bus.",
    "scanner_dropped": "Results the bus refused (lost).",
    "scanner_overlapped": "Runs skipped because the site's previous check was still running.",
    "scanner_abandoned": "Checks abandoned at shutdown after the grace period.",
    "scanner_late_starts": "Checks started more than a second after their slot.",
    "scanner_max_lag_s": "Largest delay between a check's slot and its start.",
    "publisher_accepted": "Results accepted for publishing.",
    "publisher_delivered": "Results acknowledged by Kafka.",
    "publisher_redelivery_attempts": "Sends retried after a broker error.",
    "publisher_producer_resets": "Kafka producers recreated after a fatal error.",
    "publisher_dropped": "Results given up on (lost): buffer full or flush deadline passed.",
    "persister_batches": "Batches saved.",
    "persister_saved": "Results saved to the repository.",
    "persister_retries": "Saves retried after a retriable repository error.",
    "subscriber_received": "Records received from Kafka.",
    "subscriber_committed_batches": "Batches whose offsets were committed.",
    "subscriber_dead_lettered": "Records that could not be decoded, sent to the dead-letter topic.",
    "subscriber_commit_failures": "Offset commits that failed (the batch is redelivered).",
    "retention_rounds": "History pruning rounds run.",
    "retention_deleted": "History rows deleted by retention.",
    "retention_failures": "Pruning rounds that failed (retried next round).",
    "alerter_batches": "Result batches the alerter processed.",
    "alerter_results": "Results the alerter read.",
    "alerter_incidents_opened": "Incidents opened (sites confirmed down).",
    "alerter_incidents_resolved": "Incidents resolved (sites back up).",
    "alerter_flapping": "Flapping notifications queued.",
    "alerter_certificate_warnings_opened": "Certificate warnings opened (expiring soon).",
    "alerter_certificate_warnings_resolved": "Certificate warnings resolved (renewed).",
    "alerter_notifications_enqueued": "Notifications stored in the outbox.",
    "alerter_notifications_held": "Notifications held by a maintenance window.",
    "alerter_reminders": "Reminders queued for incidents still open.",
    "alerter_retries": "Incident writes retried after a retriable repository error.",
    "dispatcher_attempts": "Notification delivery attempts.",
    "dispatcher_delivered": "Notifications delivered.",
    "dispatcher_retried": "Delivery attempts that failed and will be retried.",
    "dispatcher_failed": "Notifications given up on (a 4xx, or past the delivery deadline).",
    "dispatcher_dropped": "Held notifications dropped because their incident closed first.",
    "dispatcher_store_errors": "Outbox reads or updates that failed.",
    "retention_partitions_removed": "History partitions dropped or detached by retention.",
    "retention_rollups_deleted": "Rollup rows deleted by retention (older than rollup_retention).",
    "partitions_rounds": "Rounds of creating history partitions ahead.",
    "partitions_added": "History partitions created ahead of their data.",
    "partitions_failures": "Rounds of creating history partitions that failed.",
    "partitions_default_rows": (
        "Rows in check_history's default partition (no day partition covers them: clock"
        " skew, replays of old records); normally 0, counted up to 1e6."
    ),
}


class CheckMetrics:
    """Checks by outcome and their durations; ``observe`` is a scanner result observer."""

    def __init__(self) -> None:
        self.outcomes: dict[str, int] = {}
        self.verdicts = dict.fromkeys(("up", "degraded", "down"), 0)
        self.buckets = [0] * len(DURATION_BUCKETS)
        self.count = 0
        self.sum_s = 0.0

    def observe(self, result: CheckResult, _lag_s: float) -> None:
        """Count one check."""
        outcome = result.outcome
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        self.verdicts[result.verdict] += 1
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
        yield "# HELP sitemon_check_verdicts_total Checks finished, by verdict: up, degraded, down."
        yield "# TYPE sitemon_check_verdicts_total counter"
        for verdict, value in self.verdicts.items():
            yield f'sitemon_check_verdicts_total{{verdict="{verdict}"}} {value}'
        yield "# HELP sitemon_check_duration_seconds Total time of a check."
        yield "# TYPE sitemon_check_duration_seconds histogram"
        cumulative = 0
        for bound, value in zip(DURATION_BUCKETS, self.buckets, strict=True):
            cumulative += value
            yield f'sitemon_check_duration_seconds_bucket{{le="{bound}"}} {cumulative}'
        yield f'sitemon_check_duration_seconds_bucket{{le="+Inf"}} {self.count}'
        yield f"sitemon_check_duration_seconds_sum {self.sum_s!r}"
        yield f"sitemon_check_duration_seconds_count {self.count}"


def metric_name(component: str, field: str, kind: str) -> str:
    """``sitemon_<component>_<field>``, units spelled out, ``_total`` on counters."""
    for short, long in _UNIT_SUFFIXES:
        if field.endswith(short):
            field = field[: -len(short)] + long
            break
    return f"sitemon_{component}_{field}" + ("_total" if kind == "counter" else "")


def render_stats(component: str, stats: Any) -> Iterable[str]:
    """An attrs stats object's fields: ints as counters, floats as gauges."""
    for field in attrs.fields(type(stats)):
        value = getattr(stats, field.name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        kind = "counter" if isinstance(value, int) else "gauge"
        name = metric_name(component, field.name, kind)
        text = HELP.get(f"{component}_{field.name}") or field.name.replace("_", " ").capitalize()
        yield f"# HELP {name} {text}"
        yield f"# TYPE {name} {kind}"
        yield f"{name} {value!r}"


def fan_out(
    *observers: Callable[[CheckResult, float], None],
) -> Callable[[CheckResult, float], None]:
    """One scanner observer calling each of ``observers``."""

    def observe(result: CheckResult, lag_s: float) -> None:
        for observer in observers:
            observer(result, lag_s)

    return observe


def _site_count(scanner: Scanner) -> Callable[[], float]:
    return lambda: len(scanner.sites())


class MetricsEndpoint:
    """Serves ``/metrics`` from whatever components are registered."""

    def __init__(self, host: str, port: int, source: str = "(config)") -> None:
        self.host, self.port, self.source = host, port, source
        self.checks: CheckMetrics | None = None
        self._components: dict[str, object] = {}
        self._gauges: dict[str, tuple[str, Callable[[], float]]] = {}
        self._runner: web.AppRunner | None = None

    def add_stats(self, component: str, owner: object) -> None:
        """Expose ``owner.stats`` (an attrs object) if it has one."""
        stats = getattr(owner, "stats", None)
        if stats is not None and attrs.has(type(stats)):
            self._components[component] = stats

    def add_gauge(self, name: str, read: Callable[[], float], text: str = "") -> None:
        """Expose ``read()`` as the gauge ``sitemon_<name>``."""
        self._gauges[name] = (text or name.replace("_", " ").capitalize(), read)

    def register(self, parts: Mapping[str, object]) -> None:
        """Register every part of a deployment shape: stats, check counters, site gauge."""
        for name, part in parts.items():
            if isinstance(part, CheckMetrics):
                self.checks = part
                continue
            self.add_stats(name, part)
            if isinstance(part, Scanner):
                self.add_gauge("sites", _site_count(part), "Sites scheduled.")

    def render(self) -> str:
        """The whole exposition."""
        lines: list[str] = []
        for component, stats in self._components.items():
            lines.extend(render_stats(component, stats))
        for name, (text, read) in self._gauges.items():
            lines += [
                f"# HELP sitemon_{name} {text}",
                f"# TYPE sitemon_{name} gauge",
                f"sitemon_{name} {read()!r}",
            ]
        if self.checks is not None:
            lines.extend(self.checks.render())
        return "\n".join(lines) + "\n"

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


@asynccontextmanager
async def serving_metrics(config: Config, parts: Mapping[str, object]) -> AsyncIterator[None]:
    """Serve ``/metrics`` for ``parts`` while the block runs, when the config asks for it."""
    if config.metrics_listen is None:
        yield
        return
    endpoint = MetricsEndpoint(*config.metrics_listen, source=config.source)
    endpoint.register(parts)
    await endpoint.start()
    try:
        yield
    finally:
        await endpoint.stop()
