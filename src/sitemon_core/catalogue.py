"""The site catalogue as a shared, replicated list: what changed, and who owns which site.

``sites apply`` diffs a config file against the catalogue and publishes only the diff; a
scanner that follows the catalogue (``CatalogueFollower``) schedules the sites it owns and
applies later changes live. Ownership comes from the bus (Kafka's consumer-group partition
assignment): the follower only hears "these are your sites now" and "these changed".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Protocol

import attrs

from sitemon_core.models import Site
from sitemon_core.ports import CatalogueEvent, SiteCatalogue, SitesAssigned, SitesChanged
from sitemon_core.site_rules import PatternCheck, site_problem

log = logging.getLogger("sitemon.catalogue")


@attrs.frozen
class CatalogueDiff:
    """What publishing a desired site list changes in a catalogue."""

    added: tuple[Site, ...] = ()
    changed: tuple[Site, ...] = ()
    removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def diff_catalogue(current: Mapping[str, Site], desired: Iterable[Site]) -> CatalogueDiff:
    """The changes that turn ``current`` (id -> site) into exactly ``desired``, by id order."""
    wanted = {site.id: site for site in desired}
    return CatalogueDiff(
        added=tuple(wanted[i] for i in sorted(wanted.keys() - current.keys())),
        changed=tuple(
            wanted[i] for i in sorted(wanted.keys() & current.keys()) if wanted[i] != current[i]
        ),
        removed=tuple(sorted(current.keys() - wanted.keys())),
    )


class SiteSchedule(Protocol):
    """What the follower drives: the scanner's catalogue (``Scanner`` implements it)."""

    def set_sites(self, sites: Iterable[Site], since: float | None = None) -> object:
        """Schedule exactly ``sites`` (unchanged ones keep their place; added ones catch up
        a slot missed after the wall-clock time ``since``)."""
        ...

    def update_sites(self, upserted: Iterable[Site], removed: Iterable[str]) -> object:
        """Add or replace ``upserted``, stop scheduling ``removed``."""
        ...


@attrs.define
class FollowerStats:
    """Counters of a catalogue follower."""

    assignments: int = 0
    upserted: int = 0
    removed: int = 0
    invalid: int = 0


class CatalogueFollower:
    """Keeps a scanner's sites equal to the valid sites this member owns in the catalogue.

    An invalid site (it fails ``site_problem``) is logged, counted and skipped; the rest of
    the catalogue is unaffected. On stop it leaves the catalogue at once, so the sites move
    to another member without waiting for a timeout, before the scanner drains.
    """

    def __init__(
        self,
        catalogue: SiteCatalogue,
        scanner: SiteSchedule,
        patterns: PatternCheck | None = None,
    ) -> None:
        """Follow ``catalogue`` into ``scanner``; ``patterns`` checks regexes and JSONPaths
        with the probers' own engines (see ``site_rules``)."""
        self._catalogue = catalogue
        self._scanner = scanner
        self._patterns = patterns
        self._stop = asyncio.Event()
        self._owned: set[str] = set()
        self.stats = FollowerStats()

    def describe(self) -> dict[str, object]:
        """What its "started" log line says."""
        return {"catalogue": self._catalogue.describe()}

    def request_stop(self) -> None:
        """Leave the catalogue and return."""
        self._stop.set()

    async def run(self) -> FollowerStats:
        """Apply every event of the catalogue until ``request_stop``; then leave it."""
        events = self._catalogue.events()
        stop = asyncio.create_task(self._stop.wait())
        try:
            while not self._stop.is_set():
                step = asyncio.ensure_future(anext(events))
                await asyncio.wait({step, stop}, return_when=asyncio.FIRST_COMPLETED)
                if not step.done():
                    step.cancel()
                    with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                        await step
                    break
                self.apply(step.result())
        finally:
            stop.cancel()
            # Stop scheduling before leaving: once the group hears we left, the new owners
            # may run slots from then on (SitesAssigned.since) without checking one twice.
            self._scanner.set_sites(())
            await self._catalogue.leave()
        return self.stats

    def apply(self, event: CatalogueEvent) -> None:
        """Hand one catalogue event to the scanner, valid sites only."""
        if isinstance(event, SitesAssigned):
            started = time.monotonic()
            sites = self._valid(event.sites)
            self._owned = {site.id for site in sites}
            self._scanner.set_sites(sites, event.since)
            self.stats.assignments += 1
            scheduled_s = round(time.monotonic() - started, 3)
            log.info(
                "sites assigned",
                extra={"sites": len(sites), "scheduled_s": scheduled_s, **event.details},
            )
        else:
            upserted = self._valid(event.upserted)
            removed = [i for i in event.removed if i in self._owned]
            self._owned.difference_update(removed)
            self._owned.update(site.id for site in upserted)
            self._scanner.update_sites(upserted, removed)
            self.stats.upserted += len(upserted)
            self.stats.removed += len(removed)
            if upserted or removed:
                log.info(
                    "sites changed", extra={"upserted": len(upserted), "removed": len(removed)}
                )

    def _valid(self, sites: Iterable[Site]) -> list[Site]:
        valid = []
        for site in sites:
            problem = site_problem(site, self._patterns)
            if problem is None:
                valid.append(site)
                continue
            self.stats.invalid += 1
            log.error(
                "invalid site skipped",
                extra={
                    "site_id": site.id[:200],
                    "problem": problem[:300],
                    "invalid_total": self.stats.invalid,
                },
            )
        return valid


__all__ = ["CatalogueDiff", "CatalogueFollower", "SitesAssigned", "SitesChanged", "diff_catalogue"]
