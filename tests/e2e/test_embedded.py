"""The embedded mode as a user runs it: ``demo``, ``standalone`` + SIGTERM, ``status``."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.procs import SitemonProcess, message_is, wait_until, write_config

CLI = [sys.executable, "-m", "sitemon_cli.main"]


def test_demo_shows_every_outcome_offline(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    run = subprocess.run(
        [*CLI, "demo", "--duration", "3", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    table = {line.split()[0]: line.split()[1] for line in run.stdout.splitlines()[1:]}
    assert table == {
        "up": "UP",
        "regex-hit": "UP",
        "redirect-ok": "UP",
        "regex-miss": "REGEX_MISS",
        "not-found": "BAD_STATUS",
        "server-error": "BAD_STATUS",
        "slow": "TIMEOUT",
        "redirect-loop": "TOO_MANY_REDIRECTS",
        "refused": "CONNECT",
    }
    assert "sitemon.check" in run.stderr  # one log line per check while it runs

    config = write_config(
        tmp_path / "c.yaml", {"repository": {"kind": "sqlite", "sqlite": {"path": str(db)}}}
    )
    status = subprocess.run(
        [*CLI, "status", "-c", str(config)], capture_output=True, text=True, timeout=30
    )
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines()[1:] and "refused" in status.stdout


@pytest.mark.parametrize("prober", ["aiohttp", "curl"])
async def test_standalone_stops_on_sigterm_and_keeps_what_it_checked(
    tmp_path: Path,
    target_base: str,
    prober: str,
) -> None:
    db = tmp_path / "s.db"
    config = write_config(
        tmp_path / "s.yaml",
        {
            "scanner": {"start_jitter": "100ms", "prober": prober},
            "sites": [
                {"id": f"s{i}", "url": f"{target_base}/ok", "interval": "500ms", "timeout": "400ms"}
                for i in range(5)
            ],
            "repository": {"kind": "sqlite", "sqlite": {"path": str(db)}},
        },
    )
    proc = await SitemonProcess("standalone", config).start()
    try:
        await wait_until(lambda: _at_least(proc, 10), 30, "10 checks")
        assert await proc.stop(signal.SIGTERM) == 0
    finally:
        await proc.kill()
    stopped = proc.find(message_is("scanner stopped"))
    assert stopped is not None and stopped["dropped"] == 0
    import sqlite3

    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT count(*) FROM check_history").fetchone()[0]
        latest = conn.execute("SELECT count(*) FROM site_status WHERE ok = 1").fetchone()[0]
    assert stored == stopped["published"]
    assert latest == 5


async def _at_least(proc: SitemonProcess, n: int) -> bool:
    return proc.count(lambda e: e.get("logger") == "sitemon.check") >= n


async def test_sighup_applies_a_valid_config_and_rejects_an_invalid_one(
    tmp_path: Path,
    target_base: str,
) -> None:
    def document(ids: list[str]) -> dict[str, object]:
        return {
            "scanner": {"start_jitter": "100ms"},
            "sites": [
                {"id": i, "url": f"{target_base}/ok", "interval": "300ms", "timeout": "250ms"}
                for i in ids
            ],
            "repository": {"kind": "sqlite", "sqlite": {"path": str(tmp_path / "r.db")}},
        }

    config = write_config(tmp_path / "r.yaml", document(["keep", "drop"]))
    proc = await SitemonProcess("standalone", config).start()
    try:
        await wait_until(lambda: _site_checked(proc, "drop"), 30, "first checks")
        write_config(config, document(["keep", "new"]))
        proc.proc.send_signal(signal.SIGHUP)
        reloaded = await proc.wait_for(message_is("config reloaded"), timeout=10)
        assert (reloaded["added"], reloaded["removed"], reloaded["sites"]) == (1, 1, 2)
        await wait_until(lambda: _site_checked(proc, "new"), 30, "the new site")
        drop_checks = _checks_of(proc, "drop")
        keep_checks = _checks_of(proc, "keep")

        config.write_text("sites:\n  - url: ftp://nope/\n", encoding="utf-8")
        proc.proc.send_signal(signal.SIGHUP)
        rejected = await proc.wait_for(message_is("reload rejected, keeping the running config"))
        assert "sites[0].url: must be an http:// or https:// URL" in rejected["error"]
        await wait_until(lambda: _more_checks(proc, "keep", keep_checks + 3), 30, "keep going")
        assert _checks_of(proc, "drop") <= drop_checks + 1  # at most one was in flight
        assert await proc.stop() == 0
    finally:
        await proc.kill()


def _checks_of(proc: SitemonProcess, site_id: str) -> int:
    return proc.count(lambda e: e.get("logger") == "sitemon.check" and e["site_id"] == site_id)


async def _site_checked(proc: SitemonProcess, site_id: str) -> bool:
    return _checks_of(proc, site_id) > 0


async def _more_checks(proc: SitemonProcess, site_id: str, n: int) -> bool:
    return _checks_of(proc, site_id) >= n
