"""The catalogue in the core: the diff ``sites apply`` publishes, the shared wall-clock grid,
and the follower that keeps a scanner's sites equal to its share."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sitemon_core.catalogue import CatalogueFollower, diff_catalogue
from sitemon_core.models import DnsSpec, Site, TcpSpec
from sitemon_core.ports import CatalogueEvent, SitesAssigned, SitesChanged
from sitemon_core.scanner import Scanner
from sitemon_core.schedule import Schedule, next_grid_slot
from sitemon_core.site_rules import site_problem, url_problem
from tests.unit.fakes import ListPublisher, ManualClock, ScriptedProber, settle, site

IDS = st.sampled_from([f"s{i}" for i in range(8)])
VERSIONS = st.builds(lambda i, v: site(i, interval=float(v)), IDS, st.integers(1, 3))
CATALOGUES = st.lists(VERSIONS).map(lambda sites: {s.id: s for s in sites})


@given(CATALOGUES, CATALOGUES)
def test_applying_the_diff_yields_exactly_the_desired_catalogue(
    current: dict[str, Site], desired: dict[str, Site]
) -> None:
    diff = diff_catalogue(current, desired.values())
    after = dict(current)
    for gone in diff.removed:
        del after[gone]
    after.update({s.id: s for s in (*diff.added, *diff.changed)})
    assert after == desired
    assert not ({s.id for s in diff.added} & current.keys())
    assert all(current[s.id] != s for s in diff.changed)
    assert bool(diff) == (current != desired)


@given(
    st.text(min_size=1, max_size=20),
    st.floats(0.5, 3600),
    st.floats(0, 2e9),
    st.floats(-1000, 1000),
)
def test_the_grid_slot_is_the_next_one_and_the_same_for_every_scanner(
    site_id: str, interval: float, wall: float, mono_offset: float
) -> None:
    slot = next_grid_slot(site_id, interval, None, wall)
    assert wall < slot <= wall + interval * (1 + 1e-9) + 1e-6
    # Two scanners whose monotonic clocks differ schedule the same wall-clock instant.
    a, b = Schedule(wall_grid=True), Schedule(wall_grid=True)
    s = site("x", interval)
    a.add(s, now=100.0, wall=wall)
    b.add(s, now=100.0 + mono_offset, wall=wall)
    due_a, due_b = a.next_due(), b.next_due()
    assert due_a is not None and due_b is not None
    assert due_b - mono_offset == pytest.approx(due_a)


def test_site_rules_refuse_what_the_config_loader_refuses() -> None:
    good = site("ok")
    assert site_problem(good) is None
    bad = [
        Site.http(id="", url="http://x/", interval_s=1, timeout_s=1),
        Site.http(id="a", url="http://x/", interval_s=0, timeout_s=0),
        Site.http(id="a", url="http://x/", interval_s=1, timeout_s=2),
        Site.http(id="a", url="ftp://x/", interval_s=1, timeout_s=1),
        Site.http(id="a", url="http://x:99999/", interval_s=1, timeout_s=1),
        Site.http(id="a", url="http://x/", interval_s=1, timeout_s=1, method="PUT"),
        Site.http(id="a", url="http://x/", interval_s=1, timeout_s=1, regex="("),
        Site.http(
            id="a", url="http://x/", interval_s=1, timeout_s=1, expected_statuses=frozenset({42})
        ),
        Site.http(id="a", url="http://x/", interval_s=float("nan"), timeout_s=1),
    ]
    assert all(site_problem(s) for s in bad)


class FakeCatalogue:
    """A SiteCatalogue fed by the test."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[CatalogueEvent] = asyncio.Queue()
        self.left = False

    async def events(self) -> AsyncIterator[CatalogueEvent]:
        while True:
            yield await self.queue.get()

    async def leave(self) -> None:
        self.left = True

    def describe(self) -> str:
        return "fake"


async def test_the_follower_schedules_its_share_applies_changes_and_skips_invalid_sites() -> None:
    clock = ManualClock()
    prober = ScriptedProber(clock)
    scanner = Scanner(prober, ListPublisher(), clock, region="t", wall_grid=True)
    catalogue = FakeCatalogue()
    follower = CatalogueFollower(catalogue, scanner)
    task = asyncio.create_task(follower.run())
    broken = Site.http(id="bad", url="ftp://x/", interval_s=10, timeout_s=1)
    dns = Site(id="dns", interval_s=10, timeout_s=1, spec=DnsSpec(name="example.com"))
    bad_tcp = Site(id="bad-tcp", interval_s=10, timeout_s=1, spec=TcpSpec(host="db", port=65536))
    await catalogue.queue.put(SitesAssigned((site("a"), site("b"), broken, dns, bad_tcp)))
    await settle()
    assert sorted(s.id for s in scanner.sites()) == ["a", "b", "dns"]
    await catalogue.queue.put(SitesChanged(upserted=(site("c"), site("a", 20)), removed=("b",)))
    await settle()
    assert {s.id: s.interval_s for s in scanner.sites()} == {"a": 20.0, "c": 10.0, "dns": 10.0}
    await catalogue.queue.put(SitesAssigned((site("c"),)))  # a rebalance took "a" away
    await settle()
    assert [s.id for s in scanner.sites()] == ["c"]
    follower.request_stop()
    stats = await task
    assert catalogue.left
    assert (stats.invalid, stats.assignments) == (2, 2)


async def test_update_sites_touches_only_the_changed_sites() -> None:
    clock = ManualClock()
    scanner = Scanner(ScriptedProber(clock), ListPublisher(), clock, region="t", wall_grid=True)
    scanner.set_sites([site("a"), site("b")])
    change = scanner.update_sites([site("a"), site("c"), site("b", 30)], ["zz"])
    assert (change.added, change.changed, change.removed) == (("c",), ("b",), ())
    change = scanner.update_sites([], ["a", "zz"])
    assert change.removed == ("a",)
    assert sorted(s.id for s in scanner.sites()) == ["b", "c"]


@given(
    st.text(st.characters(codec="ascii"), max_size=40).map(lambda s: "http://" + s)
    | st.from_regex(r"(https?|ftp)://[a-zA-Z0-9.:\[\]@-]{0,14}([/?#][ -~]{0,8})?", fullmatch=True)
)
def test_the_fast_url_check_agrees_with_urlsplit(url: str) -> None:
    assert (url_problem(url) is None) == (_slow_url_problem(url) is None)


@pytest.mark.parametrize(
    "url", ["http://a.test:65535/x", "https://h/", "http://h:65536/", "http://:80/", "ftp://h/"]
)
def test_the_fast_url_check_on_edges(url: str) -> None:
    assert (url_problem(url) is None) == (_slow_url_problem(url) is None)


def _slow_url_problem(url: str) -> str | None:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        return "invalid"
    ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    return None if ok else "not http"


def test_a_site_taken_over_runs_the_slot_missed_since_its_owner_stopped_then_its_grid() -> None:
    s = site("x", 10.0)
    wall = 1_000_000.0
    slot = next_grid_slot("x", 10.0, None, wall - 10.0)  # the last slot at or before wall
    taken = Schedule(wall_grid=True)
    taken.add(s, now=50.0, wall=wall, since=slot - 0.5)  # the owner stopped before it
    assert taken.next_due() == pytest.approx(50.0 - (wall - slot))  # due already: runs now
    ((_, scheduled),) = taken.pop_due(50.0)
    assert taken.next_due() == pytest.approx(scheduled + 10.0)  # then back on the grid
    kept = Schedule(wall_grid=True)
    kept.add(s, now=50.0, wall=wall, since=slot + 0.5)  # checked by the owner: not again
    assert kept.next_due() == pytest.approx(50.0 + (slot + 10.0 - wall))


async def test_the_follower_passes_since_and_stops_scheduling_before_it_leaves() -> None:
    clock = ManualClock()
    scanner = Scanner(ScriptedProber(clock), ListPublisher(), clock, region="t", wall_grid=True)
    catalogue = FakeCatalogue()
    follower = CatalogueFollower(catalogue, scanner)
    task = asyncio.create_task(follower.run())
    now_wall = clock.utcnow().timestamp()
    await catalogue.queue.put(SitesAssigned((site("a", 10.0),), since=now_wall - 10.0))
    await settle()
    due = scanner._schedule.next_due()
    assert due is not None and due <= clock.monotonic()  # its missed slot runs at once
    follower.request_stop()
    await task
    assert catalogue.left and scanner.sites() == []


class RefusingEveryRegex:
    """A PatternCheck whose regex engine takes nothing."""

    def regex_problem(self, pattern: str) -> str | None:
        return f"engine refuses {pattern!r}"

    def json_path_problem(self, path: str) -> str | None:
        return None


def test_the_follower_checks_patterns_with_the_engines_it_is_given() -> None:
    clock = ManualClock()
    scanner = Scanner(ScriptedProber(clock), ListPublisher(), clock, region="t", wall_grid=True)
    follower = CatalogueFollower(FakeCatalogue(), scanner, patterns=RefusingEveryRegex())
    follower.apply(SitesAssigned((site("plain"), site("with-regex", regex="ok"))))
    assert [s.id for s in scanner.sites()] == ["plain"]
    assert follower.stats.invalid == 1
