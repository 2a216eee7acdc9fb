"""``verify: false`` is allowed, and said once at start, naming the sites."""

from __future__ import annotations

import logging

import pytest

from sitemon_cli.config import parse_config
from sitemon_cli.runners import warn_unverified


def test_one_warning_names_the_unverified_sites(caplog: pytest.LogCaptureFixture) -> None:
    config = parse_config(
        "c.yaml",
        {
            "sites": [
                {"url": "https://a.internal/", "id": "a", "tls": {"verify": False}},
                {"url": "https://b.internal/", "id": "b"},
                {"url": "https://c.internal/", "id": "c", "tls": {"verify": False}},
                {"kind": "dns", "name": "example.com"},
                {"url": "tls://d.internal:993", "id": "d", "tls": {"verify": False}},
            ]
        },
    )
    with caplog.at_level(logging.WARNING, logger="sitemon.process"):
        warn_unverified(config)
    [record] = caplog.records
    assert record.getMessage() == "TLS certificates are not verified for 3 site(s): a, c, d"


def test_no_warning_when_every_site_verifies(caplog: pytest.LogCaptureFixture) -> None:
    config = parse_config("c.yaml", {"sites": [{"url": "https://a.internal/"}]})
    with caplog.at_level(logging.WARNING, logger="sitemon.process"):
        warn_unverified(config)
    assert not caplog.records
