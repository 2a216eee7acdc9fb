"""The status page in a real browser (Debian's Chromium via Playwright), served on loopback
from the memory adapter: every site shown, live refresh without reload, the phase chart,
no console error, nothing fetched from off the machine, hostile strings inert, screenshots;
and a real target switched from 200 to 500 behind a real scanner, bus and persister.

The browser starts once per session; when it cannot, every test here fails (never skips).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import attrs
import pytest
from aiohttp import web
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, Request

from sitemon_adapters.bus.memory import InMemoryStatusBus
from sitemon_adapters.clock import SystemClock
from sitemon_adapters.probe.aiohttp.prober import AiohttpSiteProber
from sitemon_adapters.store.memory_queries import InMemoryStatusQueries
from sitemon_adapters.web import WebOptions
from sitemon_core.alerting.models import Incident
from sitemon_core.models import CheckResult, ErrorKind, PhaseTimings, Site
from sitemon_core.persister import Persister
from sitemon_core.scanner import Scanner
from tests.e2e.browser import ServedApp, launch_chromium
from tests.web_fixtures import FakeIncidents

HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>javascript:alert(3)'
HOSTILE_ID = "evil" + HOSTILE
REFRESH_S = 1.0
DOCS_SCREENSHOT = Path(__file__).parents[2] / "docs" / "status-page.png"
# Watches for anything that ran although it should not: CSP refusals and dialogs.
# (wait_for_function would need 'unsafe-eval'; the tests wait on selectors instead.)
WATCH_SCRIPT = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__violations.push(e.violatedDirective + " " + e.blockedURI));
"""
SITES = {  # id: (tags, regions that fail lately, error)
    "www": (("web",), (), ""),
    "shop": (("web",), (), ""),
    "blog": (("web",), (), ""),
    "flip": (("web",), (), ""),
    "api": (("api",), (), ""),
    "auth": (("api",), (), ""),
    "payments": (("api",), ("us",), "HTTP 503 from upstream"),
    "images": (("cdn",), (), ""),
    "legacy": ((), ("eu", "us"), "connection refused"),
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for this module's tests; fails them when it cannot start.

    Module scope, not session: Playwright's sync API keeps an event loop running on the
    main thread while it is started, and the asyncio tests of later modules need that
    thread free (they failed with "Cannot run the event loop while another loop is
    running")."""
    try:
        playwright, chromium = launch_chromium()
    except Exception as exc:
        pytest.fail(f"could not start Chromium ({'/usr/bin/chromium'}): {exc}", pytrace=False)
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()


def timings(total: float) -> PhaseTimings:
    return PhaseTimings(
        dns_ms=total * 0.08,
        connect_ms=total * 0.12,
        tls_ms=total * 0.25,
        ttfb_ms=total * 0.45,
        transfer_ms=total * 0.10,
    )


def check(site_id: str, region: str, at: datetime, *, ok: bool, error: str = "") -> CheckResult:
    # Deterministic variety: a daily wave plus a per-site offset.
    total = 80 + 15 * len(site_id) + 40 * ((at.hour + len(region)) % 6)
    return CheckResult(
        check_id=f"{site_id}|{region}|{at.isoformat()}",
        site_id=site_id,
        url=f"https://{site_id}.example.org/",
        region=region,
        started_at=at,
        ok=ok,
        total_ms=total,
        status_code=200 if ok else (None if "refused" in error else 503),
        timings=timings(total),
        error_kind=ErrorKind.CONNECT if "refused" in error else ErrorKind.NONE,
        error_message=error,
    )


def history(now: datetime) -> list[CheckResult]:
    """30 days of hourly checks from two regions, then the last hour every 10 minutes."""
    results = []
    instants = [now - timedelta(hours=h) for h in range(30 * 24, 1, -1)]
    instants += [now - timedelta(minutes=m) for m in range(60, -1, -10)]
    for site_id, (_, failing, error) in SITES.items():
        for n, at in enumerate(instants):
            for region in ("eu", "us"):
                lately = at > now - timedelta(hours=3)
                ok = not (lately and region in failing) and (n + len(site_id)) % 97 != 0
                results.append(check(site_id, region, at, ok=ok, error="" if ok else error))
    return results


def catalogue(hostile: bool) -> list[Site]:
    sites = [
        Site.http(
            id=site_id,
            url=f"https://{site_id}.example.org/",
            interval_s=60,
            timeout_s=5,
            tags=frozenset(tags),
        )
        for site_id, (tags, _, _) in SITES.items()
    ]
    if hostile:
        sites.append(
            Site.http(
                id=HOSTILE_ID,
                url="javascript:alert(4)//" + HOSTILE,
                interval_s=60,
                timeout_s=5,
                tags=frozenset({"hostile", HOSTILE}),
            )
        )
    return sites


def hostile_results(now: datetime) -> list[CheckResult]:
    return [
        CheckResult(
            check_id=f"hostile-{m}",
            site_id=HOSTILE_ID,
            url="javascript:alert(4)//" + HOSTILE,
            region=HOSTILE,
            started_at=now - timedelta(minutes=m),
            ok=False,
            total_ms=50.0,
            status_code=500,
            final_url="javascript:alert(5)//" + HOSTILE,
            error_message=HOSTILE,
        )
        for m in range(0, 120, 10)
    ]


def incidents(now: datetime, hostile: bool) -> FakeIncidents:
    """Open incidents of the failing sites, one resolved last week, the hostile one's."""

    def make(site_id: str, ago: timedelta, error: str, resolved: bool = False) -> Incident:
        refused = "refused" in error
        return Incident(
            id=f"{site_id}-{ago}",
            site_id=site_id,
            url=f"https://{site_id}.example.org/",
            opened_at=now - ago,
            resolved_at=now - ago + timedelta(minutes=42) if resolved else None,
            error_kind="connect" if refused else "none",
            error_message=error,
            status_code=None if refused else 503,
            regions=("eu", "us") if refused else ("us",),
        )

    found = [
        make("payments", timedelta(hours=3), "HTTP 503 from upstream"),
        make("legacy", timedelta(hours=3), "connection refused"),
        make("payments", timedelta(days=6), "HTTP 503 from upstream", resolved=True),
    ]
    if hostile:
        found.append(make(HOSTILE_ID, timedelta(hours=1), HOSTILE))
    return FakeIncidents(found)


def serve(hostile: bool) -> ServedApp:
    now = datetime.now(UTC)
    queries = InMemoryStatusQueries(catalogue(hostile))
    app = ServedApp(
        queries,
        WebOptions(refresh_s=REFRESH_S, title="sitemon status"),
        incidents(now, hostile),
    )
    app.start()
    app.call(queries.save(history(now) + (hostile_results(now) if hostile else [])))
    return app


@pytest.fixture
def served() -> Iterator[ServedApp]:
    """The web app with every sample site, the hostile one included."""
    app = serve(hostile=True)
    try:
        yield app
    finally:
        app.stop()


class Watched:
    """A page plus everything it did that a test may object to."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.console_errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.navigations = 0
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.console_errors.append(f"pageerror: {exc}"))
        page.on("request", self._request)
        page.on("dialog", self._dialog)
        page.on("framenavigated", self._navigated)
        page.add_init_script(WATCH_SCRIPT)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def _request(self, request: Request) -> None:
        self.requests.append(request.url)

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _navigated(self, frame: object) -> None:
        if frame is self.page.main_frame:
            self.navigations += 1

    def refreshes(self) -> int:
        return int(self.page.evaluate("Number(document.body.dataset.refreshes || 0)"))

    def assert_clean(self) -> None:
        """No console error, no dialog, no CSP refusal, no request off 127.0.0.1."""
        assert self.console_errors == []
        assert self.dialogs == []
        assert self.page.evaluate("window.__violations") == []
        outside = [u for u in self.requests if urlsplit(u).hostname != "127.0.0.1"]
        assert outside == []
        assert self.requests  # the listener saw the page's own requests


@pytest.fixture
def desktop(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield Watched(context.new_page())
    finally:
        context.close()


def test_the_page_shows_every_site(served: ServedApp, desktop: Watched) -> None:
    desktop.page.goto(served.base + "/")
    shown = desktop.page.locator("li.site").evaluate_all("els => els.map(e => e.dataset.site)")
    assert sorted(shown) == sorted([*SITES, HOSTILE_ID])
    assert desktop.page.locator("li.site[data-site='legacy'] .badge-state").inner_text() == "DOWN"
    payments = desktop.page.locator("li.site[data-site='payments']")
    assert payments.locator(".badge-state").inner_text() == "DEGRADED"
    assert payments.locator("li.region.state-down .rname").inner_text() == "us"
    assert payments.locator("svg.bar rect").count() == 90
    open_ = desktop.page.locator("#incidents li.incident.open .name").all_inner_texts()
    assert sorted(open_) == sorted(["payments", "legacy", HOSTILE_ID])
    desktop.assert_clean()


def test_a_site_going_down_turns_red_with_its_error_within_one_refresh(
    served: ServedApp, desktop: Watched
) -> None:
    page = desktop.page
    page.goto(served.base + "/")
    row = page.locator("li.site[data-site='flip']")
    assert row.get_attribute("class") == "site state-up"
    page.wait_for_selector("body[data-refreshes]")
    page.evaluate("window.__sameDocument = true")
    before = desktop.refreshes()
    served.call(
        served.queries.save(
            [
                check("flip", region, datetime.now(UTC), ok=False, error="HTTP 500: it broke")
                for region in ("eu", "us")
            ]
        )
    )
    page.wait_for_selector("li.site[data-site='flip'].state-down", timeout=15_000)
    # The refresh in flight when the result landed may predate it: one more is the limit.
    assert desktop.refreshes() <= before + 2
    assert row.locator(".badge-state").inner_text() == "DOWN"
    assert row.locator(".error").inner_text() == "bad_status: HTTP 500: it broke"
    red = row.evaluate("e => getComputedStyle(e).borderLeftColor")
    assert red in {"rgb(207, 34, 46)", "rgb(248, 81, 73)"}  # --down, light or dark
    assert page.evaluate("window.__sameDocument") is True
    assert desktop.navigations == 1
    desktop.assert_clean()


def test_a_slow_site_turns_degraded_with_its_certificate_days_left(
    served: ServedApp, desktop: Watched
) -> None:
    """Degraded (healthy but slow) has its own colour and word, on refresh and as rendered
    by the server; the certificate's days left show beside it."""
    page = desktop.page
    page.goto(served.base + "/")
    page.wait_for_selector("body[data-refreshes]")
    expires = datetime.now(UTC) + timedelta(days=3, hours=12)
    served.call(
        served.queries.save(
            [
                attrs.evolve(
                    check("flip", region, datetime.now(UTC), ok=True),
                    degraded=True,
                    tls_not_after=expires,
                )
                for region in ("eu", "us")
            ]
        )
    )
    page.wait_for_selector("li.site[data-site='flip'].state-degraded", timeout=15_000)
    row = page.locator("li.site[data-site='flip']")
    assert row.locator(".badge-state").inner_text() == "DEGRADED"
    amber = row.evaluate("e => getComputedStyle(e).borderLeftColor")
    assert amber in {"rgb(154, 103, 0)", "rgb(210, 153, 34)"}  # --degraded, light or dark
    assert row.locator(".cert").inner_text() == "certificate: 3 days left"
    assert row.locator("li.region.state-degraded").count() == 2
    page.goto(served.base + "/sites/flip")
    detail = page.locator("#detail")
    assert detail.locator(".badge-state").inner_text() == "DEGRADED"
    assert "degraded" in detail.locator("table.region-table").inner_text()
    assert detail.locator(".cert.cert-expiring").inner_text() == "certificate: 3 days left"
    desktop.assert_clean()


def test_the_chart_has_one_stacked_bar_per_hour(served: ServedApp, desktop: Watched) -> None:
    page = desktop.page
    page.goto(served.base + "/sites/www")
    page.wait_for_selector("#chart g.point")
    api = page.request.get(served.base + "/api/v1/sites/www/latency?bucket=1h").json()
    expected = len(api["points"])
    assert expected in {24, 25}  # the hours from the one holding now - 24 h to now
    assert page.locator("#chart g.point").count() == expected
    for phase in ("dns", "connect", "tls", "ttfb", "transfer"):
        assert page.locator(f"#chart rect.seg-{phase}").count() == expected
    assert page.locator("#chart rect.p95-mark").count() == expected
    assert page.locator("table.region-table tbody tr").count() == 2
    desktop.assert_clean()


def test_the_hostile_site_shows_its_strings_and_runs_nothing(
    served: ServedApp, desktop: Watched
) -> None:
    page = desktop.page
    for path in ["/", "/sites/" + quote(HOSTILE_ID, safe="")]:
        page.goto(served.base + path)
        assert page.locator("img").count() == 0  # as the server rendered it
        # Let the script re-render from the API once: both renderings must be inert.
        page.wait_for_selector("body[data-refreshes]")
        assert page.locator("img").count() == 0
        assert HOSTILE in page.locator("#incidents").inner_text()  # its open incident
        assert HOSTILE in page.locator("main").inner_text()
        assert page.locator("a[href^='javascript:' i]").count() == 0
    badge = page.goto(served.base + "/badge/" + quote(HOSTILE_ID, safe="") + "/status.svg")
    assert badge is not None and badge.status == 200
    desktop.assert_clean()


ENCODED_IDS = ["example.com/health", "ü/x?y#z", "100% a%2Fb", "<b>/x</b>"]


def test_a_link_to_a_site_with_a_slash_in_its_id_opens_its_page(desktop: Watched) -> None:
    """Server-rendered links and the ones status.js rebuilds on refresh both reach the site:
    its detail page names it, and the page's own API calls, chart and badges answer."""
    now = datetime.now(UTC)
    queries = InMemoryStatusQueries(
        [
            Site.http(id=i, url="https://x.example.org/", interval_s=60, timeout_s=5)
            for i in ENCODED_IDS
        ]
    )
    app = ServedApp(queries, WebOptions(refresh_s=REFRESH_S, title="ids"), FakeIncidents([]))
    app.start()
    try:
        app.call(
            queries.save([check(i, "eu", now - timedelta(minutes=5), ok=True) for i in ENCODED_IDS])
        )
        page = desktop.page
        for refreshed in (False, True):
            for site_id in ENCODED_IDS:
                page.goto(app.base + "/")
                if refreshed:  # the links status.js wrote, not the server's
                    page.wait_for_selector("body[data-refreshes]")
                link = page.locator("li.site", has=page.get_by_text(site_id, exact=True))
                link.locator("a.name").click()
                page.wait_for_selector("#chart rect.seg-ttfb")  # site, latency, incidents APIs
                assert page.locator("#detail h1 .name").inner_text() == site_id
                assert urlsplit(page.url).path == "/sites/" + quote(site_id, safe="")
                assert "refresh failed" not in page.locator("#refreshed").inner_text()
        for badge in page.locator("p.badges a").evaluate_all("els => els.map(e => e.href)"):
            response = page.request.get(badge)  # not goto: an SVG page asks for /favicon.ico
            assert response.status == 200, badge
        desktop.assert_clean()
    finally:
        app.stop()


def test_screenshots_at_desktop_and_phone_width(
    browser: Browser, tmp_path: Path, desktop: Watched
) -> None:
    showcase = serve(hostile=False)
    try:
        base = showcase.base
        desktop.page.goto(base + "/")
        desktop.page.wait_for_selector("body[data-refreshes]")
        desktop.page.screenshot(path=tmp_path / "status-desktop.png")
        desktop.page.goto(base + "/sites/payments")
        desktop.page.wait_for_selector("#chart g.point")
        desktop.page.screenshot(path=tmp_path / "site-desktop.png", full_page=True)
        desktop.assert_clean()
        phone = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, device_scale_factor=2
        )
        try:
            watched = Watched(phone.new_page())
            for name, path in [("status", "/"), ("site", "/sites/payments")]:
                watched.page.goto(base + path)
                watched.page.wait_for_selector("body[data-refreshes]")
                overflow = watched.page.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 390px"
                watched.page.screenshot(path=tmp_path / f"{name}-phone.png", full_page=True)
            watched.assert_clean()
        finally:
            phone.close()
    finally:
        showcase.stop()
    for name in ["status-desktop", "site-desktop", "status-phone", "site-phone"]:
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    if os.environ.get("SITEMON_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(tmp_path / "status-desktop.png", DOCS_SCREENSHOT)


class Pipeline:
    """A real target behind a real scanner, bus and persister feeding the web app's store:
    the standalone chain, minus the CLI (which the lead wires)."""

    def __init__(self, app: ServedApp) -> None:
        self.app = app
        self.status = 200
        self._parts: list[object] = []

    async def start(self) -> None:
        async def target(_request: web.Request) -> web.Response:
            return web.Response(status=self.status, text="switched")

        target_app = web.Application()
        target_app.router.add_get("/", target)
        self._runner = web.AppRunner(target_app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        clock = SystemClock()
        self._prober = AiohttpSiteProber(region="local", clock=clock)
        await self._prober.__aenter__()
        bus = InMemoryStatusBus()
        watched = Site.http(
            id="switched", url=f"http://127.0.0.1:{port}/", interval_s=0.5, timeout_s=2
        )
        self.app.queries.set_sites([watched])
        self._scanner = Scanner(
            self._prober, bus.publisher(), clock, region="local", max_jitter_s=0, sites=[watched]
        )
        self._persister = Persister(
            bus.subscriber("persister"),
            self.app.queries,  # type: ignore[arg-type]  # the read store's save() is all it uses
            clock,
            poll_timeout_s=0.1,
            drain_on_stop=True,
        )
        self._tasks = [
            asyncio.create_task(self._scanner.run()),
            asyncio.create_task(self._persister.run()),
        ]

    async def stop(self) -> None:
        self._scanner.request_stop()
        await self._tasks[0]
        self._persister.request_stop()
        await self._tasks[1]
        await self._prober.__aexit__(None, None, None)
        await self._runner.cleanup()


@pytest.fixture
def pipeline() -> Iterator[Pipeline]:
    app = ServedApp(InMemoryStatusQueries(), WebOptions(refresh_s=REFRESH_S))
    app.start()
    chain = Pipeline(app)
    app.call(chain.start())
    try:
        yield chain
    finally:
        app.call(chain.stop())
        app.stop()


def test_a_real_target_switched_from_200_to_500_turns_red(
    pipeline: Pipeline, desktop: Watched
) -> None:
    page = desktop.page
    page.goto(pipeline.app.base + "/")
    page.wait_for_selector("li.site[data-site='switched'].state-up", timeout=15_000)
    page.evaluate("window.__sameDocument = true")
    pipeline.status = 500  # read by the target's handler on the server's loop
    page.wait_for_selector("li.site[data-site='switched'].state-down", timeout=15_000)
    row = page.locator("li.site[data-site='switched']")
    assert row.locator(".error").inner_text() == "bad_status: 500"
    assert page.evaluate("window.__sameDocument") is True
    desktop.assert_clean()
