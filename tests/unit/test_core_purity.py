"""The core is pure: importing it loads no driver, and it never imports adapters."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).parents[2] / "src" / "sitemon_core"
DRIVERS = (
    "aiohttp",
    "aiokafka",
    "asyncpg",
    "fastavro",
    "sqlite3",
    "yaml",
    "dependency_injector",
    "kafka",
    "sitemon_adapters",
    "sitemon_cli",
)


def test_importing_the_core_loads_no_driver() -> None:
    code = (
        "import sys, sitemon_core, sitemon_core.scanner, sitemon_core.persister, "
        "sitemon_core.alerting; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {DRIVERS!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"


def test_no_core_module_imports_a_driver() -> None:
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in DRIVERS]
    assert offenders == []
