"""The core is pure: importing it loads no driver, not even indirectly.

Which module may import which (core ← adapters ← cli, no driver and no dependency_injector
in the core, no cycles in the CLI) is checked statically by import-linter
(``lint-imports`` in ``nox -s lint``; contracts in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys

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
        "sitemon_core.service, sitemon_core.alerting; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {DRIVERS!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"
