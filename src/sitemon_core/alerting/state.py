"""The per-site alert state machine: pure, allocation-light, O(regions) per result.

Per region it counts consecutive failures and successes: ``failure_threshold`` failures in a
row make the region *failing*, ``success_threshold`` successes in a row make it *healthy*
(Gatus's semantics). The site is ``DOWN`` once at least ``confirm_regions`` regions are
failing with a result newer than two intervals (one region's network trouble is not an
outage); it is ``UP`` again once a region has recovered and fewer than ``confirm_regions``
fresh regions are failing. Before any region is known the site is ``UNKNOWN``; silence (no
results) never changes the state.

Flapping (Nagios-style): more than ``flap_max_changes`` up/down changes within the site's last
``flap_window`` results make the site flapping: one ``FLAPPING`` event, then changes go on
(incidents still open and close) but are not notified, except the ``UP`` owed to a notified
``DOWN``; once no change happened for a whole window the flapping ends, and a site left down
with an incident nobody was told about gets a ``STILL_DOWN`` event (notify it now).
"""

from __future__ import annotations

import enum
from collections import deque
from datetime import datetime, timedelta

import attrs

from sitemon_core.alerting.policy import AlertPolicy
from sitemon_core.models import CheckResult


class SiteState(enum.Enum):
    """What the alerter believes about a site."""

    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"


class Event(enum.Enum):
    """What a result changed, for the alerter to record."""

    DOWN = "down"  # up/unknown -> down: open an incident
    UP = "up"  # down -> up: resolve the incident
    FLAPPING = "flapping"  # flapping started
    STILL_DOWN = "still_down"  # flapping ended with the site down and nobody told yet


@attrs.frozen
class Change:
    """One event caused by ``result``; ``notify`` says whether anyone is to be told."""

    event: Event
    notify: bool
    result: CheckResult
    regions: tuple[str, ...]  # the fresh failing regions when it happened


NO_CHANGES: tuple[Change, ...] = ()


class _Region:
    """Counters of one region of one site."""

    __slots__ = ("failing", "failures", "last", "successes")

    def __init__(self, last: datetime | None) -> None:
        self.last = last
        self.failures = 0
        self.successes = 0
        self.failing: bool | None = None  # None: not enough results yet


class SiteTracker:
    """The alert state of one site, fed its results one by one through ``observe``."""

    __slots__ = ("_changes", "_regions", "_seq", "_since", "flapping", "notified", "state")

    def __init__(
        self,
        state: SiteState = SiteState.UNKNOWN,
        *,
        notified: bool = False,
        since: datetime | None = None,
    ) -> None:
        self.state = state
        self.notified = notified  # whether the current DOWN was notified (an UP is owed)
        self.flapping = False
        # Results up to the last stored change are already accounted for in the store: a
        # restarted alerter ignores them (the unacknowledged batch delivered again).
        self._since = since
        self._regions: dict[str, _Region] = {}
        self._seq = 0  # results observed
        self._changes: deque[int] = deque()  # sequence numbers of recent up/down changes

    @classmethod
    def restored_down(cls, *, notified: bool = True, since: datetime | None = None) -> SiteTracker:
        """A site with an incident still open in the store (after a restart).

        It starts ``DOWN`` with its regions unknown: failures again repeat no ``DOWN``,
        and the first recovered region resolves it (notified when its ``FIRING`` was).
        Results not newer than ``since`` (the incident's opening) are ignored.
        """
        return cls(SiteState.DOWN, notified=notified, since=since)

    def observe(
        self, result: CheckResult, policy: AlertPolicy, interval_s: float
    ) -> tuple[Change, ...]:
        """Account for ``result``; return what it changed (usually nothing).

        A result not newer than its region's last one (a replay), or than ``since``, is
        ignored.
        """
        region = self._regions.get(result.region)
        if region is None:
            region = self._regions[result.region] = _Region(self._since)
        if region.last is not None and result.started_at <= region.last:
            return NO_CHANGES
        region.last = result.started_at
        if result.ok:
            region.failures = 0
            region.successes += 1
            if region.successes >= policy.success_threshold:
                region.failing = False
        else:
            region.successes = 0
            region.failures += 1
            if region.failures >= policy.failure_threshold:
                region.failing = True
        self._seq += 1
        changes = self._prune(policy.flap_window)
        new = self._evaluate(result, region, policy, interval_s)
        if new is not None and new is not self.state:
            return self._transition(new, result, policy, interval_s)
        if self.flapping and not changes:
            return self._end_flapping(result, interval_s)
        return NO_CHANGES

    def _prune(self, window: int) -> deque[int]:
        changes, oldest = self._changes, self._seq - window
        while changes and changes[0] <= oldest:
            changes.popleft()
        return changes

    def _evaluate(
        self, result: CheckResult, region: _Region, policy: AlertPolicy, interval_s: float
    ) -> SiteState | None:
        # Only a result that completed its region's verdict can move the site, so the
        # common case (a healthy site staying healthy) costs no scan of the regions.
        if result.ok:
            if region.failing is False and self.state is not SiteState.UP:
                failing = self._failing_count(result.started_at, interval_s)
                return SiteState.UP if failing < policy.confirm_regions else None
        elif region.failing and self.state is not SiteState.DOWN:
            failing = self._failing_count(result.started_at, interval_s)
            return SiteState.DOWN if failing >= policy.confirm_regions else None
        return None

    def _failing_count(self, now: datetime, interval_s: float) -> int:
        fresh = now - timedelta(seconds=2 * interval_s)
        return sum(
            1
            for r in self._regions.values()
            if r.failing and r.last is not None and r.last >= fresh
        )

    def failing_regions(self, now: datetime, interval_s: float) -> tuple[str, ...]:
        """The regions failing with a result newer than two intervals before ``now``."""
        fresh = now - timedelta(seconds=2 * interval_s)
        return tuple(
            sorted(
                name
                for name, r in self._regions.items()
                if r.failing and r.last is not None and r.last >= fresh
            )
        )

    def _transition(
        self, new: SiteState, result: CheckResult, policy: AlertPolicy, interval_s: float
    ) -> tuple[Change, ...]:
        old, self.state = self.state, new
        regions = self.failing_regions(result.started_at, interval_s)
        if new is SiteState.UP and old is SiteState.UNKNOWN:
            return NO_CHANGES  # first verdict: nothing was wrong, nothing to tell
        self._changes.append(self._seq)
        started = not self.flapping and len(self._changes) > policy.flap_max_changes
        self.flapping = self.flapping or started
        if new is SiteState.DOWN:
            self.notified = not self.flapping
            change = Change(Event.DOWN, self.notified, result, regions)
        else:
            change = Change(Event.UP, self.notified, result, regions)
            self.notified = False
        if started:  # after the change, so it is about the incident this result touched
            return (change, Change(Event.FLAPPING, True, result, regions))
        return (change,)

    def _end_flapping(self, result: CheckResult, interval_s: float) -> tuple[Change, ...]:
        self.flapping = False
        if self.state is SiteState.DOWN and not self.notified:
            self.notified = True
            regions = self.failing_regions(result.started_at, interval_s)
            return (Change(Event.STILL_DOWN, True, result, regions),)
        return NO_CHANGES
