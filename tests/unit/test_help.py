"""``sitemon-run --help`` is written for users: what sitemon is, how to start, every command."""

from __future__ import annotations

import pytest

from sitemon_cli.commands import COMMANDS
from sitemon_cli.main import main


def test_help_starts_with_what_sitemon_is_not_a_docstring(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: sitemon-run")
    assert "a distributed website monitor" in text
    assert "``" not in text  # no reStructuredText left over from a developer docstring
    for command in COMMANDS:
        assert command.name in text
