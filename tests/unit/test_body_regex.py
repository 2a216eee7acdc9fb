"""The body regex's literal fast path agrees with the regex engine it stands in for."""

from __future__ import annotations

import asyncio
import time

from hypothesis import given
from hypothesis import strategies as st

from sitemon_adapters.probe.http_common.body_regex import (
    compile_body_regex,
    is_literal,
    search_body,
)

_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=60)
_PATTERN_CHARS = st.text(alphabet="ab .*+?()[]{}|^$\\é\n", max_size=6)


@given(_PATTERN_CHARS, _TEXT)
def test_a_literal_pattern_searches_like_the_regex_engine(source: str, text: str) -> None:
    """Law: whenever the fast path is taken, it answers what ``regex`` would."""
    if is_literal(source):
        assert (source in text) == (compile_body_regex(source).search(text) is not None)


@given(st.text(max_size=8), st.sampled_from(".^$*+?{}[]\\|()"), st.text(max_size=8))
def test_a_pattern_with_a_metacharacter_is_never_literal(head: str, meta: str, tail: str) -> None:
    assert not is_literal(head + meta + tail)


def test_search_body_uses_either_path_with_the_same_answer() -> None:
    deadline = time.monotonic() + 1.0
    assert asyncio.run(search_body("farm", "a benchmark farm", deadline))
    assert asyncio.run(search_body("f.rm", "a benchmark farm", deadline))
    assert not asyncio.run(search_body("f.rm", "a benchmark", deadline))
    assert not asyncio.run(search_body("farm", "a benchmark", deadline))
