"""Bad notifier settings are a ``ValueError`` at construction, whose message never quotes
the secret-bearing URL or a secret."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from sitemon_adapters.notify.alertmanager import AlertmanagerNotifier
from sitemon_adapters.notify.slack import SlackNotifier
from sitemon_adapters.notify.webhook import WebhookNotifier

TOKEN = "T0KEN-abcdef-123456"
GOOD = "https://hooks.example/services/" + TOKEN

BAD: dict[str, tuple[Any, str]] = {
    "slack ftp": (lambda: SlackNotifier("ftp://hooks.example/" + TOKEN), "http:// or https://"),
    "slack no host": (lambda: SlackNotifier("https:///" + TOKEN), "with a host"),
    "slack bad port": (lambda: SlackNotifier(f"https://h:99999/{TOKEN}"), "not a valid URL"),
    "webhook userinfo": (
        lambda: WebhookNotifier(f"https://user:{TOKEN}@h/x", "secret"),
        "credentials belong in their own settings",
    ),
    "webhook empty secret": (lambda: WebhookNotifier(GOOD, ""), "secret must not be empty"),
    "webhook own header": (
        lambda: WebhookNotifier(GOOD, "s", headers={"idempotency-key": "x"}),
        "idempotency-key is set by sitemon",
    ),
    "webhook header newline": (
        lambda: WebhookNotifier(GOOD, "s", headers={"X-A": "v\r\nX-B: " + TOKEN}),
        "invalid header 'X-A'",
    ),
    "link field": (
        lambda: SlackNotifier(GOOD, link_template="https://s/{site}"),
        "unknown field 'site'",
    ),
    "link syntax": (lambda: SlackNotifier(GOOD, link_template="https://s/{"), "link template"),
    "am no url": (lambda: AlertmanagerNotifier([]), "at least one URL"),
    "am both auths": (
        lambda: AlertmanagerNotifier(["http://am:9093"], password=TOKEN, bearer_token=TOKEN),
        "not both",
    ),
    "am empty alertname": (
        lambda: AlertmanagerNotifier(["http://am:9093"], alertname=""),
        "must not be empty",
    ),
    "am resend": (
        lambda: AlertmanagerNotifier(["http://am:9093"], resend_every=timedelta(0)),
        "resend_every must be positive",
    ),
    "timeout": (lambda: SlackNotifier(GOOD, timeout_s=0), "timeout_s must be positive"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_setting_is_a_value_error_without_secrets(case: str) -> None:
    build, message = BAD[case]
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        build()
    assert TOKEN not in str(error.value)


def test_repr_names_the_host_only() -> None:
    notifiers = [
        SlackNotifier(GOOD),
        WebhookNotifier(GOOD, TOKEN, headers={"Authorization": TOKEN}),
        AlertmanagerNotifier(["http://am:9093"], username="u", password=TOKEN),
    ]
    for notifier in notifiers:
        assert TOKEN not in repr(notifier)
        assert "hooks.example:443" in repr(notifier) or "am:9093" in repr(notifier)
