"""The ``SiteProber`` that hands each site to the prober of its kind (blackbox's name ->
prober map). The scanner sees one prober; each kind's engine stays its own adapter."""

from __future__ import annotations

from collections.abc import Coroutine, Mapping
from typing import Any

from sitemon_core.models import CheckResult, ErrorKind, Site, new_check_id
from sitemon_core.ports import Clock, SiteProber


class ProbeRouter:
    """Routes ``probe(site)`` by ``site.kind``; implements ``sitemon_core.ports.SiteProber``.

    ``probers`` maps a kind name (``"http"``) to its prober; the router neither opens nor
    closes them. A site of a kind with no prober gets an ``internal`` result, never an
    exception.
    """

    def __init__(self, probers: Mapping[str, SiteProber], *, region: str, clock: Clock) -> None:
        """Route to ``probers``; ``region`` and ``clock`` stamp results of unknown kinds."""
        self._probers = dict(probers)
        self._region = region
        self._clock = clock

    @property
    def kinds(self) -> frozenset[str]:
        """The kinds this router can check."""
        return frozenset(self._probers)

    def probe(self, site: Site) -> Coroutine[Any, Any, CheckResult]:
        """The chosen prober's own ``probe`` coroutine: routing adds a dict lookup and no
        coroutine of its own (the scanner runs ~2,000 checks/s per process)."""
        prober = self._probers.get(site.kind)
        if prober is None:
            return self._unsupported(site)
        return prober.probe(site)

    async def _unsupported(self, site: Site) -> CheckResult:
        known = ", ".join(sorted(self._probers))
        return CheckResult(
            check_id=new_check_id(),
            site_id=site.id,
            url=site.target,
            region=self._region,
            started_at=self._clock.utcnow(),
            ok=False,
            total_ms=0.0,
            error_kind=ErrorKind.INTERNAL,
            error_message=f"no prober for kind {site.kind!r} (have: {known})",
        )
