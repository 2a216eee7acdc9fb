"""Scenario — small catalogues: what `sitemon-run standalone` costs at 100 to 10,000 sites.

Most users have hundreds to a few thousand sites, where a check's fixed costs (timers,
the persister's polling, a SQLite transaction per small batch, the web server idling)
weigh more than at saturation. One ``sitemon-run standalone`` process (the default
install: embedded bus, SQLite, the status page on, ``logging.checks`` default) with N
farm sites at 10 s (quick: 5 s), first checks spread over the interval; after every site
has run once, its process CPU (/proc/<pid>/stat) over the window: cores and CPU µs per
check. The reference (MEASUREMENTS.md, same box class): Gatus 5.36 at 1,000 endpoints /
10 s used 0.05-0.08 cores, 592 µs per check.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from devservices.ports import free_port

from benchmarks import report
from benchmarks.farm import FARM_MARKER
from benchmarks.sites import prober_names
from benchmarks.system import load_average, process_cpu_s


def _config(directory: Path, urls: list[str], interval_s: float, prober: str) -> Path:
    doc = {
        "scanner": {"region": "bench", "prober": prober, "start_jitter": f"{interval_s}s"},
        "defaults": {"interval": f"{interval_s}s", "timeout": "5s"},
        "sites": [{"url": url, "regex": FARM_MARKER} for url in urls],
        "repository": {"kind": "sqlite", "sqlite": {"path": str(directory / "sitemon.db")}},
        "web": {"listen": f"127.0.0.1:{free_port()}"},
    }
    path = directory / "sitemon.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def measure(
    ctx: Any, prober: str, sites: int, interval_s: float, window_s: float
) -> dict[str, Any]:
    """One standalone process: CPU over ``window_s`` after every site ran once."""
    with tempfile.TemporaryDirectory(prefix="sitemon-small-") as tmp:
        urls = [ctx.farm.url(i) for i in range(sites)]
        config = _config(Path(tmp), urls, interval_s, prober)
        proc = subprocess.Popen(
            [sys.executable, "-m", "sitemon_cli.entry", "standalone", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=(Path(tmp) / "stderr.log").open("wb"),
        )
        try:
            time.sleep(interval_s + 3.0)
            if proc.poll() is not None:
                raise RuntimeError(
                    (Path(tmp) / "stderr.log").read_text()[-2000:]
                )  # every site has started its grid
            cpu0, load0 = process_cpu_s(proc.pid), load_average()
            time.sleep(window_s)
            cpu = process_cpu_s(proc.pid) - cpu0
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    checks = sites * window_s / interval_s
    return {
        "cores": cpu / window_s,
        "cpu_us_per_check": cpu / checks * 1e6,
        "checks_per_s": sites / interval_s,
        "load": load0,
    }


def run(ctx: Any) -> dict[str, Any]:
    """Each prober at each size, ``ctx.runs`` times; medians."""
    sizes = [100, 1_000] if ctx.quick else [100, 1_000, 10_000]
    interval_s, window_s = (5.0, 10.0) if ctx.quick else (10.0, 60.0)
    rows: dict[str, list[dict[str, Any]]] = {}
    for _ in range(ctx.runs):
        for prober in prober_names():
            for size in sizes:
                name = f"{prober} {size:,} sites"
                if not ctx.wanted(name):
                    continue
                figure = measure(ctx, prober, size, interval_s, window_s)
                rows.setdefault(name, []).append(figure)
                report.progress(
                    f"small_catalogues {name}: {figure['cores']:.3f} cores, "
                    f"{figure['cpu_us_per_check']:.0f} us/check"
                )
    report.table(
        f"standalone CPU with small catalogues (interval {interval_s:.0f} s; medians)",
        ["variant", "checks/s offered", "cores", "CPU us/check", "load 1m"],
        [
            [
                name,
                figures[0]["checks_per_s"],
                report.median([f["cores"] for f in figures]),
                report.median([f["cpu_us_per_check"] for f in figures]),
                report.median([f["load"][0] for f in figures]),
            ]
            for name, figures in rows.items()
        ],
    )
    return {"interval_s": interval_s, "window_s": window_s, "runs": rows}
