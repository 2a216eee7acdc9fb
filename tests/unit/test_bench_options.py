"""``nox -s bench -- --only``: which variants a list of texts selects."""

from __future__ import annotations

import pytest
from benchmarks.__main__ import only_texts


@pytest.mark.parametrize(
    ("raw", "texts"),
    [
        ("", []),
        ("curl", ["curl"]),
        ("aiohttp,curl", ["aiohttp", "curl"]),
        (" aiohttp , curl ,", ["aiohttp", "curl"]),
        ("aiohttp 1,000 sites", ["aiohttp 1,000 sites"]),
        ("aiohttp 1,000 sites,curl 10,000 sites", ["aiohttp 1,000 sites", "curl 10,000 sites"]),
        ("x,1234", ["x", "1234"]),
        ("100,200", ["100,200"]),
    ],
)
def test_only_splits_on_commas_but_not_thousands_separators(raw: str, texts: list[str]) -> None:
    assert only_texts(raw) == texts
