"""Alert policies, notification keys and the URL an incident keeps."""

from __future__ import annotations

import pytest

from sitemon_core.alerting import AlertPolicy, SiteAlerting, Transition
from sitemon_core.alerting.records import notification_key, public_url


def test_defaults_follow_gatus_and_nagios() -> None:
    policy = AlertPolicy()
    assert (policy.failure_threshold, policy.success_threshold, policy.confirm_regions) == (3, 2, 1)
    assert (policy.flap_window, policy.flap_max_changes) == (21, 5)
    assert policy.renotify_every_s is None and policy.reminder_period("any") is None


def test_the_reminder_period_is_the_shorter_of_resend_and_renotify() -> None:
    policy = AlertPolicy(notifiers=("am", "hook"), resend_every_s={"am": 60}, renotify_every_s=3600)
    assert (policy.reminder_period("am"), policy.reminder_period("hook")) == (60, 3600)
    assert AlertPolicy(resend_every_s={"am": 60}) == AlertPolicy(resend_every_s=[("am", 60.0)])
    hash(policy)  # frozen: one policy object can be shared by many sites


@pytest.mark.parametrize(
    "fields",
    [
        {"failure_threshold": 0},
        {"success_threshold": 0},
        {"confirm_regions": 0},
        {"flap_window": 0},
        {"flap_max_changes": 0},
        {"renotify_every_s": 0},
        {"resend_every_s": {"am": -1}},
    ],
)
def test_invalid_settings_are_value_errors(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        AlertPolicy(**fields)  # type: ignore[arg-type]


def test_a_site_needs_a_positive_interval() -> None:
    with pytest.raises(ValueError, match="interval"):
        SiteAlerting(interval_s=0)


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("https://site.example/a?b=1", "https://site.example/a?b=1"),
        ("https://user:secret@site.example:8443/a", "https://site.example:8443/a"),
        ("http://token@[::1]:8080/", "http://[::1]:8080/"),
        ("https://user:secret@[bad/", "[bad/"),  # unparsable: nothing before the @ is kept
    ],
)
def test_credentials_never_reach_an_incident(url: str, public: str) -> None:
    assert public_url(url) == public
    assert "secret" not in public_url(url)


def test_keys_are_the_same_for_every_notifier_and_replay() -> None:
    assert notification_key("abc", Transition.FIRING) == "abc:firing"
    assert notification_key("abc", Transition.REMINDER, 3) == "abc:reminder:3"


def test_each_site_alerting_carries_the_sites_certificate_warning_window(tmp_path) -> None:
    from sitemon_cli.alert_resources import site_alerting
    from sitemon_cli.config.load import load_config

    path = tmp_path / "sitemon.yaml"
    path.write_text(
        "defaults: {tls_expiry_warning: 21d}\n"
        "sites:\n"
        "  - {url: 'https://a.example/', tls_expiry_warning: 3d}\n"
        "  - {url: 'https://b.example/'}\n"
        "alerts: {}\n"
    )
    sites = site_alerting(load_config(path))
    assert sorted(s.tls_expiry_warning_s for s in sites.values()) == [3 * 86400, 21 * 86400]


def test_a_negative_certificate_warning_window_is_a_value_error() -> None:
    assert SiteAlerting().tls_expiry_warning_s == 14 * 86400
    with pytest.raises(ValueError):
        SiteAlerting(tls_expiry_warning_s=-1)
