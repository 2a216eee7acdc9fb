"""Scenario 5 — the peer: Prometheus blackbox_exporter probing the same farm.

The exporter (Debian's ``prometheus-blackbox-exporter``, started here on a free loopback
port) has two modules: ``sitemon_check``, exactly sitemon's check (GET, 2xx, the same body
regex on the same 1,017-byte page, IPv4, a fresh connection per probe), and the stock
``http_2xx`` of Debian's ``/etc/prometheus/blackbox.yml`` (``prober: http``, nothing else:
no regex). Each is driven through ``/probe?module=<m>&target=<farm site>`` by ``wrk``
(keep-alive to the exporter) at a few concurrencies; the best probes/s counts, with the
exporter's CPU from /proc/<pid>/stat and, separately, wrk's own CPU (not counted in the
ratio). In the same run, on the same farm, sitemon's scanner (each prober, one process) is
measured scanner-only (counting publisher) and, when Kafka is available, as a producer
(Avro + ``KafkaStatusPublisher``); the ratio compares checks per CPU-second with the
identical-work module.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from devservices.ports import LOOPBACK, free_port, port_is_open

from benchmarks import report, scanner_peak
from benchmarks.farm import FARM_MARKER
from benchmarks.sites import prober_names
from benchmarks.system import load_average, process_cpu_s

EXPORTER = "prometheus-blackbox-exporter"
IDENTICAL = "sitemon_check"  # the module doing exactly sitemon's check
STOCK = "http_2xx"  # Debian's stock module: a plain GET, 2xx, no regex
CONFIG = """\
modules:
  http_2xx:
    prober: http
  sitemon_check:
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
  return wrk.format("GET", "/probe?module={module}&target=http://{host}:" ..
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


def children_cpu_s() -> float:
    """CPU seconds of this process's waited-for children (wrk runs) so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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
    exporter: Exporter,
    farm: Any,
    sites: int,
    concurrency: int,
    seconds: float,
    *,
    module: str = IDENTICAL,
) -> dict[str, Any]:
    """``wrk`` against ``/probe`` for ``seconds``; probes/s, the exporter's CPU and wrk's."""
    script = exporter.dir / "probe.lua"
    script.write_text(
        WRK_SCRIPT.format(
            ports=", ".join(map(str, farm.http_ports)), sites=sites, host=LOOPBACK, module=module
        )
    )
    cpu0, farm0, load0 = process_cpu_s(exporter.proc.pid), farm.cpu_s(), load_average()
    wrk0 = children_cpu_s()
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
    wrk_cpu = children_cpu_s() - wrk0
    farm_cpu = farm.cpu_s() - farm0
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    failed = int(re.search(r"FAILED_PROBES (\d+)", out).group(1))  # type: ignore[union-attr]
    return {
        "module": module,
        "concurrency": concurrency,
        "wrk_cpu_us_per_probe": wrk_cpu / requests * 1e6,
        "probes_per_s": requests / wall,
        "cpu_us_per_probe": cpu / requests * 1e6,
        "probes_per_cpu_s": requests / cpu,
        "exporter_cores": cpu / wall,
        "failed_share": failed / requests,
        "farm_cpu_us_per_probe": farm_cpu / requests * 1e6,
        "load": [load0, load_average()],
    }


def _sitemon_side(ctx: Any, sites: int, seconds: float, kafka: str | None) -> dict[str, Any]:
    """Each prober scanner-only and, with ``kafka``, as a producer (Avro + Kafka)."""
    out: dict[str, Any] = {}
    variants = [(p, None) for p in prober_names()]
    if kafka is not None:
        variants += [(p, kafka) for p in prober_names()]
    for prober, bootstrap in variants:
        figure = scanner_peak.measure(
            ctx.farm,
            prober=prober,
            scheme="http",
            processes=1,
            sites=sites,
            interval_s=2.0 if ctx.quick else 5.0,
            max_concurrency=256,
            warmup_s=1.0 if ctx.quick else 3.0,
            measure_s=seconds,
            kafka=bootstrap,
            topic=_new_topic(bootstrap) if bootstrap else None,
        )
        figure.pop("parts")
        out[f"{prober} +kafka" if bootstrap else prober] = figure
    return out


def _new_topic(bootstrap: str) -> str:
    from benchmarks.services import create_topic

    name = f"bench-blackbox-{uuid.uuid4().hex[:8]}"
    create_topic(bootstrap, name, 6)
    return name


def _one_run(ctx: Any, exporter: Exporter, kafka: str | None) -> dict[str, Any]:
    sites = 8_000 if ctx.quick else 40_000
    seconds = 3.0 if ctx.quick else 10.0
    figure: dict[str, Any] = {"sitemon": _sitemon_side(ctx, sites, seconds, kafka)}
    for module in (IDENTICAL, STOCK):
        tries = [
            drive(exporter, ctx.farm, sites, c, seconds, module=module) for c in _concurrencies(ctx)
        ]
        figure[module] = {**max(tries, key=lambda b: b["probes_per_s"]), "all": tries}
    best = figure[IDENTICAL]["probes_per_cpu_s"]
    figure["ratio"] = {name: s["checks_per_cpu_s"] / best for name, s in figure["sitemon"].items()}
    return figure


def _concurrencies(ctx: Any) -> list[int]:
    return [64] if ctx.quick else [16, 64, 256]


def run(ctx: Any) -> dict[str, Any]:
    """Interleaved: sitemon (each prober, each shape), then blackbox (each module, each
    concurrency); per run."""
    if shutil.which(EXPORTER) is None or shutil.which("wrk") is None:
        report.progress(
            "blackbox: prometheus-blackbox-exporter or wrk missing; skipped "
            "(apt-get install -y prometheus-blackbox-exporter wrk)"
        )
        return {"skipped": "prometheus-blackbox-exporter or wrk not installed"}
    # The shared test services when they are up (SITEMON_KAFKA_BOOTSTRAP), else devservices.
    kafka = None
    if ctx.want_kafka:
        kafka = os.environ.get("SITEMON_KAFKA_BOOTSTRAP") or ctx.kafka_bootstrap()
    exporter = Exporter(ctx.farm.ca)
    runs: list[dict[str, Any]] = []
    try:
        for run_no in range(ctx.runs):
            figure = _one_run(ctx, exporter, kafka)
            runs.append(figure)
            best = figure[IDENTICAL]
            report.progress(
                f"blackbox run {run_no + 1}/{ctx.runs}: {IDENTICAL} "
                f"{best['probes_per_s']:.0f} probes/s at c={best['concurrency']}, "
                f"{best['cpu_us_per_probe']:.0f} us/probe; "
                + ", ".join(f"{p} {r:.2f}x" for p, r in figure["ratio"].items())
            )
    finally:
        exporter.stop()
    _table(runs)
    return {"concurrencies": _concurrencies(ctx), "runs": runs}


def _table(runs: list[dict[str, Any]]) -> None:
    def med(values: list[float]) -> float | None:
        return report.median(values)

    rows = []
    for module in (IDENTICAL, STOCK):
        side = [r[module] for r in runs]
        rows.append(
            [
                f"blackbox_exporter {module} (best c)",
                med([b["probes_per_s"] for b in side]),
                med([b["cpu_us_per_probe"] for b in side]),
                med([b["probes_per_cpu_s"] for b in side]),
                med([b["exporter_cores"] for b in side]),
                f"{max(b['failed_share'] for b in side):.1%} failed",
                f"wrk {med([b['wrk_cpu_us_per_probe'] for b in side]):.0f} us",
                med(
                    [r[module]["probes_per_cpu_s"] / r[IDENTICAL]["probes_per_cpu_s"] for r in runs]
                ),
                med([b["load"][0][0] for b in side]),
            ]
        )
    for name in runs[0]["sitemon"]:
        side = [r["sitemon"][name] for r in runs]
        rows.append(
            [
                f"sitemon {name}" + ("" if "kafka" in name else " scanner-only"),
                med([s["checks_per_s"] for s in side]),
                med([s["cpu_us_per_check"] for s in side]),
                med([s["checks_per_cpu_s"] for s in side]),
                med([s["scanner_cores"] for s in side]),
                f"{min(s['ok_share'] for s in side):.1%} ok",
                "",
                med([r["ratio"][name] for r in runs]),
                med([s["load"][0][0] for s in side]),
            ]
        )
    report.table(
        "sitemon vs blackbox_exporter, same farm, same run (plain HTTP; medians; ratio = "
        f"per CPU-second / blackbox {IDENTICAL} probes per CPU-second, per run)",
        [
            "who",
            "per s",
            "CPU us each",
            "per CPU-s",
            "cores",
            "result",
            "driver",
            "ratio",
            "load 1m",
        ],
        rows,
    )
