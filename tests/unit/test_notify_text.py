"""Laws of what the notifiers write: inert chat text, lossless tag labels, signatures,
HTML-safe JSON, redaction, and the Slack message of each transition."""

from __future__ import annotations

import html
import json
import re
import urllib.parse
from datetime import UTC, datetime, timedelta

import attrs
from hypothesis import given
from hypothesis import strategies as st

from sitemon_adapters.notify.alertmanager import tags_label
from sitemon_adapters.notify.http_post import REDACTED, Redactor
from sitemon_adapters.notify.messages import error_text, format_duration, json_bytes, link
from sitemon_adapters.notify.slack import WORD_JOINER, inert, slack_text
from sitemon_adapters.notify.webhook import sign, verify_signature
from sitemon_core.alerting.models import Incident, Transition

INCIDENT = Incident(
    id="inc-1",
    site_id="shop",
    url="https://shop.example/",
    opened_at=datetime(2026, 12, 1, 5, 0, tzinfo=UTC),
    error_kind="http_status",
    error_message="HTTP 503",
    status_code=503,
    regions=("eu", "us"),
)


@given(st.text())
def test_inert_text_has_no_active_character(text: str) -> None:
    shown = inert(text)
    assert shown.startswith("`") and shown.endswith("`") and shown.count("`") == 2
    assert "<" not in shown and ">" not in shown
    assert re.fullmatch(r"([^&]|&amp;|&lt;|&gt;)*", shown, re.DOTALL)
    assert all(shown[i + 1] == WORD_JOINER for i, ch in enumerate(shown) if ch == "@")
    assert all(ch.isprintable() or ch == WORD_JOINER for ch in shown)


PRINTABLE = st.characters(whitelist_categories=("L", "N", "P", "S", "Zs"))


@given(st.text(alphabet=PRINTABLE))
def test_inert_text_still_reads_the_same(text: str) -> None:
    flat = " ".join(text.split())
    shown = inert(text, limit=10_000)[1:-1]
    back = html.unescape(shown.replace(WORD_JOINER, ""))
    assert back == (flat.replace("`", "\u02cb") or "-")


@given(st.sets(st.text()), st.text())
def test_a_tag_matches_the_tags_label_exactly_when_present(tags: set[str], probe: str) -> None:
    label = tags_label(tuple(tags))
    encoded = probe.replace("%", "%25").replace(",", "%2C")
    assert (f",{encoded}," in label) == (probe in tags)
    if tags:
        inner = label[1:-1].split(",")
        assert {urllib.parse.unquote(t) for t in inner} == tags


@given(st.text(min_size=1), st.binary(), st.integers(0, 2**40), st.text(min_size=1))
def test_signature_verifies_only_with_its_secret(
    secret: str, body: bytes, stamp: int, other: str
) -> None:
    signature = sign(secret, str(stamp), body)
    assert verify_signature(secret, body, signature, str(stamp), now_s=stamp)
    assert verify_signature(other, body, signature, str(stamp), now_s=stamp) == (other == secret)
    assert not verify_signature(secret, body + b"x", signature, str(stamp), now_s=stamp)
    assert not verify_signature(secret, body, signature, str(stamp), now_s=stamp + 301)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
)


@given(JSON)
def test_json_bytes_round_trip_without_markup_or_line_breaks(value: object) -> None:
    raw = json_bytes(value)
    assert not set(raw) & set(b"<>&\n\r") and raw.isascii()
    assert json.loads(raw) == value


SAFE = "xyz01"  # no character of the marker, so a secret cannot straddle it


@given(st.lists(st.text(SAFE, min_size=1), max_size=4), st.text(SAFE))
def test_redactor_leaves_no_secret(secrets: list[str], text: str) -> None:
    redact = Redactor(secrets)
    for secret in secrets:
        text += secret
    shown = redact(text)
    assert not any(secret in shown for secret in secrets)
    assert shown.replace(REDACTED, "") == "" or set(shown.replace(REDACTED, "")) <= set(SAFE)


def test_duration_shows_the_two_largest_units() -> None:
    cases = {0: "0s", 59: "59s", 61: "1m 1s", 3600: "1h", 3725: "1h 2m", 90061: "1d 1h"}
    for seconds, text in cases.items():
        assert format_duration(timedelta(seconds=seconds)) == text
    assert format_duration(timedelta(seconds=-5)) == "0s"


def test_link_percent_encodes_the_ids() -> None:
    hostile = attrs.evolve(INCIDENT, site_id="a/b|c>d e")
    url = link("https://status.example/sites/{site_id}", hostile)
    assert url == "https://status.example/sites/a%2Fb%7Cc%3Ed%20e"
    assert link(None, hostile) is None


def test_slack_message_per_transition() -> None:
    url = "https://status.example/sites/shop"
    firing = slack_text(Transition.FIRING, INCIDENT, url, "3m")
    assert firing.splitlines()[0] == ":red_circle: *DOWN* `shop`"
    assert "Error: `http_status: HTTP 503`" in firing
    assert firing.endswith(f"<{url}|Details>")
    resolved = attrs.evolve(INCIDENT, resolved_at=INCIDENT.opened_at + timedelta(minutes=12))
    text = slack_text(Transition.RESOLVED, resolved, None, "12m")
    assert text.splitlines()[0] == ":large_green_circle: *RESOLVED* `shop` is back up after 12m"
    assert "Error" not in text and "<" not in text
    reminder = slack_text(Transition.REMINDER, INCIDENT, None, "1h 5m")
    assert reminder.startswith(":red_circle: *STILL DOWN* `shop` for 1h 5m")
    assert "FLAPPING" in slack_text(Transition.FLAPPING, INCIDENT, None, "")


def test_error_text_of_a_site_that_answered_names_its_status() -> None:
    # What the probers produce for a 500 or a regex miss: kind "none", no message.
    answered = attrs.evolve(INCIDENT, error_kind="none", error_message="", status_code=500)
    assert error_text(answered) == "HTTP 500 (status or body not as expected)"
    assert error_text(attrs.evolve(answered, status_code=None)) == (
        "no status (status or body not as expected)"
    )
    refused = attrs.evolve(
        INCIDENT, error_kind="connect", error_message="connection refused", status_code=None
    )
    assert error_text(refused) == "connect: connection refused"
