"""compose/docker-compose.yml: valid against the Compose specification's JSON schema (no
Docker engine here to run it), one Kafka version, start order and healthchecks."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from sitemon_cli.config import load_config

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose" / "docker-compose.yml"
SCHEMA = ROOT / "tests" / "data" / "compose-spec.json"
SITEMON_SERVICES = ("targets", "producer", "consumer")  # built from compose/Dockerfile


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return document


def schema_errors(document: dict[str, Any]) -> list[str]:
    """Every violation of the Compose schema, as ``path: message``."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def test_the_vendored_schema_is_a_valid_schema() -> None:
    jsonschema.Draft7Validator.check_schema(json.loads(SCHEMA.read_text(encoding="utf-8")))


def test_compose_file_matches_the_compose_schema() -> None:
    assert schema_errors(compose()) == []


@pytest.mark.parametrize(
    "where,typo",
    [
        (("services", "producer"), ("depends_on", "depend_on")),
        (("services", "kafka", "healthcheck"), ("interval", "intervall")),
        ((), ("services", "service")),
    ],
)
def test_a_typo_in_a_key_fails_validation(where: tuple[str, ...], typo: tuple[str, str]) -> None:
    document = copy.deepcopy(compose())
    node = document
    for key in where:
        node = node[key]
    right, wrong = typo
    node[wrong] = node.pop(right)
    errors = schema_errors(document)
    assert any(repr(wrong) in error for error in errors), errors


def devservices_kafka_version() -> str:
    """The default Kafka version of devservices (its source, not the env override)."""
    source = (ROOT / "devservices" / "fetch.py").read_text(encoding="utf-8")
    found = re.search(
        r'KAFKA_VERSION = os\.environ\.get\("SITEMON_KAFKA_VERSION", "([^"]+)"\)', source
    )
    assert found, "KAFKA_VERSION not found in devservices/fetch.py"
    return found.group(1)


def test_kafka_is_the_version_devservices_runs() -> None:
    images = [s["image"] for s in compose()["services"].values() if "kafka" in s.get("image", "")]
    assert images == [f"apache/kafka:{devservices_kafka_version()}"]


def test_every_dependency_waits_for_a_healthcheck_that_exists() -> None:
    services = compose()["services"]
    assert services["producer"]["depends_on"]["targets"] == {"condition": "service_healthy"}
    for name, service in services.items():
        for needed, how in service.get("depends_on", {}).items():
            assert how == {"condition": "service_healthy"}, (name, needed)
            assert "healthcheck" in services[needed], (name, needed)


def probed_port(service: dict[str, Any]) -> int:
    """The loopback port the service's healthcheck one-liner asks."""
    test = service["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"], test  # the image has Python, not curl
    url = re.search(r"'(http://127\.0\.0\.1:\d+/[^']*)'", test[3])
    assert url, test
    port = urlsplit(url.group(1)).port
    assert port is not None
    return port


@pytest.mark.parametrize("name", ["producer", "consumer"])
def test_sitemon_service_healthcheck_asks_the_metrics_port_of_its_config(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SITEMON_KAFKA_BOOTSTRAP", "kafka:9092")
    monkeypatch.setenv("SITEMON_PG_DSN", "postgresql://sitemon:sitemon@postgres:5432/sitemon")
    service = compose()["services"][name]
    command = service["command"]
    config = load_config(ROOT / command[command.index("-c") + 1])
    assert config.metrics_listen is not None, f"{name}: metrics.listen is off"
    assert config.metrics_listen[1] == probed_port(service)
    assert "/metrics'" in service["healthcheck"]["test"][3]


def test_targets_healthcheck_asks_the_port_it_serves() -> None:
    service = compose()["services"]["targets"]
    command = service["command"]
    assert int(command[command.index("--port") + 1]) == probed_port(service)


def test_every_sitemon_service_has_a_healthcheck() -> None:
    services = compose()["services"]
    built = {name for name, service in services.items() if "build" in service}
    assert built == set(SITEMON_SERVICES)
    assert all("healthcheck" in services[name] for name in built)
