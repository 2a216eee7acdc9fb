"""Structured logs: both formats carry the fields; floods are thinned, checks never are."""

from __future__ import annotations

import json
import logging

from sitemon_cli.logs import FloodFilter, HumanFormatter, JsonFormatter, RetriedKafkaErrorFilter


def record(name: str, msg: str, created: float, **fields: object) -> logging.LogRecord:
    rec = logging.LogRecord(name, logging.WARNING, __file__, 1, msg, None, None)
    rec.created = created
    rec.__dict__.update(fields)
    return rec


def test_json_and_human_formats_carry_the_fields() -> None:
    rec = record("sitemon.scanner", "result dropped", 0.0, site_id="a", dropped_total=3)
    doc = json.loads(JsonFormatter().format(rec))
    assert (doc["msg"], doc["site_id"], doc["dropped_total"], doc["level"]) == (
        "result dropped",
        "a",
        3,
        "warning",
    )
    assert doc["pid"] == rec.process
    assert HumanFormatter().format(rec).endswith("result dropped  site_id=a dropped_total=3")


def test_a_flood_is_thinned_and_the_next_line_says_how_much() -> None:
    flood = FloodFilter(burst=3, window_s=10)
    passed = [
        flood.filter(record("aiokafka.conn", "Unable to connect", t * 0.1)) for t in range(50)
    ]
    assert passed.count(True) == 3
    later = record("aiokafka.conn", "Unable to connect", 11.0)
    assert flood.filter(later) and later.suppressed_similar == 47


def test_checks_and_other_lines_are_never_thinned() -> None:
    flood = FloodFilter(burst=1, window_s=10)
    assert all(flood.filter(record("sitemon.check", "up 200", 0.0)) for _ in range(20))
    assert all(
        flood.filter(record("sitemon.persister", "save failed, retrying", 0.0)) for _ in range(20)
    )


def test_kafka_errors_aiokafka_retries_are_info_others_stay_errors() -> None:
    import aiokafka.errors  # noqa: F401  (loaded in any process where aiokafka logs)

    def level_after(name: str, message: str) -> str:
        rec = record(name, message, 0.0)
        rec.levelno, rec.levelname = logging.ERROR, "ERROR"
        assert RetriedKafkaErrorFilter().filter(rec)
        return rec.levelname

    forming = "Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError"
    moving = "Failed fetch offsets from 1: [Error 6] NotLeaderForPartitionError: t[2]"
    denied = "Topic authorization failed: [Error 29] TopicAuthorizationFailedError"
    assert level_after("aiokafka.consumer.group_coordinator", forming) == "INFO"
    assert level_after("aiokafka.consumer.fetcher", moving) == "INFO"
    assert level_after("aiokafka.consumer.fetcher", denied) == "ERROR"
    assert level_after("sitemon.persister", forming) == "ERROR"  # only aiokafka's own lines
