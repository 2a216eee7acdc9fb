"""Maintenance windows: one-off and weekly (in a time zone, across DST), by site or tag."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sitemon_core.alerting.maintenance import Maintenance, MaintenanceWindow, OneOff, Weekly

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def one_off(start: datetime = START, hours: float = 1, **kw: object) -> MaintenanceWindow:
    return MaintenanceWindow(schedule=OneOff(start=start, duration=hours * HOUR), **kw)  # type: ignore[arg-type]


def test_one_off_is_on_from_start_until_end_exclusive() -> None:
    m = Maintenance([one_off()])
    assert m.in_maintenance("a", frozenset(), START - timedelta(seconds=1)) is None
    assert m.in_maintenance("a", frozenset(), START) == START + HOUR
    assert m.in_maintenance("a", frozenset(), START + HOUR) is None


def test_windows_select_by_site_id_or_tag() -> None:
    m = Maintenance([one_off(site_ids={"a"}), one_off(tags={"db"})])
    assert m.in_maintenance("a", frozenset(), START) is not None
    assert m.in_maintenance("b", frozenset({"db", "x"}), START) is not None
    assert m.in_maintenance("b", frozenset({"web"}), START) is None


def test_back_to_back_windows_are_one_hold() -> None:
    m = Maintenance([one_off(), one_off(START + HOUR, 2)])
    assert m.in_maintenance("a", frozenset(), START) == START + 3 * HOUR


def test_weekly_follows_the_time_zone_across_daylight_saving() -> None:
    # Sundays 02:30-03:30 in Paris. On 2026-03-29 clocks jump from 02:00 to 03:00:
    # the skipped 02:30 maps to 03:30 local (01:30 UTC).
    weekly = Weekly(weekday=6, time=time(2, 30), duration=HOUR, zone="Europe/Paris")
    m = Maintenance([MaintenanceWindow(schedule=weekly)])
    winter = datetime(2026, 3, 22, 1, 45, tzinfo=UTC)  # 02:45 CET
    assert m.in_maintenance("a", frozenset(), winter) == datetime(2026, 3, 22, 2, 30, tzinfo=UTC)
    summer = datetime(2026, 4, 5, 0, 45, tzinfo=UTC)  # 02:45 CEST
    assert m.in_maintenance("a", frozenset(), summer) == datetime(2026, 4, 5, 1, 30, tzinfo=UTC)
    assert m.in_maintenance("a", frozenset(), datetime(2026, 4, 6, 0, 45, tzinfo=UTC)) is None


def test_a_weekly_window_running_past_midnight_and_the_week_end() -> None:
    weekly = Weekly(weekday=6, time=time(23, 0), duration=3 * HOUR, zone="UTC")
    m = Maintenance([MaintenanceWindow(schedule=weekly)])
    monday_1am = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    assert m.in_maintenance("a", frozenset(), monday_1am) == datetime(2026, 3, 2, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Weekly(weekday=1, time=time(1), duration=HOUR, zone="Mars/Olympus"), "zone"),
        (lambda: Weekly(weekday=7, time=time(1), duration=HOUR, zone="UTC"), "weekday"),
        (lambda: OneOff(start=START, duration=timedelta(0)), "duration"),
        (lambda: OneOff(start=START.replace(tzinfo=None), duration=HOUR), "aware"),
    ],
)
def test_malformed_windows_are_value_errors(build, message) -> None:
    with pytest.raises(ValueError, match=message):
        build()


@given(
    weekday=st.integers(0, 6),
    minutes=st.integers(0, 24 * 60 - 1),
    length=st.integers(1, 7 * 24 * 60),
    offset=st.integers(-14 * 24 * 60, 14 * 24 * 60),
    zone=st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"]),
)
def test_weekly_end_is_within_a_duration_of_now(weekday, minutes, length, offset, zone) -> None:
    weekly = Weekly(
        weekday=weekday, time=time(minutes // 60, minutes % 60),
        duration=timedelta(minutes=length), zone=zone,
    )  # fmt: skip
    at = START + timedelta(minutes=offset)
    end = weekly.end_if_active(at)
    if end is not None:
        assert at < end <= at + timedelta(minutes=length)
    if zone == "UTC":  # no DST: the answer is plain arithmetic on the week
        week_start = datetime(2026, 2, 23, tzinfo=UTC)  # a Monday
        into = (at - week_start - timedelta(days=weekday, minutes=minutes)) % timedelta(days=7)
        assert (end is not None) == (into < timedelta(minutes=length))
