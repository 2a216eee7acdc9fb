"""An in-process StatusRepository: the unit tests' fake and a reference for the contract."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sitemon_core.errors import RepositoryError
from sitemon_core.models import CheckResult, SiteStatus
from sitemon_core.ordering import newer, order_key


class InMemoryStatusRepository:
    """Keeps everything in dicts; same semantics as the SQL repositories (the latest result
    per site by ``sitemon_core.ordering``)."""

    def __init__(self) -> None:
        self._latest: dict[str, CheckResult] = {}
        self._history: dict[str, CheckResult] = {}
        self.saves = 0

    async def save(self, results: Sequence[CheckResult]) -> None:
        """Add unseen checks to history; move each site's latest forward only."""
        for result in results:
            self._history.setdefault(result.check_id, result)
            if newer(result, self._latest.get(result.site_id)):
                self._latest[result.site_id] = result
        self.saves += 1

    async def latest(self) -> list[SiteStatus]:
        """The latest status of every site, ordered by site id."""
        return [SiteStatus(site_id=k, latest=v) for k, v in sorted(self._latest.items())]

    async def history(
        self, site_id: str, *, since: datetime | None = None, limit: int = 1000
    ) -> list[CheckResult]:
        """A site's checks since ``since``, newest first."""
        rows = [
            r
            for r in self._history.values()
            if r.site_id == site_id and (since is None or r.started_at >= since)
        ]
        rows.sort(key=order_key, reverse=True)
        return rows[:limit]

    async def prune_history(self, started_before: datetime, *, max_rows: int) -> int:
        """Delete up to ``max_rows`` checks started before ``started_before``."""
        _check_aware(started_before)
        old = [key for key, r in self._history.items() if r.started_at < started_before]
        for key in old[: max(0, max_rows)]:
            del self._history[key]
        return min(len(old), max(0, max_rows))

    async def prune_rollups(self, period_before: datetime, *, max_rows: int) -> int:
        """Nothing to delete: this repository keeps no rollups (``InMemoryStatusQueries``
        does, and prunes its own)."""
        _check_aware(period_before)
        return 0


def _check_aware(cutoff: datetime) -> None:
    if cutoff.utcoffset() is None:
        raise RepositoryError(f"naive datetime {cutoff.isoformat()} as cutoff", retriable=False)
