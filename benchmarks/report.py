"""Printing tables, taking medians and writing ``bench-results/*.json``."""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.system import machine, uptime_line


def median(values: list[Any]) -> float | None:
    """The median of the non-None values (None if there are none)."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of ``values``, nearest rank; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))
    return ordered[index]


def progress(message: str) -> None:
    """A progress line on stderr, stamped with the time."""
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(title: str, header: list[str], rows: list[list[Any]]) -> str:
    """Print (and return) a Markdown table."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(header)
    ]
    lines = [
        f"\n### {title}\n",
        "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += [
        "| "
        + " | ".join(
            c.rjust(w) if i else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        + " |"
        for row in cells
    ]
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def write(directory: Path, scenario: str, data: dict[str, Any], meta: dict[str, Any]) -> Path:
    """Write ``<directory>/<scenario>.json`` with the machine, the command and the load."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{scenario}.json"
    payload = {
        "scenario": scenario,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "uptime": uptime_line(),
        "machine": machine(),
        **meta,
        "results": data,
    }
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path
