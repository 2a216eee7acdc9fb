"""Maintenance windows: while one is on, checks and incidents go on but notifications wait.

A window selects sites by id or by tag (neither: every site) and is either one-off (a start
and a duration) or weekly (a weekday, a local time of day, a duration and an IANA time
zone, so "Sunday 02:00 Europe/Paris" follows daylight saving time).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

WEEK = timedelta(days=7)
# Windows that follow one another back to back are one hold; a bound keeps a
# pathological configuration (a window every minute, for ever) from looping.
_MAX_CHAINED = 16


def _aware(_instance: object, _attribute: object, value: datetime) -> None:
    if value.utcoffset() is None:
        raise ValueError(f"start must be timezone-aware, got {value.isoformat()}")


def _duration(_instance: object, _attribute: object, value: timedelta) -> None:
    if not timedelta(0) < value <= WEEK:
        raise ValueError(f"duration must be more than 0 and at most 7 days, got {value}")


def _zone(name: str | ZoneInfo) -> ZoneInfo:
    if isinstance(name, ZoneInfo):
        return name
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def _weekday(_instance: object, _attribute: object, value: int) -> None:
    if not 0 <= value <= 6:
        raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {value}")


@attrs.frozen(kw_only=True)
class OneOff:
    """A single window from ``start`` for ``duration``."""

    start: datetime = attrs.field(validator=_aware)
    duration: timedelta = attrs.field(validator=_duration)

    def end_if_active(self, at: datetime) -> datetime | None:
        """The window's end if ``at`` is inside it, else None."""
        end = self.start + self.duration
        return end if self.start <= at < end else None


@attrs.frozen(kw_only=True)
class Weekly:
    """Every week on ``weekday`` (0 = Monday) at local ``time`` in ``zone``, for ``duration``."""

    weekday: int = attrs.field(validator=_weekday)
    time: time
    duration: timedelta = attrs.field(validator=_duration)
    zone: ZoneInfo = attrs.field(converter=_zone)

    def end_if_active(self, at: datetime) -> datetime | None:
        """The end of the occurrence ``at`` is inside, else None."""
        local_day = at.astimezone(self.zone).date()
        latest = local_day - timedelta(days=(local_day.weekday() - self.weekday) % 7)
        # A window lasts at most a week, so only this week's and last week's can be on.
        for day in (latest, latest - WEEK):
            start = self._start_on(day)
            end = start + self.duration  # aware + timedelta: absolute time, DST-proof
            if start <= at < end:
                return end
        return None

    def _start_on(self, day: date) -> datetime:
        # A local time skipped by a DST jump maps to the instant after it (zoneinfo's
        # fold=0 rule), so the window still happens that week.
        wall = datetime.combine(day, self.time, tzinfo=self.zone)
        return wall.astimezone(UTC)


def names(values: Iterable[str]) -> frozenset[str]:
    """A set of site ids or tags (a typed converter: mypy cannot type ``frozenset``'s)."""
    return frozenset(values)


@attrs.frozen(kw_only=True)
class MaintenanceWindow:
    """One window and the sites it covers (by id or tag; neither given: all sites)."""

    schedule: OneOff | Weekly
    site_ids: frozenset[str] = attrs.field(default=frozenset(), converter=names)
    tags: frozenset[str] = attrs.field(default=frozenset(), converter=names)

    def covers(self, site_id: str, tags: frozenset[str]) -> bool:
        """Whether the window applies to this site."""
        if not self.site_ids and not self.tags:
            return True
        return site_id in self.site_ids or not self.tags.isdisjoint(tags)


class Maintenance:
    """Every configured window; answers whether a site is in maintenance at a time."""

    def __init__(self, windows: Iterable[MaintenanceWindow] = ()) -> None:
        self.windows = tuple(windows)

    def in_maintenance(self, site_id: str, tags: frozenset[str], at: datetime) -> datetime | None:
        """When the maintenance covering ``site_id`` at ``at`` ends, or None if there is none.

        Overlapping or back-to-back windows count as one: the end returned is outside
        every window of the site (up to a bound of chained windows).
        """
        if not self.windows:
            return None
        end = None
        probe = at
        for _ in range(_MAX_CHAINED):
            found = [
                e
                for w in self.windows
                if w.covers(site_id, tags) and (e := w.schedule.end_if_active(probe)) is not None
            ]
            if not found:
                break
            end = probe = max(found)
        return end
