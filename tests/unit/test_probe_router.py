"""The kind router: each site goes to the prober of its kind, unknown kinds are data."""

from __future__ import annotations

from typing import ClassVar

import attrs

from sitemon_adapters.probe.router import ProbeRouter
from sitemon_core.models import CheckResult, ErrorKind, HttpSpec, Site
from sitemon_core.ports import SiteProber
from tests.unit.fakes import EPOCH, ManualClock, ScriptedProber, site


@attrs.frozen
class TcpSpec:
    """A stand-in for a probe kind sitemon does not have yet."""

    kind: ClassVar[str] = "tcp"
    address: str

    @property
    def target(self) -> str:
        return self.address


def tcp_site() -> Site:
    return Site(id="db", interval_s=10.0, timeout_s=1.0, spec=TcpSpec("db.local:5432"))  # type: ignore[arg-type]


def test_the_kind_comes_from_the_spec() -> None:
    http = site("a")
    assert (
        (http.kind, http.target)
        == (HttpSpec.kind, "http://127.0.0.1:9/a")
        == ("http", http.spec.url)
    )
    assert (tcp_site().kind, tcp_site().target) == ("tcp", "db.local:5432")


async def test_each_kind_goes_to_its_prober() -> None:
    clock = ManualClock()
    http, tcp = ScriptedProber(clock), ScriptedProber(clock)
    router: SiteProber = ProbeRouter({"http": http, "tcp": tcp}, region="r", clock=clock)
    await router.probe(site("a"))
    await router.probe(tcp_site())
    await router.probe(site("b"))
    assert list(http.seen) == ["a", "b"]
    assert list(tcp.seen) == ["db"]


async def test_routing_adds_no_coroutine_of_its_own() -> None:
    clock = ManualClock()
    http = ScriptedProber(clock)
    pending = ProbeRouter({"http": http}, region="r", clock=clock).probe(site("a"))
    assert pending.cr_code is ScriptedProber.probe.__code__  # the engine's own coroutine
    assert isinstance(await pending, CheckResult)


async def test_a_kind_without_prober_is_an_internal_result() -> None:
    clock = ManualClock()
    router = ProbeRouter({"http": ScriptedProber(clock)}, region="r", clock=clock)
    result = await router.probe(tcp_site())
    assert (result.site_id, result.url, result.region) == ("db", "db.local:5432", "r")
    assert not result.ok and result.error_kind is ErrorKind.INTERNAL
    assert result.error_message == "no prober for kind 'tcp' (have: http)"
    assert result.started_at == EPOCH
    assert router.kinds == {"http"}


async def test_the_container_puts_the_selected_http_engine_behind_the_router() -> None:
    from sitemon_adapters.probe.aiohttp.prober import AiohttpSiteProber
    from sitemon_cli.config import parse_config
    from sitemon_cli.container import build_container

    container = build_container(parse_config("c", {"sites": [{"url": "http://127.0.0.1:9/"}]}))
    try:
        router = await container.prober()
        assert isinstance(router, ProbeRouter) and router.kinds == {"http", "tcp", "dns"}
        assert isinstance(await container.http_prober(), AiohttpSiteProber)
        assert (await container.scanner())._prober is router
    finally:
        await container.shutdown_resources()
