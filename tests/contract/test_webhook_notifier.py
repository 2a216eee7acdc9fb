"""Webhook specifics: the signature, the idempotency key, the versioned body."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from sitemon_adapters.notify.webhook import WebhookNotifier, sign, verify_signature
from sitemon_core.alerting.models import Delivery, Transition
from tests.contract.notify_sink import Recorded, RecordingSink, recording_sink
from tests.contract.test_notifier import WEBHOOK_SECRET, make_notification


@pytest.fixture
async def sink() -> AsyncIterator[RecordingSink]:
    async with recording_sink() as sink:
        yield sink


@pytest.fixture
async def webhook(sink: RecordingSink) -> AsyncIterator[WebhookNotifier]:
    headers = {"Authorization": "Bearer receiver-token-77"}
    async with WebhookNotifier(f"{sink.url}/hook", WEBHOOK_SECRET, headers=headers) as webhook:
        yield webhook


def verifies(request: Recorded, secret: str, body: bytes | None = None) -> bool:
    return verify_signature(
        secret,
        request.body if body is None else body,
        request.headers["X-Sitemon-Signature"],
        request.headers["X-Sitemon-Timestamp"],
        now_s=time.time(),
    )


async def test_signature_verifies_with_the_secret_only(
    webhook: WebhookNotifier, sink: RecordingSink
) -> None:
    assert await webhook.send(make_notification()) == Delivery(delivered=True)
    [request] = sink.requests
    signature = request.headers["X-Sitemon-Signature"]
    timestamp = request.headers["X-Sitemon-Timestamp"]
    assert signature == sign(WEBHOOK_SECRET, timestamp, request.body)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert verifies(request, WEBHOOK_SECRET)
    assert not verifies(request, "another-secret")
    assert not verifies(request, WEBHOOK_SECRET, body=request.body.replace(b"shop", b"shoq"))


async def test_timestamp_is_signed_and_old_requests_are_refused(
    webhook: WebhookNotifier, sink: RecordingSink
) -> None:
    await webhook.send(make_notification())
    [request] = sink.requests
    stamp = int(request.headers["X-Sitemon-Timestamp"])
    signature = request.headers["X-Sitemon-Signature"]
    assert abs(stamp - time.time()) < 60
    # The same signature under another timestamp does not verify: it is signed.
    assert not verify_signature(
        WEBHOOK_SECRET, request.body, signature, str(stamp + 1), now_s=stamp
    )
    # A replay ten minutes later is refused although the signature is genuine.
    assert verify_signature(WEBHOOK_SECRET, request.body, signature, str(stamp), now_s=stamp)
    assert not verify_signature(
        WEBHOOK_SECRET, request.body, signature, str(stamp), now_s=stamp + 600
    )


async def test_idempotency_key_is_the_notification_key_on_every_retry(
    webhook: WebhookNotifier, sink: RecordingSink
) -> None:
    sink.fail_first = 1
    notification = make_notification(key="inc-1:firing")
    first = await webhook.send(notification)
    assert (first.delivered, first.retriable) == (False, True)
    assert await webhook.send(notification) == Delivery(delivered=True)
    keys = [r.headers["Idempotency-Key"] for r in sink.requests]
    assert keys == ["inc-1:firing", "inc-1:firing"]
    assert sink.requests[0].body == sink.requests[1].body  # the same notification, byte for byte
    assert all(verifies(r, WEBHOOK_SECRET) for r in sink.requests)


async def test_versioned_body_and_headers(webhook: WebhookNotifier, sink: RecordingSink) -> None:
    notification = make_notification(transition=Transition.RESOLVED, key="inc-1:resolved")
    await webhook.send(notification)
    [request] = sink.requests
    assert request.headers["X-Sitemon-Event"] == "resolved"
    assert request.headers["Authorization"] == "Bearer receiver-token-77"
    assert request.headers["User-Agent"].startswith("sitemon/")
    opened = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    assert json.loads(request.body) == {
        "version": 1,
        "event": "resolved",
        "key": "inc-1:resolved",
        "notification_id": "n-1",
        "created_at": "2026-12-01T05:00:00.000Z",
        "site": {"id": "shop", "url": "https://shop.example/health", "tags": ["prod"]},
        "incident": {
            "id": "inc-1",
            "opened_at": "2026-12-01T05:00:00.000Z",
            "resolved_at": (opened + timedelta(minutes=12)).isoformat().replace("+00:00", ".000Z"),
            "duration_s": 720.0,
            "regions": ["eu", "us"],
            "error": {"kind": "connect", "message": "connection refused", "status_code": None},
            "kind": "down",  # added within version 1, with certificate warnings
            "certificate": None,
        },
        "summary": "Site shop is back up",
        "link": None,
    }


async def test_extra_header_values_are_secrets(sink: RecordingSink) -> None:
    sink.status, sink.echo = 500, True
    headers = {"Authorization": "Bearer receiver-token-77"}
    async with WebhookNotifier(f"{sink.url}/hook", "s" * 20, headers=headers) as webhook:
        delivery = await webhook.send(make_notification())
    assert "HTTP 500" in delivery.error
    assert "receiver-token-77" not in delivery.error
