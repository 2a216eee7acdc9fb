"""Typed, path-aware access to a parsed YAML document.

Every accessor takes the key path of the value it reads, so each error names the file,
the key path and the problem (``sites.yaml: sites[3].interval: must be > 0``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sitemon_core.errors import ConfigError

T = TypeVar("T")
Parser = Callable[["Section", str, Any], Any]  # (section, key path, raw value) -> value

_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class Section:
    """One mapping of the document, with the keys it allows and its path for errors."""

    def __init__(self, source: str, path: str, data: object, allowed: set[str]) -> None:
        self.source = source
        self.path = path
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise self.error(path or "(top level)", f"must be a mapping, got {_kind(data)}")
        unknown = sorted(str(k) for k in data if k not in allowed)
        if unknown:
            allowed_list = ", ".join(sorted(allowed))
            raise self.error(self.key(unknown[0]), f"unknown key (allowed: {allowed_list})")
        self.data: Mapping[str, Any] = data

    def key(self, name: str) -> str:
        """The key path of ``name`` inside this section."""
        return f"{self.path}.{name}" if self.path else name

    def error(self, key_path: str, problem: str) -> ConfigError:
        """A ConfigError for ``key_path`` in this file."""
        return ConfigError(self.source, key_path, problem)

    def child(self, name: str, allowed: set[str]) -> Section:
        """The nested mapping under ``name`` (empty when absent)."""
        return Section(self.source, self.key(name), self.data.get(name), allowed)

    def get(self, name: str, parse: Callable[[Section, str, Any], T], default: T) -> T:
        """The value of ``name`` parsed by ``parse``, or ``default`` when absent or null."""
        raw = self.data.get(name)
        return default if raw is None else parse(self, self.key(name), raw)

    def require(self, name: str, parse: Callable[[Section, str, Any], T]) -> T:
        """The value of ``name`` parsed by ``parse``; an error when absent."""
        if self.data.get(name) is None:
            raise self.error(self.key(name), "is required")
        return parse(self, self.key(name), self.data[name])


def pick_value(
    sec: Section, defaults: Mapping[str, Any], name: str, parse: Parser, fallback: Any
) -> Any:
    """``name`` parsed from ``sec``, else the already parsed ``defaults[name]``, else
    ``fallback``."""
    if sec.data.get(name) is not None:
        return sec.get(name, parse, fallback)
    return defaults.get(name, fallback)


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _not_a_string(raw: Any, what: str = "must be a string") -> str:
    # YAML reads 42, 1.5, yes and 2024-01-01 as numbers, booleans and dates: a scalar that
    # was meant as text only needs quotes, and saying so is the whole fix.
    if isinstance(raw, list | Mapping) or raw is None:
        return f"{what}, got {_kind(raw)}"
    return f"{what}, got {_kind(raw)} {raw} (quote it if you mean a string)"


def text(sec: Section, path: str, raw: Any) -> str:
    """A string, with ``${VAR}`` / ``${VAR:-default}`` taken from the environment.

    Only a YAML string is one: ``42`` or ``yes`` where a string is expected is an error, never
    silently turned into ``"42"`` or ``"True"``.
    """
    if not isinstance(raw, str):
        raise sec.error(path, _not_a_string(raw))

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = os.environ.get(name, default)
        if value is None:
            raise sec.error(path, f"environment variable {name} is not set")
        return value

    return _ENV_REF.sub(substitute, raw)


def boolean(sec: Section, path: str, raw: Any) -> bool:
    """A YAML boolean."""
    if not isinstance(raw, bool):
        raise sec.error(path, f"must be true or false, got {raw!r}")
    return raw


def positive_int(sec: Section, path: str, raw: Any) -> int:
    """An integer > 0."""
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise sec.error(path, f"must be an integer, got {raw!r}")
    if raw <= 0:
        raise sec.error(path, f"must be > 0, got {raw}")
    return raw


def duration(sec: Section, path: str, raw: Any) -> float:
    """Seconds > 0, written as a number of seconds or with a unit: ``500ms``, ``30s``, ``5m``,
    ``1h``, ``30d``."""
    if isinstance(raw, bool):
        raise sec.error(path, f"must be a duration like 30s, got {raw!r}")
    if isinstance(raw, int | float):
        seconds = float(raw)
    else:
        match = _DURATION.match(text(sec, path, raw))
        if match is None:
            raise sec.error(path, f"must be a duration like 500ms, 30s or 5m, got {raw!r}")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise sec.error(path, f"must be > 0, got {raw!r}")
    return seconds


def non_negative_int(sec: Section, path: str, raw: Any) -> int:
    """An integer >= 0."""
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise sec.error(path, f"must be an integer, got {raw!r}")
    if raw < 0:
        raise sec.error(path, f"must be >= 0, got {raw}")
    return raw


def choice(*options: str) -> Callable[[Section, str, Any], str]:
    """A parser accepting one of ``options``."""

    def parse(sec: Section, path: str, raw: Any) -> str:
        value = text(sec, path, raw)
        if value not in options:
            raise sec.error(path, f"must be one of {', '.join(options)}, got {value!r}")
        return value

    return parse


def string_map(sec: Section, path: str, raw: Any) -> dict[str, str]:
    """A mapping of strings to strings (HTTP headers)."""
    if not isinstance(raw, Mapping):
        raise sec.error(path, f"must be a mapping, got {_kind(raw)}")
    for key in raw:
        if not isinstance(key, str):
            raise sec.error(f"{path}.{key}", _not_a_string(key, "the name must be a string"))
    return {k: text(sec, f"{path}.{k}", v) for k, v in raw.items()}


def string_list(sec: Section, path: str, raw: Any) -> list[str]:
    """A list of strings."""
    if not isinstance(raw, list):
        raise sec.error(path, f"must be a list, got {_kind(raw)}")
    return [text(sec, f"{path}[{i}]", v) for i, v in enumerate(raw)]


def listen_address(sec: Section, path: str, raw: Any) -> tuple[str, int]:
    """``host:port`` to listen on (``[::1]:9464`` for IPv6)."""
    value = text(sec, path, raw)
    host, sep, port_text = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise sec.error(path, f"must be host:port with a port from 1 to 65535, got {value!r}")
    return host, int(port_text)
