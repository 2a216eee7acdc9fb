"""The Alertmanager notifier against a real Alertmanager (the ``alertmanager`` fixture):
alerts go in through the API v2 and come out of its webhook receiver, grouped, into the
fixture's sink; resolutions arrive as resolved; silences created through the API mute.

Each test uses its own ``alertname``, and Alertmanager groups by it, so tests sharing the
session's Alertmanager never see each other's notifications. Waits are polls with a
deadline; the only timers are Alertmanager's own (``group_wait`` 200 ms, ``group_interval``
500 ms in the fixture's config).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import attrs
import pytest
from devservices.alertmanager import AlertmanagerRig

from sitemon_adapters.notify.alertmanager import AlertmanagerNotifier, tags_label
from sitemon_core.alerting.models import Delivery, Incident, IncidentKind, Notification, Transition
from tests.contract import targets
from tests.contract.notify_sink import recording_sink

DEADLINE_S = 20.0
HOSTILE_ID = 'shop <!channel> "quoted"\nnext line `tick` & ünï'
TAGS = ("prod", "team: web/ops", "a,b", "50%")


class FakeClock:
    """A settable wall clock (``resend_every`` arithmetic without waiting)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def monotonic(self) -> float:
        return 0.0

    def utcnow(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def incident(site_id: str, *, resolved_at: datetime | None = None) -> Incident:
    return Incident(
        id=f"inc-{uuid.uuid4().hex[:8]}",
        site_id=site_id,
        url=f"https://{site_id.split(maxsplit=1)[0]}.example/",
        opened_at=datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1),
        resolved_at=resolved_at,
        error_kind="http_status",
        error_message="HTTP 503",
        status_code=503,
        regions=("eu", "us"),
        tags=TAGS,
    )


def notification(inc: Incident, transition: Transition = Transition.FIRING) -> Notification:
    return Notification(
        id=uuid.uuid4().hex,
        key=f"{inc.id}:{transition.value}",
        notifier="am",
        transition=transition,
        incident=inc,
        created_at=datetime.now(UTC),
    )


def resolve(inc: Incident) -> Incident:
    return attrs.evolve(inc, resolved_at=datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def alertname() -> str:
    return f"SiteDown_{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def notifier(alertmanager: AlertmanagerRig, alertname: str) -> AsyncIterator[Any]:
    async with AlertmanagerNotifier([alertmanager.url], alertname=alertname) as notifier:
        yield notifier


@pytest.fixture
async def api(alertmanager: AlertmanagerRig) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(f"{alertmanager.url}/") as session:
        yield session


def group_alerts(rig: AlertmanagerRig, alertname: str) -> list[list[dict[str, Any]]]:
    """The alerts of every webhook notification of the group ``alertname``, in order."""
    found = []
    for request in rig.sink.requests():
        payload = request.json()
        if payload["groupLabels"].get("alertname") == alertname:
            found.append(payload["alerts"])
    return found


async def wait_for(what: str, condition: Callable[[], Any]) -> Any:
    """Poll ``condition`` until it returns something truthy, for ``DEADLINE_S`` at most."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while not (result := condition()):
        if loop.time() > deadline:
            pytest.fail(f"not within {DEADLINE_S} s: {what}")
        await asyncio.sleep(0.05)
    return result


def alert_of(alerts: list[dict[str, Any]], site_id: str, status: str) -> dict[str, Any] | None:
    for alert in alerts:
        if alert["labels"]["site_id"] == site_id and alert["status"] == status:
            return alert
    return None


def received(
    rig: AlertmanagerRig, alertname: str, site_id: str, status: str
) -> Callable[[], dict[str, Any] | None]:
    def check() -> dict[str, Any] | None:
        for alerts in group_alerts(rig, alertname):
            if found := alert_of(alerts, site_id, status):
                return found
        return None

    return check


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_firing_alerts_arrive_grouped_with_labels_and_annotations(
    alertmanager: AlertmanagerRig, notifier: AlertmanagerNotifier, alertname: str
) -> None:
    first, second = incident(HOSTILE_ID), incident("api")
    deliveries = await asyncio.gather(*(notifier.send(notification(i)) for i in (first, second)))
    assert deliveries == [Delivery(delivered=True)] * 2

    def both_in_one() -> list[dict[str, Any]] | None:
        for alerts in group_alerts(alertmanager, alertname):
            if alert_of(alerts, HOSTILE_ID, "firing") and alert_of(alerts, "api", "firing"):
                return alerts
        return None

    alerts = await wait_for("one notification with both sites", both_in_one)
    alert = alert_of(alerts, HOSTILE_ID, "firing")
    assert alert is not None
    assert alert["labels"] == {
        "alertname": alertname,
        "site_id": HOSTILE_ID,  # any string is a valid label value, and arrives unchanged
        "severity": "critical",
        "tags": tags_label(TAGS),
        "tag_prod": "true",
    }
    assert alert["annotations"]["url"] == first.url
    assert alert["annotations"]["error"] == "http_status: HTTP 503"
    assert alert["annotations"]["regions"] == "eu, us"
    assert alert["annotations"]["summary"].startswith(f"Site {HOSTILE_ID} is down")
    assert ts(alert["startsAt"]) == first.opened_at


async def test_resolved_arrives_as_resolved(
    alertmanager: AlertmanagerRig, notifier: AlertmanagerNotifier, alertname: str
) -> None:
    inc = incident("shop")
    assert (await notifier.send(notification(inc))).delivered
    await wait_for("firing", received(alertmanager, alertname, "shop", "firing"))

    done = resolve(inc)
    assert (await notifier.send(notification(done, Transition.RESOLVED))).delivered
    alert = await wait_for("resolved", received(alertmanager, alertname, "shop", "resolved"))
    assert ts(alert["endsAt"]) == done.resolved_at
    assert ts(alert["startsAt"]) == inc.opened_at


async def test_reminder_keeps_the_alert_firing(
    alertmanager: AlertmanagerRig, api: aiohttp.ClientSession, alertname: str
) -> None:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    inc = incident("shop")
    async with AlertmanagerNotifier(
        [alertmanager.url], alertname=alertname, clock=clock, resend_every=timedelta(minutes=5)
    ) as notifier:
        assert (await notifier.send(notification(inc))).delivered
        ends = [await stored_ends_at(api, alertname)]
        clock.now += timedelta(minutes=5)
        assert (await notifier.send(notification(inc, Transition.REMINDER))).delivered
        ends.append(await stored_ends_at(api, alertname))
    assert ends[0] == clock.now - timedelta(minutes=5) + timedelta(minutes=20)
    assert ends[1] == ends[0] + timedelta(minutes=5)


async def stored_ends_at(api: aiohttp.ClientSession, alertname: str) -> datetime:
    """The ``endsAt`` Alertmanager holds for the group's only alert."""
    async with api.get("api/v2/alerts", params={"filter": f'alertname="{alertname}"'}) as resp:
        assert resp.status == 200
        [alert] = await resp.json()
    return ts(alert["endsAt"])


async def create_silence(api: aiohttp.ClientSession, matchers: dict[str, str]) -> str:
    """A one-hour silence of exact ``matchers``, through the API; returns its id."""
    now = datetime.now(UTC)
    body = {
        "matchers": [
            {"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in matchers.items()
        ],
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat(),
        "createdBy": "sitemon tests",
        "comment": "maintenance",
    }
    async with api.post("api/v2/silences", json=body) as resp:
        assert resp.status == 200, await resp.text()
        return str((await resp.json())["silenceID"])


def silenced_by(alerts: list[dict[str, Any]], site_id: str) -> list[str]:
    for alert in alerts:
        if alert["labels"]["site_id"] == site_id:
            return list(alert["status"]["silencedBy"])
    return []


async def test_silence_created_through_the_api_mutes_the_site(
    alertmanager: AlertmanagerRig,
    notifier: AlertmanagerNotifier,
    api: aiohttp.ClientSession,
    alertname: str,
) -> None:
    silence = await create_silence(api, {"alertname": alertname, "site_id": "muted"})
    muted, loud = incident("muted"), incident("loud")
    try:
        for inc in (muted, loud):
            assert (await notifier.send(notification(inc))).delivered

        async def held_silenced() -> bool:
            query = {"filter": f'alertname="{alertname}"'}
            async with api.get("api/v2/alerts", params=query) as resp:
                return silence in silenced_by(await resp.json(), "muted")

        await wait_for_async("the alert marked silenced", held_silenced)
        # The group's notification goes out with the loud site only; after it resolves
        # (a second notification of the group), the muted one has still never been sent.
        await wait_for("loud firing", received(alertmanager, alertname, "loud", "firing"))
        resolved = notification(resolve(loud), Transition.RESOLVED)
        assert (await notifier.send(resolved)).delivered
        await wait_for("loud resolved", received(alertmanager, alertname, "loud", "resolved"))
        sent = [
            a["labels"]["site_id"]
            for alerts in group_alerts(alertmanager, alertname)
            for a in alerts
        ]
        assert "muted" not in sent
        assert "loud" in sent
    finally:
        async with api.delete(f"api/v2/silence/{silence}") as resp:
            assert resp.status == 200


async def wait_for_async(what: str, condition: Callable[[], Any]) -> None:
    """``wait_for`` for an async condition."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while not await condition():
        if loop.time() > deadline:
            pytest.fail(f"not within {DEADLINE_S} s: {what}")
        await asyncio.sleep(0.05)


async def test_any_tag_and_site_string_is_accepted(
    notifier: AlertmanagerNotifier, api: aiohttp.ClientSession, alertname: str
) -> None:
    """Alertmanager validates label names and values: the label scheme stays valid whatever
    the tags and the site id hold."""
    odd_tags = ("", " ", "\n", 'tag=with"quote', "ünï", "x" * 300, "tag_", "0", "a-b", "%2C")
    inc = attrs.evolve(incident(HOSTILE_ID), tags=odd_tags)
    delivery = await notifier.send(notification(inc))
    assert delivery == Delivery(delivered=True)
    async with api.get("api/v2/alerts", params={"filter": f'alertname="{alertname}"'}) as resp:
        [alert] = await resp.json()
    assert alert["labels"]["tags"] == tags_label(odd_tags)
    plain = {"tag_tag_", "tag_0", "tag_" + "x" * 300}
    assert {k for k in alert["labels"] if k.startswith("tag_")} == plain


async def test_several_alertmanagers_delivered_if_any_accepts() -> None:
    refused = f"http://127.0.0.1:{targets.closed_port()}"
    async with recording_sink() as good, recording_sink() as bad:
        bad.status = 400
        cases = {
            (good.url, refused): (True, False),
            (refused, refused): (False, True),
            (bad.url, refused): (False, True),  # the refused one may come back
            (bad.url, bad.url): (False, False),
        }
        for urls, expected in cases.items():
            async with AlertmanagerNotifier(list(urls), bearer_token="tok-secret-123") as am:
                delivery = await am.send(notification(incident("shop")))
            assert (delivery.delivered, delivery.retriable) == expected, (urls, delivery)
            assert "tok-secret-123" not in delivery.error
        assert good.requests[0].headers["Authorization"] == "Bearer tok-secret-123"
        assert good.requests[0].path == "/api/v2/alerts"


async def test_a_certificate_warning_is_its_own_warning_alert_beside_site_down(
    alertmanager: AlertmanagerRig, notifier: AlertmanagerNotifier, alertname: str
) -> None:
    site_id = f"cert-{uuid.uuid4().hex[:8]}"  # the CertificateExpiring group is shared
    down = incident(site_id)
    not_after = down.opened_at + timedelta(days=3, hours=1)
    warning = attrs.evolve(
        incident(site_id),
        error_kind="certificate",
        kind=IncidentKind.CERTIFICATE,
        tls_not_after=not_after,
    )
    assert (await notifier.send(notification(down))).delivered
    assert (await notifier.send(notification(warning))).delivered
    alert = await wait_for(
        "the certificate warning",
        received(alertmanager, "CertificateExpiring", site_id, "firing"),
    )
    assert alert["labels"]["severity"] == "warning"
    assert alert["annotations"]["days_left"] == "3"
    assert ts(alert["annotations"]["not_after"]) == not_after
    assert "certificate expires" in alert["annotations"]["summary"]
    await wait_for("the outage", received(alertmanager, alertname, site_id, "firing"))

    renewed = resolve(warning)
    assert (await notifier.send(notification(renewed, Transition.RESOLVED))).delivered
    await wait_for(
        "the warning resolved",
        received(alertmanager, "CertificateExpiring", site_id, "resolved"),
    )
    # The outage is still firing: Alertmanager lists it as active.
    async with aiohttp.ClientSession() as session:
        url = f"{alertmanager.url}/api/v2/alerts?filter=site_id%3D%22{site_id}%22"
        async with session.get(url) as response:
            active = await response.json()
    assert [a["labels"]["alertname"] for a in active] == [alertname]
