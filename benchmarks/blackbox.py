"""Scenario 5 — the peer: Prometheus blackbox_exporter probing the same farm.

The exporter (Debian's ``prometheus-blackbox-exporter``, started here on a free loopback
port with a generated ``http_2xx`` module: GET, 2xx, the same body regex, IPv4) is driven
through ``/probe?module=http_2xx&target=<farm site>`` by ``wrk`` (keep-alive to the exporter;
every probe opens a fresh connection to its target) at a few concurrencies; the best
probes/s counts, with the exporter's CPU from /proc/<pid>/stat. In the same run, on the same
farm, sitemon's scanner (each prober, one process, counting publisher) is measured the same
way; the ratio compares checks per CPU-second.
"""

from __future__ import annotations

import collections
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from devservices.ports import LOOPBACK, free_port, port_is_open

from benchmarks import report, scanner_peak
from benchmarks.farm import FARM_MARKER
from benchmarks.sites import prober_names
from benchmarks.system import load_average, process_cpu_s

EXPORTER = "prometheus-blackbox-exporter"
CONFIG = """\
modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      method: GET
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
      fail_if_body_not_matches_regexp: ["{marker}"]
      tls_config:
        ca_file: {ca}
"""
WRK_SCRIPT = """\
counter = 0
fails = 0  -- globals: done() reads each thread's copy with thread:get
local threads = {{}}
local ports = {{{ports}}}
local sites = {sites}
function setup(thread) table.insert(threads, thread) end
function init(args) counter = math.random(sites) end
function request()
  counter = counter + 1
  local i = counter % sites
  return wrk.format("GET", "/probe?module=http_2xx&target=http://{host}:" ..
                    ports[(i % #ports) + 1] .. "/site/" .. i)
end
function response(status, headers, body)
  if not string.find(body, "probe_success 1", 1, true) then fails = fails + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("fails") end
  io.write(string.format("FAILED_PROBES %d\\n", total))
end
"""


class Exporter:
    """blackbox_exporter on a free loopback port, with the farm's CA trusted."""

    def __init__(self, ca: Path) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="sitemon-blackbox-"))
        (self.dir / "blackbox.yml").write_text(CONFIG.format(marker=FARM_MARKER, ca=ca))
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                EXPORTER,
                f"--config.file={self.dir / 'blackbox.yml'}",
                f"--web.listen-address={LOOPBACK}:{self.port}",
                "--log.level=warn",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(self.dir / "exporter.log").open("wb"),
        )
        deadline = time.monotonic() + 15
        while not port_is_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((self.dir / "exporter.log").read_text())
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the exporter and remove its directory."""
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def drive(
    exporter: Exporter, farm: Any, sites: int, concurrency: int, seconds: float
) -> dict[str, Any]:
    """``wrk`` against ``/probe`` for ``seconds``; probes/s and the exporter's CPU."""
    script = exporter.dir / "probe.lua"
    script.write_text(
        WRK_SCRIPT.format(ports=", ".join(map(str, farm.http_ports)), sites=sites, host=LOOPBACK)
    )
    cpu0, farm0, load0 = process_cpu_s(exporter.proc.pid), farm.cpu_s(), load_average()
    began = time.monotonic()
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{concurrency}",
            f"-d{seconds:.0f}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://{LOOPBACK}:{exporter.port}/",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    wall = time.monotonic() - began
    cpu = process_cpu_s(exporter.proc.pid) - cpu0
    farm_cpu = farm.cpu_s() - farm0
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    failed = int(re.search(r"FAILED_PROBES (\d+)", out).group(1))  # type: ignore[union-attr]
    return {
        "concurrency": concurrency,
        "probes_per_s": requests / wall,
        "cpu_us_per_probe": cpu / requests * 1e6,
        "probes_per_cpu_s": requests / cpu,
        "exporter_cores": cpu / wall,
        "failed_share": failed / requests,
        "farm_cpu_us_per_probe": farm_cpu / requests * 1e6,
        "load": [load0, load_average()],
    }


def run(ctx: Any) -> dict[str, Any]:
    """Interleaved: sitemon (each prober), then blackbox at each concurrency; per run."""
    if shutil.which(EXPORTER) is None or shutil.which("wrk") is None:
        report.progress(
            "blackbox: prometheus-blackbox-exporter or wrk missing; skipped "
            "(apt-get install -y prometheus-blackbox-exporter wrk)"
        )
        return {"skipped": "prometheus-blackbox-exporter or wrk not installed"}
    quick = ctx.quick
    sites = 8_000 if quick else 40_000
    seconds = 3.0 if quick else 10.0
    concurrencies = [64] if quick else [16, 64, 256]
    exporter = Exporter(ctx.farm.ca)
    runs: list[dict[str, Any]] = []
    try:
        for run_no in range(ctx.runs):
            figure: dict[str, Any] = {"sitemon": {}, "blackbox": []}
            for prober in prober_names():
                figure["sitemon"][prober] = scanner_peak.measure(
                    ctx.farm,
                    prober=prober,
                    scheme="http",
                    processes=1,
                    sites=sites,
                    interval_s=2.0 if quick else 5.0,
                    max_concurrency=256,
                    warmup_s=1.0 if quick else 3.0,
                    measure_s=seconds,
                )
                figure["sitemon"][prober].pop("parts")
            for concurrency in concurrencies:
                figure["blackbox"].append(drive(exporter, ctx.farm, sites, concurrency, seconds))
            best = max(figure["blackbox"], key=lambda b: b["probes_per_s"])
            figure["best"] = best
            figure["ratio"] = {
                p: s["checks_per_cpu_s"] / best["probes_per_cpu_s"]
                for p, s in figure["sitemon"].items()
            }
            runs.append(figure)
            report.progress(
                f"blackbox run {run_no + 1}/{ctx.runs}: blackbox {best['probes_per_s']:.0f} "
                f"probes/s at c={best['concurrency']}, {best['cpu_us_per_probe']:.0f} us/probe; "
                + ", ".join(f"{p} {r:.2f}x" for p, r in figure["ratio"].items())
                + f"; load {best['load'][0][0]}"
            )
    finally:
        exporter.stop()
    rows = [
        [
            "blackbox_exporter (best c)",
            report.median([r["best"]["probes_per_s"] for r in runs]),
            report.median([r["best"]["cpu_us_per_probe"] for r in runs]),
            report.median([r["best"]["probes_per_cpu_s"] for r in runs]),
            report.median([r["best"]["exporter_cores"] for r in runs]),
            f"{max(r['best']['failed_share'] for r in runs):.1%} failed",
            "1.00",
            report.median([r["best"]["load"][0][0] for r in runs]),
        ]
    ]
    ratios: dict[str, float | None] = {}
    for prober in prober_names():
        side = [r["sitemon"][prober] for r in runs]
        ratios[prober] = report.median([r["ratio"][prober] for r in runs])
        rows.append(
            [
                f"sitemon {prober} x1",
                report.median([s["checks_per_s"] for s in side]),
                report.median([s["cpu_us_per_check"] for s in side]),
                report.median([s["checks_per_cpu_s"] for s in side]),
                report.median([s["scanner_cores"] for s in side]),
                f"{min(s['ok_share'] for s in side):.1%} ok",
                f"{ratios[prober]:.2f}",
                report.median([s["load"][0][0] for s in side]),
            ]
        )
    by_c: dict[int, list[float]] = collections.defaultdict(list)
    for r in runs:
        for b in r["blackbox"]:
            by_c[b["concurrency"]].append(b["probes_per_s"])
    report.table(
        "sitemon vs blackbox_exporter, same farm, same run (plain HTTP; medians; ratio = "
        "checks per CPU-second / blackbox probes per CPU-second, per run)",
        ["who", "per s", "CPU us each", "per CPU-s", "cores", "result", "ratio", "load 1m"],
        rows,
    )
    return {
        "sites": sites,
        "seconds": seconds,
        "concurrencies": concurrencies,
        "blackbox_probes_per_s_by_concurrency": {c: report.median(v) for c, v in by_c.items()},
        "ratios": ratios,
        "runs": runs,
    }
