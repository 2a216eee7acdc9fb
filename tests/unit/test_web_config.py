"""The ``web:`` section: defaults, secrets from files (masked in logs), worker 0 serving."""

from __future__ import annotations

import argparse
from pathlib import Path

from sitemon_cli.commands import COMMANDS
from sitemon_cli.config import parse_config
from sitemon_cli.config.web import WebAuthSettings, WebSettings
from sitemon_cli.logs import redact
from sitemon_cli.main import _load
from sitemon_cli.web_resources import web_options

SITES = {"sites": [{"url": "https://example.com/"}]}


def test_defaults_serve_on_loopback_8080_without_auth() -> None:
    assert parse_config("c.yaml", SITES).web == WebSettings()
    assert WebSettings().listen == ("127.0.0.1", 8080) and WebSettings().enabled


def test_secrets_come_from_files_and_are_masked(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cr3t-token\n", encoding="utf-8")
    cfg = parse_config("c.yaml", {**SITES, "web": {"auth": {"token_file": str(token)}}})
    assert cfg.web.auth == WebAuthSettings(token="s3cr3t-token")
    assert "s3cr3t-token" not in redact("auth failed for s3cr3t-token")
    options = web_options(cfg)
    assert options.auth is not None and options.auth.allows("Bearer s3cr3t-token")

    password = tmp_path / "pw"
    password.write_text("hunter2-web", encoding="utf-8")
    basic = parse_config(
        "c.yaml",
        {**SITES, "web": {"auth": {"username": "ops", "password_file": str(password)}}},
    )
    assert basic.web.auth == WebAuthSettings(username="ops", password="hunter2-web")


def test_only_worker_zero_serves_the_page(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("sites:\n  - url: https://example.com/\n", encoding="utf-8")
    standalone = next(c for c in COMMANDS if c.name == "standalone")
    for index, serves in ((0, True), (1, False)):
        args = argparse.Namespace(config=path, worker_index=index)
        loaded = _load(standalone, args)
        assert loaded is not None and loaded.web.enabled is serves
