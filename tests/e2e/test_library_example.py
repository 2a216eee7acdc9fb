"""The library example (examples/probe_one_site.py and README's "Using sitemon as a library")
works as shown, against a local aiohttp server."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

from sitemon_core.models import ErrorKind

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "probe_one_site.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("probe_one_site", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_probe_one_reads_an_up_site(target_base: str) -> None:
    result = await load_example().probe_one(f"{target_base}/ok", "target ok")
    assert (result.ok, result.status_code, result.regex_matched) == (True, 200, True)
    assert result.error_kind is ErrorKind.NONE and result.outcome == "up"
    assert result.timings.connect_ms is not None and result.total_ms > 0


async def test_probe_one_returns_a_failing_site_as_data(refused_url: str) -> None:
    result = await load_example().probe_one(refused_url)
    assert not result.ok and result.error_kind is ErrorKind.CONNECT


async def test_the_script_runs_as_documented(target_base: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        f"{target_base}/ok",
        "maintenance",  # a regex the page lacks: the script reports it and exits 1
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1, err.decode()
    assert re.match(r"example: regex_miss status=200 \d+\.\d ms\n", out.decode()), out.decode()


def test_the_readme_shows_the_example_as_it_is() -> None:
    """Every line of the README's library snippet is a line of the tested script."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Using sitemon as a library", 1)[1]
    snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
    script = {line.strip() for line in EXAMPLE.read_text(encoding="utf-8").splitlines()}
    missing = [line for line in snippet.splitlines() if line.strip() not in script]
    assert snippet.strip() and not missing, missing
