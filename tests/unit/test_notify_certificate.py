"""What each notifier says about a certificate warning: its own alert (``CertificateExpiring``,
severity ``warning``), the days left and ``not_after``, and a renewal when it resolves."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import attrs

from sitemon_adapters.notify.alertmanager import AlertmanagerNotifier
from sitemon_adapters.notify.slack import SlackNotifier
from sitemon_adapters.notify.webhook import webhook_body
from sitemon_core.alerting.models import Incident, IncidentKind, Notification, Transition
from sitemon_core.alerting.records import notifications

OPENED = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
NOT_AFTER = OPENED + timedelta(days=3, hours=2)
WARNING = Incident(
    id="inc-cert",
    site_id="shop",
    url="https://shop.example/",
    opened_at=OPENED,
    error_kind="certificate",
    error_message="certificate expires … (3 days left)",
    regions=("eu",),
    tags=("prod",),
    kind=IncidentKind.CERTIFICATE,
    tls_not_after=NOT_AFTER,
)
OUTAGE = attrs.evolve(WARNING, id="inc-down", kind=IncidentKind.DOWN, tls_not_after=None)


def one(incident: Incident, transition: Transition, at: datetime = OPENED) -> Notification:
    [notification] = notifications(incident, transition, ["n"], now=at)
    return notification


def test_alertmanager_sends_a_certificate_expiring_warning_distinct_from_site_down() -> None:
    notifier = AlertmanagerNotifier(["http://am.example:9093"])
    alert = notifier.alert(one(WARNING, Transition.FIRING))
    assert alert["labels"]["alertname"] == "CertificateExpiring"
    assert alert["labels"]["severity"] == "warning"
    assert alert["labels"]["site_id"] == "shop"
    assert alert["annotations"]["not_after"] == "2026-12-04T08:00:00.000Z"
    assert alert["annotations"]["days_left"] == "3"
    assert "3 days left" in alert["annotations"]["summary"]
    assert "2026-12-04T08:00:00+00:00" in alert["annotations"]["summary"]
    down = notifier.alert(one(OUTAGE, Transition.FIRING))
    assert (down["labels"]["alertname"], down["labels"]["severity"]) == ("SiteDown", "critical")
    assert "not_after" not in down["annotations"]
    resolved = attrs.evolve(WARNING, resolved_at=OPENED + timedelta(hours=5))
    ended = notifier.alert(one(resolved, Transition.RESOLVED))
    assert ended["labels"]["alertname"] == "CertificateExpiring"
    assert ended["endsAt"] == "2026-12-01T11:00:00.000Z"


def test_a_reminder_counts_the_days_left_when_it_was_queued() -> None:
    notifier = AlertmanagerNotifier(["http://am.example:9093"])
    later = one(WARNING, Transition.REMINDER, at=OPENED + timedelta(days=2))
    assert notifier.alert(later)["annotations"]["days_left"] == "1"
    assert "1 day left" in notifier.alert(later)["annotations"]["summary"]


def test_the_webhook_body_carries_the_kind_and_the_certificate() -> None:
    body = json.loads(webhook_body(one(WARNING, Transition.FIRING)))
    assert body["incident"]["kind"] == "certificate"
    assert body["incident"]["certificate"] == {
        "not_after": "2026-12-04T08:00:00.000Z",
        "days_left": 3,
    }
    assert body["summary"].startswith("Site shop: certificate expires 2026-12-04T08:00:00")
    down = json.loads(webhook_body(one(OUTAGE, Transition.FIRING)))
    assert (down["incident"]["kind"], down["incident"]["certificate"]) == ("down", None)


def test_slack_says_certificate_expiring_with_the_days_left_then_renewed() -> None:
    notifier = SlackNotifier("https://hooks.example/T/B/x")
    text = json.loads(notifier.payload(one(WARNING, Transition.FIRING)))["text"]
    assert text.startswith(":warning: *CERTIFICATE EXPIRING* `shop`")
    assert "Certificate not after: 2026-12-04T08:00:00.000Z (3 days left)" in text
    assert "Down since" not in text and "Warning since" in text
    resolved = attrs.evolve(WARNING, resolved_at=OPENED + timedelta(hours=5))
    done = json.loads(notifier.payload(one(resolved, Transition.RESOLVED)))["text"]
    assert done.startswith(":large_green_circle: *RESOLVED* `shop` certificate renewed")
