"""The README's alerting examples work as written: the ``alerts:`` section passes
``check-config`` and the Alertmanager configuration passes ``amtool check-config``."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from sitemon_cli.main import main

README = Path(__file__).resolve().parents[2] / "README.md"
YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def yaml_block(starting: str) -> str:
    """The README's one YAML block that starts with ``starting``."""
    (block,) = [b for b in YAML_BLOCK.findall(README.read_text()) if b.startswith(starting)]
    return block


def test_the_alerts_example_passes_check_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SITEMON_WEBHOOK_SECRET", "s3cret")
    monkeypatch.setenv("SITEMON_SLACK_URL", "https://hooks.slack.example/T000/B000/XXXX")
    document = yaml.safe_load(yaml_block("alerts:"))
    document["sites"] = [{"url": "https://shop.example.com/", "tags": ["prod", "db"]}]
    path = tmp_path / "alerts.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    assert main(["check-config", "-c", str(path)]) == 0, capsys.readouterr().err


def test_the_alertmanager_example_passes_amtool(tmp_path: Path) -> None:
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.fail("amtool not found: apt-get install prometheus-alertmanager", pytrace=False)
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml_block("global:"), encoding="utf-8")
    done = subprocess.run(
        [amtool, "check-config", str(path)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(yaml_block("global:").replace("receiver: team-email", "receiver: nobody"))
    assert subprocess.run([amtool, "check-config", str(broken)], capture_output=True).returncode
