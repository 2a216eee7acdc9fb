"""The ``Notifier`` contract, over every notifier, against local receivers.

One attempt, classified: delivered on 2xx; retriable on 5xx, 429, a refused connection or a
timeout; not retriable on other 4xx (and redirects, which are not followed). Whatever the
receiver does (hang, answer 100 MB, drip bytes) the attempt ends within its timeout.
Secrets never reach an error, a log line or a repr, and hostile site strings arrive inert in
each format.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sitemon_adapters.notify.alertmanager import AlertmanagerNotifier
from sitemon_adapters.notify.slack import SlackNotifier
from sitemon_adapters.notify.webhook import WebhookNotifier
from sitemon_core.alerting.models import Delivery, Incident, Notification, Transition
from sitemon_core.alerting.ports import Notifier
from tests.contract import targets
from tests.contract.notify_sink import SLOW_ENDPOINTS, Recorded, RecordingSink, recording_sink

TIMEOUT_S = 1.0
# Generous for a loaded 2-core machine; a notifier that waited for the whole 100 MB or the
# whole drip would take minutes.
SLACK_S = 2.0
WEBHOOK_SECRET = "whsec-7f2a9c1e-0b5d"
AM_USER = "am-user"
AM_PASSWORD = "am-pass-9c1e4b"
SLACK_TOKEN = "XyZslackTOKEN42abc"
SECRETS = (
    WEBHOOK_SECRET,
    AM_PASSWORD,
    base64.b64encode(f"{AM_USER}:{AM_PASSWORD}".encode()).decode(),
    SLACK_TOKEN,
)
HOSTILE = (
    "evil<script>alert('x')</script> <!channel> <!here|hi> @channel @here "
    "\"double\" 'single' `tick` & &amp; [link](http://evil.example) "
    "<http://evil.example|click>\nsecond line\r\nthird\u2028line"
)
KINDS = ["alertmanager", "webhook", "slack"]

NotifierCM = AbstractAsyncContextManager[Any]


def make_notifier(kind: str, base_url: str, timeout_s: float = TIMEOUT_S) -> Any:
    """A notifier of ``kind`` posting to ``base_url``, carrying every kind of secret."""
    if kind == "alertmanager":
        return AlertmanagerNotifier(
            [base_url], username=AM_USER, password=AM_PASSWORD, timeout_s=timeout_s
        )
    if kind == "webhook":
        return WebhookNotifier(f"{base_url}/hook", WEBHOOK_SECRET, timeout_s=timeout_s)
    return SlackNotifier(f"{base_url}/services/T0/B0/{SLACK_TOKEN}", timeout_s=timeout_s)


def make_notification(
    *,
    site_id: str = "shop",
    message: str = "connection refused",
    transition: Transition = Transition.FIRING,
    key: str = "inc-1:firing",
) -> Notification:
    opened = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    resolved = opened + timedelta(minutes=12) if transition is Transition.RESOLVED else None
    incident = Incident(
        id="inc-1",
        site_id=site_id,
        url="https://shop.example/health",
        opened_at=opened,
        resolved_at=resolved,
        error_kind="connect",
        error_message=message,
        regions=("eu", "us"),
        tags=("prod",),
    )
    return Notification(
        id="n-1",
        key=key,
        notifier="test",
        transition=transition,
        incident=incident,
        created_at=opened,
    )


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def sink() -> AsyncIterator[RecordingSink]:
    async with recording_sink() as sink:
        yield sink


@pytest.fixture
async def notifier(kind: str, sink: RecordingSink) -> AsyncIterator[Notifier]:
    async with make_notifier(kind, sink.url) as notifier:
        yield notifier


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def notifier_logs(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured log line but the test receivers' own (aiohttp.server/web/access)."""
    mine = [r for r in caplog.records if not r.name.startswith(("aiohttp.server", "aiohttp.web"))]
    return "\n".join(f"{r.name} {r.getMessage()}" for r in mine)


@pytest.mark.parametrize("status", [200, 202, 204])
async def test_delivered_on_2xx(notifier: Notifier, sink: RecordingSink, status: int) -> None:
    sink.status = status
    assert await notifier.send(make_notification()) == Delivery(delivered=True)
    [request] = sink.requests
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("sitemon/")
    json.loads(request.body)


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_retriable_on_5xx_and_429(
    notifier: Notifier, sink: RecordingSink, status: int
) -> None:
    sink.status, sink.body = status, b"busy, come back later"
    delivery = await notifier.send(make_notification())
    assert not delivery.delivered
    assert delivery.retriable
    assert f"HTTP {status}: busy, come back later" in delivery.error


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
async def test_not_retriable_on_other_4xx(
    notifier: Notifier, sink: RecordingSink, status: int
) -> None:
    sink.status, sink.body = status, b"invalid_payload"
    delivery = await notifier.send(make_notification())
    assert (delivery.delivered, delivery.retriable) == (False, False)
    assert f"HTTP {status}: invalid_payload" in delivery.error


async def test_redirect_is_not_followed(notifier: Notifier, sink: RecordingSink) -> None:
    sink.status, sink.headers = 307, {"Location": f"{sink.url}/elsewhere?token=abc"}
    delivery = await notifier.send(make_notification())
    assert (delivery.delivered, delivery.retriable) == (False, False)
    assert "redirects are not followed" in delivery.error
    assert "elsewhere" not in delivery.error
    assert len(sink.requests) == 1


async def test_refused_connection_is_retriable(kind: str) -> None:
    async with make_notifier(kind, f"http://127.0.0.1:{targets.closed_port()}") as notifier:
        delivery = await notifier.send(make_notification())
    assert (delivery.delivered, delivery.retriable) == (False, True)
    assert "connection refused" in delivery.error


EXPECTED_SLOW: dict[str, Callable[[Delivery], bool]] = {
    "hang": lambda d: d.retriable and "timed out after 1 s" in d.error,
    "huge_ok": lambda d: d.delivered,
    "huge_error": lambda d: d.retriable and "HTTP 500" in d.error,
    "drip_status": lambda d: d.retriable and "timed out after 1 s" in d.error,
    # The status is known; of the body only what came before the timeout (less the tail a
    # secret could have been cut in).
    "drip_error_body": lambda d: d.retriable and "HTTP 503" in d.error,
}


@pytest.mark.parametrize("endpoint", sorted(SLOW_ENDPOINTS))
async def test_misbehaving_receiver_is_bounded_by_the_timeout(kind: str, endpoint: str) -> None:
    async with (
        targets.raw_server(SLOW_ENDPOINTS[endpoint]) as url,
        make_notifier(kind, url) as notifier,
    ):
        began = time.monotonic()
        delivery = await notifier.send(make_notification())
        elapsed = time.monotonic() - began
    assert elapsed < TIMEOUT_S + SLACK_S, f"{endpoint}: {elapsed:.1f} s"
    assert EXPECTED_SLOW[endpoint](delivery), delivery


async def test_error_body_is_read_up_to_the_cap_only(kind: str) -> None:
    """A 100 MB error answer is cut at the cap well before the timeout."""
    async with (
        targets.raw_server(SLOW_ENDPOINTS["huge_error"]) as url,
        make_notifier(kind, url, timeout_s=30) as notifier,
    ):
        began = time.monotonic()
        delivery = await notifier.send(make_notification())
        elapsed = time.monotonic() - began
    assert delivery.retriable and "HTTP 500" in delivery.error
    assert len(delivery.error) < 300
    assert elapsed < SLACK_S


@pytest.mark.parametrize("failure", ["echo_500", "echo_400", "refused", "hang"])
async def test_secrets_never_in_errors_logs_or_repr(
    kind: str, failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with recording_sink() as sink, targets.raw_server(targets.silent) as hanging:
        sink.echo, sink.status = True, 500 if failure == "echo_500" else 400
        url = {"refused": f"http://127.0.0.1:{targets.closed_port()}", "hang": hanging}
        async with make_notifier(kind, url.get(failure, sink.url)) as notifier:
            delivery = await notifier.send(make_notification())
            shown = (repr(notifier), str(notifier))
    assert not delivery.delivered
    if failure.startswith("echo"):
        assert "[redacted]" in delivery.error or kind == "webhook"
    assert_no_secret(delivery.error, notifier_logs(caplog), *shown)


def _inert_json(raw: bytes) -> Any:
    """A JSON body with no raw markup, line break or non-ASCII byte; parsed."""
    for byte in (b"<", b">", b"&", b"\n", b"\r"):
        assert byte not in raw
    raw.decode("ascii")
    return json.loads(raw)


def assert_inert(kind: str, request: Recorded) -> None:
    """The hostile strings arrive as data (JSON) or as text no chat client acts on."""
    body = _inert_json(request.body)
    if kind == "webhook":
        assert body["site"]["id"] == HOSTILE
        assert body["incident"]["error"]["message"] == HOSTILE
    elif kind == "alertmanager":
        [alert] = body
        assert alert["labels"]["site_id"] == HOSTILE
        assert HOSTILE in alert["annotations"]["error"]
    else:
        text = body["text"]
        for active in ("<", ">", "@channel", "@here", "\r", "\u2028"):
            assert active not in text
        assert text.count("\n") == 4  # headline, error, URL, regions, since: no injected line
        headline, error = text.split("\n")[:2]
        assert headline.startswith(":red_circle: *DOWN* `") and headline.endswith("`")
        # One code span each, holding the whole hostile value: its Markdown link is text.
        assert headline.count("`") == 2 and error.count("`") == 2
        assert "[link](http" in error.split("`")[1]


async def test_hostile_strings_arrive_inert(
    kind: str, notifier: Notifier, sink: RecordingSink
) -> None:
    delivery = await notifier.send(make_notification(site_id=HOSTILE, message=HOSTILE))
    assert delivery.delivered
    assert_inert(kind, sink.requests[0])
