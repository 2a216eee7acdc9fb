"""Secrets in a config: given inline (usually as ``${ENV}``) or as ``<name>_file``."""

from __future__ import annotations

from pathlib import Path

from sitemon_cli.config.values import Section, text


def secret(sec: Section, name: str) -> str | None:
    """The secret ``name`` of ``sec``: inline, or read (and stripped) from ``<name>_file``;
    None when neither is given, an error when both are."""
    inline = sec.get(name, text, None)
    file_path = sec.get(f"{name}_file", text, None)
    if inline is not None and file_path is not None:
        raise sec.error(sec.key(name), f"give either {name} or {name}_file, not both")
    if file_path is None:
        return inline
    try:
        return Path(file_path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise sec.error(sec.key(f"{name}_file"), f"cannot read: {exc.strerror or exc}") from exc
