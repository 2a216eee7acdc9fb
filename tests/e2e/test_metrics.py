"""``metrics.listen``: a running monitor serves its counters for Prometheus."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp

from tests.e2e.procs import SitemonProcess, message_is, wait_until, write_config
from tests.promtool import promtool_problems


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def scrape(url: str) -> dict[str, float]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await response.text()
    assert promtool_problems(text) == ""  # a real scrape, as Prometheus would take it
    return {
        name: float(value)
        for name, value in (
            line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#")
        )
    }


async def test_standalone_serves_metrics_that_match_its_own_counts(
    tmp_path: Path,
    target_base: str,
    refused_url: str,
) -> None:
    port = free_port()
    config = write_config(
        tmp_path / "m.yaml",
        {
            "scanner": {"start_jitter": "100ms"},
            "sites": [
                {"id": "up", "url": f"{target_base}/ok", "interval": "200ms", "timeout": "150ms"},
                {"id": "down", "url": refused_url, "interval": "200ms", "timeout": "150ms"},
            ],
            "repository": {"kind": "sqlite", "sqlite": {"path": str(tmp_path / "m.db")}},
            "metrics": {"listen": f"127.0.0.1:{port}"},
        },
    )
    proc = await SitemonProcess("standalone", config).start()
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        await proc.wait_for(message_is("metrics listening"), timeout=60)

        async def enough() -> dict[str, float] | None:
            samples = await scrape(url)
            return samples if samples.get("sitemon_persister_saved_total", 0) >= 10 else None

        samples = await wait_until(enough, 60, "10 saved results in /metrics")
        assert await proc.stop() == 0
    finally:
        await proc.kill()
    up, refused = (
        samples.get(f'sitemon_checks_total{{outcome="{o}"}}', 0) for o in ("up", "connect")
    )
    assert up > 0 and refused > 0
    # Every outcome counts, not only the two expected: on a loaded machine a check of the
    # local target can exceed its 150 ms timeout, and that check is a "timeout".
    checks = sum(v for k, v in samples.items() if k.startswith("sitemon_checks_total{"))
    assert samples["sitemon_check_duration_seconds_count"] == checks
    assert samples['sitemon_check_duration_seconds_bucket{le="+Inf"}'] == checks
    assert samples["sitemon_sites"] == 2
    assert samples["sitemon_scanner_started_total"] >= samples["sitemon_scanner_published_total"]
    assert samples["sitemon_scanner_published_total"] >= samples["sitemon_persister_saved_total"]
    stopped = proc.find(message_is("scanner stopped"))
    assert stopped is not None and stopped["started"] >= samples["sitemon_scanner_started_total"]
