"""``logging.checks``: which checks get a log line at INFO."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sitemon_cli.live import check_logger
from sitemon_core.models import CheckResult, ErrorKind, new_check_id


def _result(site_id: str, ok: bool) -> CheckResult:
    return CheckResult(
        check_id=new_check_id(),
        site_id=site_id,
        url="http://example.test/",
        region="test",
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        ok=ok,
        total_ms=1.0,
        status_code=200 if ok else None,
        error_kind=ErrorKind.NONE if ok else ErrorKind.DNS,
        error_message="" if ok else "refused",
    )


def _levels(mode: str, checks: list[tuple[str, bool]], level: int) -> list[int]:
    """The levels of the check lines logged for ``checks`` with ``logging.checks: mode``."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("sitemon.check")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        observe = check_logger(mode)
        for site_id, ok in checks:
            if observe is not None:
                observe(_result(site_id, ok), 0.0)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    return [r.levelno for r in records]


_CHECKS = st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.booleans()), max_size=40)


@given(_CHECKS)
def test_changes_logs_at_info_exactly_a_sites_first_check_and_each_change(
    checks: list[tuple[str, bool]],
) -> None:
    last: dict[str, bool] = {}
    expected = 0
    for site_id, ok in checks:
        if last.get(site_id) != ok:
            expected += 1
        last[site_id] = ok
    levels = _levels("changes", checks, logging.INFO)
    assert levels == [logging.INFO] * expected


@given(_CHECKS)
def test_changes_at_debug_level_still_logs_every_check(checks: list[tuple[str, bool]]) -> None:
    levels = _levels("changes", checks, logging.DEBUG)
    assert len(levels) == len(checks)


@given(_CHECKS)
def test_all_logs_every_check_at_info_and_none_logs_nothing(
    checks: list[tuple[str, bool]],
) -> None:
    assert _levels("all", checks, logging.INFO) == [logging.INFO] * len(checks)
    assert _levels("none", checks, logging.DEBUG) == []


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match=r"logging\.checks"):
        check_logger("every")
