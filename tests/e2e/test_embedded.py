"""The embedded mode as a user runs it: ``demo``, ``standalone`` + SIGTERM, ``status``."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.e2e.procs import SitemonProcess, message_is, wait_until, write_config

CLI = [sys.executable, "-m", "sitemon_cli.main"]


def test_demo_shows_every_outcome_offline(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    run = subprocess.run([*CLI, "demo", "--duration", "3", "--db", str(db)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    table = {line.split()[0]: line.split()[1] for line in run.stdout.splitlines()[1:]}
    assert table == {
        "up": "UP", "regex-hit": "UP", "redirect-ok": "UP", "regex-miss": "REGEX_MISS",
        "not-found": "BAD_STATUS", "server-error": "BAD_STATUS", "slow": "TIMEOUT",
        "redirect-loop": "TOO_MANY_REDIRECTS", "refused": "CONNECT",
    }
    assert "sitemon.check" in run.stderr  # one log line per check while it runs

    config = write_config(tmp_path / "c.yaml", {"repository": {"kind": "sqlite",
                                                               "sqlite": {"path": str(db)}}})
    status = subprocess.run([*CLI, "status", "-c", str(config)], capture_output=True,
                            text=True, timeout=30)
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines()[1:] and "refused" in status.stdout


async def test_standalone_stops_on_sigterm_and_keeps_what_it_checked(
    tmp_path: Path, target_base: str,
) -> None:
    db = tmp_path / "s.db"
    config = write_config(tmp_path / "s.yaml", {
        "scanner": {"start_jitter": "100ms"},
        "sites": [{"id": f"s{i}", "url": f"{target_base}/ok", "interval": "500ms",
                   "timeout": "400ms"} for i in range(5)],
        "repository": {"kind": "sqlite", "sqlite": {"path": str(db)}},
    })
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
