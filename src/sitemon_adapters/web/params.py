"""Query-string parsing: each bad value becomes a ``QueryError`` naming its parameter."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sitemon_core.queries import MAX_PAGE, QueryError, SiteState, Window

MAX_OFFSET = 10**7
BUCKETS = {"1h": 1, "2h": 2, "3h": 3, "4h": 4, "6h": 6, "8h": 8, "12h": 12, "24h": 24}


def integer(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer in ``[low, high]``."""
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise QueryError(name, "must be an integer") from None
    if not low <= value <= high:
        raise QueryError(name, f"must be between {low} and {high}")
    return value


def limit(query: Mapping[str, str], default: int = 50) -> int:
    """The page size."""
    return integer(query, "limit", default, 1, MAX_PAGE)


def offset(query: Mapping[str, str]) -> int:
    """How many matches to skip."""
    return integer(query, "offset", 0, 0, MAX_OFFSET)


def instant(query: Mapping[str, str], name: str, default: datetime) -> datetime:
    """An RFC 3339 timestamp with an offset."""
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise QueryError(name, "must be an RFC 3339 timestamp") from None
    if value.utcoffset() is None:
        raise QueryError(name, "must carry a UTC offset (Z or +hh:mm)")
    if not 1970 <= value.year <= 9998:
        raise QueryError(name, "out of range")
    return value


def time_range(
    query: Mapping[str, str], now: datetime, default_span: timedelta
) -> tuple[datetime, datetime]:
    """``from`` and ``to`` (default: the last ``default_span``), ``from`` not after ``to``."""
    end = instant(query, "to", now)
    start = instant(query, "from", end - default_span)
    if start > end:
        raise QueryError("from", "must not be after 'to'")
    return start, end


def state(query: Mapping[str, str]) -> SiteState | None:
    """A site state filter."""
    raw = query.get("state")
    if raw is None:
        return None
    try:
        return SiteState(raw)
    except ValueError:
        names = ", ".join(s.value for s in SiteState)
        raise QueryError("state", f"must be one of {names}") from None


def windows(values: list[str]) -> set[str] | None:
    """The uptime windows asked for (the repeated ``window`` parameter; None: all)."""
    if not values:
        return None
    known = {w.value for w in Window}
    for value in values:
        if value not in known:
            raise QueryError("window", f"must be one of {', '.join(sorted(known))}")
    return set(values)


def bucket(query: Mapping[str, str]) -> timedelta:
    """A latency bucket: whole hours dividing a day."""
    raw = query.get("bucket", "1h")
    if raw not in BUCKETS:
        raise QueryError("bucket", f"must be one of {', '.join(BUCKETS)}")
    return timedelta(hours=BUCKETS[raw])


def text(query: Mapping[str, str], name: str, max_length: int = 200) -> str | None:
    """A free-text filter, bounded."""
    raw = query.get(name)
    if raw is not None and len(raw) > max_length:
        raise QueryError(name, f"longer than {max_length} characters")
    return raw or None
