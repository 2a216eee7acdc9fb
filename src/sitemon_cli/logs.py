"""Structured logging: human-readable lines by default, one JSON object per line by flag.

Fields passed with ``extra={...}`` are part of every record in both formats, so the same
call serves a person at a terminal and a log pipeline.

Secrets (the config's passwords) are registered with ``register_secret`` when a config
is loaded; both formats then mask them in messages, fields and tracebacks, and so does
the hook printing uncaught exceptions. That is a last line of defence (say, a driver
error quoting a connection string): adapters still keep secrets out of their errors.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


MASK = "***"
# Shorter secrets are not masked: masking every "abc" would garble all logs, and a
# password that short is no protection anyway.
MIN_SECRET_LENGTH = 4
_secrets: list[str] = []  # longest first, so a secret containing another is masked whole


def register_secret(value: str | None) -> None:
    """Mask ``value`` in every log line and uncaught traceback from now on."""
    if value and len(value) >= MIN_SECRET_LENGTH and value not in _secrets:
        _secrets.append(value)
        _secrets.sort(key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _redact_value(value: Any) -> Any:
    """A JSON-ready field value with secrets masked (what ``default=str`` would print)."""
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _redact_value(v) for k, v in value.items()}
    return redact(str(value))


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
        text = f"{record.getMessage()}  {extras}" if extras else record.getMessage()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return f"{stamp} {record.levelname:<7} {record.name:<17} {redact(text)}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg and the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render one record as a JSON line."""
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,  # tells --workers children apart
            "msg": redact(record.getMessage()),
            **{k: _redact_value(v) for k, v in fields_of(record).items()},
        }
        if record.exc_info:
            doc["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(doc, default=str, ensure_ascii=False)


class FloodFilter(logging.Filter):
    """Lets at most ``burst`` records of one kind through per ``window_s``.

    A kind is (logger, message template). During a broker outage aiokafka logs dozens of
    lines a second; the first few say what happened, the next one let through says how
    many were held back (``suppressed_similar``).
    """

    def __init__(self, burst: int = 5, window_s: float = 10.0) -> None:
        super().__init__()
        self.burst = burst
        self.window_s = window_s
        self._seen: dict[tuple[str, str], tuple[float, int, int]] = {}

    # Each "result dropped" line is kept on purpose: it names the lost check.
    FLOODS = frozenset({"kafka send failed, retrying"})

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether to emit ``record`` (adds ``suppressed_similar`` after a quiet spell)."""
        flood_prone = record.name.startswith("aiokafka") or record.msg in self.FLOODS
        if not flood_prone or record.levelno >= logging.CRITICAL:
            return True
        key = (record.name, str(record.msg))
        start, count, held = self._seen.get(key, (record.created, 0, 0))
        if record.created - start >= self.window_s:
            start, count = record.created, 0
        if count >= self.burst:
            self._seen[key] = (start, count, held + 1)
            return False
        if held:
            record.suppressed_similar = held
        self._seen[key] = (start, count + 1, 0)
        return True


class RetriedKafkaErrorFilter(logging.Filter):
    """aiokafka logs some conditions it retries by itself at ERROR: a group coordinator not
    elected yet while a group forms, a partition leader moving. Those are INFO for the user;
    an error aiokafka does not retry (authorization, say) stays an ERROR."""

    _ERROR_NAME = re.compile(r"\b([A-Z][A-Za-z]+Error)\b")

    def filter(self, record: logging.LogRecord) -> bool:
        """Downgrade a retried Kafka error to INFO; always let the record through."""
        if (
            record.levelno >= logging.ERROR
            and record.name.startswith("aiokafka")
            and self.retried(record.getMessage())
        ):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True

    @classmethod
    def retried(cls, message: str) -> bool:
        """Whether ``message`` names an aiokafka error class marked ``retriable``."""
        errors = sys.modules.get("aiokafka.errors")  # loaded whenever aiokafka logs
        names = cls._ERROR_NAME.findall(message)
        return any(getattr(getattr(errors, name, None), "retriable", False) for name in names)


def setup_logging(fmt: str = "human", level: str = "info") -> None:
    """Send sitemon's logs to stderr in ``fmt`` ("human" or "json") at ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else HumanFormatter())
    handler.addFilter(RetriedKafkaErrorFilter())
    handler.addFilter(FloodFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    sys.excepthook = _redacting_excepthook
    root.setLevel(logging.WARNING)
    logging.getLogger("sitemon").setLevel(level.upper())
    # asyncpg logs a full traceback for every failed reconnect of an idle pool slot while a
    # database is down; sitemon already logs each failed save with its retry.
    logging.getLogger("asyncpg.pool").setLevel(logging.ERROR)


def _redacting_excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    """Print an uncaught exception like Python does, with secrets masked."""
    sys.stderr.write(redact("".join(traceback.format_exception(exc_type, exc, tb))))
