"""``repository.history_retention``: the running monitor keeps its history to a window."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

from tests.e2e.procs import SitemonProcess, message_is, wait_until, write_config

KEEP_S = 3.0
PRUNE_EVERY_S = 1.0  # a tenth of the window, at least 1 s


async def test_standalone_prunes_history_older_than_the_window(
    tmp_path: Path,
    target_base: str,
) -> None:
    db = tmp_path / "r.db"
    config = write_config(
        tmp_path / "r.yaml",
        {
            "scanner": {"start_jitter": "100ms"},
            "sites": [
                {"id": f"r{i}", "url": f"{target_base}/ok", "interval": "200ms", "timeout": "150ms"}
                for i in range(4)
            ],
            "repository": {
                "kind": "sqlite",
                "sqlite": {"path": str(db)},
                "history_retention": f"{KEEP_S}s",
            },
        },
    )
    proc = await SitemonProcess("standalone", config).start()
    try:
        # Four rounds that deleted rows: by then, without pruning, the oldest row would
        # be ~4 s older than the last round's cutoff.
        async def rounds() -> bool:
            return proc.count(message_is("history pruned")) >= 4

        await wait_until(rounds, 60, "4 pruning rounds")
        previous, pruned = [e for e in proc.logs if e.get("msg") == "history pruned"][-2:]
        assert await proc.stop() == 0
    finally:
        await proc.kill()
    # Rows only ever arrive newer, so after a round nothing older than its cutoff (its
    # start minus the window) may remain. Its start is not logged, but it came at least
    # PRUNE_EVERY_S after the previous round was logged, however long the rounds take.
    round_began = datetime.fromisoformat(previous["ts"]).timestamp() + PRUNE_EVERY_S
    cutoff_us = (round_began - KEEP_S) * 1e6
    with sqlite3.connect(db) as conn:
        oldest, rows = conn.execute(
            "SELECT min(started_at), count(*) FROM check_history"
        ).fetchone()
        latest = conn.execute("SELECT count(*) FROM site_status").fetchone()[0]
    assert oldest >= cutoff_us, f"a row {(cutoff_us - oldest) / 1e6:.2f} s too old"
    assert rows >= 4 and latest == 4
    assert pruned["deleted"] > 0
    stopped = proc.find(message_is("retention stopped"))
    assert stopped is not None and stopped["deleted"] >= pruned["deleted"], proc.tail()
