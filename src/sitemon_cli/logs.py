"""Structured logging: human-readable lines by default, one JSON object per line by flag.

Fields passed with ``extra={...}`` are part of every record in both formats, so the same
call serves a person at a terminal and a log pipeline.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields a record carries beyond the standard ones."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class HumanFormatter(logging.Formatter):
    """``12:00:01 INFO  sitemon.scanner  message  key=value ...``."""

    def format(self, record: logging.LogRecord) -> str:
        """Render one record on one line (plus a traceback if any)."""
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        compact = getattr(record, "_compact", False)  # the message already says it all
        extras = "" if compact else " ".join(f"{k}={v}" for k, v in fields_of(record).items())
        line = f"{stamp} {record.levelname:<7} {record.name:<17} {record.getMessage()}"
        line = f"{line}  {extras}" if extras else line
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg and the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render one record as a JSON line."""
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **fields_of(record),
        }
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


def setup_logging(fmt: str = "human", level: str = "info") -> None:
    """Send sitemon's logs to stderr in ``fmt`` ("human" or "json") at ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else HumanFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("sitemon").setLevel(level.upper())
    # asyncpg logs a full traceback for every failed reconnect of an idle pool slot while a
    # database is down; sitemon already logs each failed save with its retry.
    logging.getLogger("asyncpg.pool").setLevel(logging.ERROR)
