"""``promtool check metrics`` (Debian package ``prometheus``) over an exposition text."""

from __future__ import annotations

import shutil
import subprocess

import pytest


def promtool_problems(exposition: str) -> str:
    """What promtool objects to in ``exposition`` ("" when it is clean).

    Fails the test (never skips it) when promtool is not installed: `.ci/run` installs it.
    """
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found: apt-get install prometheus", pytrace=False)
    done = subprocess.run(
        [promtool, "check", "metrics"],
        input=exposition,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    return "" if done.returncode == 0 else f"exit {done.returncode}: {done.stdout}{done.stderr}"
