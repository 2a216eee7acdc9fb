"""Reading a configuration file into a YAML document: UTF-8 text, no duplicate keys.

PyYAML alone accepts a key given twice (the last one silently wins, so a whole ``sites:``
block can vanish) and a file that is not text ends in a ``UnicodeDecodeError``; both are
configuration errors here, named by file and, for a duplicate, by key path and both lines.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import yaml

from sitemon_core.errors import ConfigError

FILE = "(file)"  # the key path of errors about the file as a whole
_MERGE_TAG = "tag:yaml.org,2002:merge"
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def read_document(path: Path) -> object:
    """The parsed YAML of ``path`` (``None`` when empty); ``ConfigError`` when unreadable,
    not UTF-8 text, not YAML, or a mapping repeats a key."""
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(source, FILE, f"cannot read: {exc.strerror or exc}") from exc
    return parse_document(source, decode(source, raw))


def decode(source: str, raw: bytes) -> str:
    """``raw`` as UTF-8 text without NUL characters, else a one-line ``ConfigError``."""
    if raw.startswith(_UTF16_BOMS):
        raise ConfigError(source, FILE, "not UTF-8 text: it is UTF-16 (save it as UTF-8)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            source,
            FILE,
            f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at offset {exc.start} "
            "(a binary file, or text in another encoding?)",
        ) from None
    nul = text.find("\x00")
    if nul >= 0:  # valid UTF-8, but no text file has one (UTF-16 without a BOM has many)
        raise ConfigError(
            source, FILE, f"not UTF-8 text: a NUL byte at offset {nul} (a binary or UTF-16 file?)"
        )
    return text


def parse_document(source: str, text: str) -> object:
    """The YAML document in ``text``; a repeated key in any mapping is an error."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _refuse_duplicate_keys(source, node, "", set())
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise ConfigError(source, FILE, f"invalid YAML: {_yaml_problem(exc)}") from exc
    finally:
        loader.dispose()


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem


def _refuse_duplicate_keys(source: str, node: yaml.Node, path: str, seen: set[int]) -> None:
    """Walk ``node`` (once per node: aliases may repeat or nest it) for a repeated key."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _refuse_duplicate_keys(source, item, f"{path}[{index}]", seen)
    elif isinstance(node, yaml.MappingNode):
        lines: dict[tuple[str, str], int] = {}  # (tag, text) of each key -> its line
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else "?"
            child = f"{path}.{name}" if path else str(name)
            if isinstance(key, yaml.ScalarNode) and key.tag != _MERGE_TAG:
                _refuse_repeat(source, child, lines, (key.tag, key.value), key.start_mark.line + 1)
            _refuse_duplicate_keys(source, value, child, seen)


def _refuse_repeat(
    source: str, path: str, lines: dict[tuple[str, str], int], key: tuple[str, str], line: int
) -> None:
    earlier = lines.get(key)
    if earlier is None:
        lines[key] = line
        return
    where = f"line {line}, twice" if earlier == line else f"lines {earlier} and {line}"
    raise ConfigError(source, path, f"duplicate key ({where})")
