"""The port's shared helpers: credentials never survive redaction, cursors round-trip and
anything else is a QueryError naming 'cursor'."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sitemon_core.queries import QueryError, decode_cursor, encode_cursor, redact_url
from tests.strategies import UTC_DATETIMES

USERINFO = st.text(
    st.characters(codec="utf-8", exclude_characters="/?#\x00", exclude_categories=["Z", "Cc"]),
    min_size=1,
    max_size=20,
)
HOSTS = st.from_regex(r"[a-z0-9]{1,10}(\.[a-z]{2,5})?(:[0-9]{1,5})?", fullmatch=True)


@given(
    st.sampled_from(["http", "https", "HTTPS", "ftp"]),
    USERINFO,
    USERINFO,
    HOSTS,
    st.text(max_size=10),
)
def test_no_password_survives_redaction(
    scheme: str, user: str, password: str, host: str, around: str
) -> None:
    url = f"{scheme}://{user}:{password}@{host}/path?q=1"
    message = f"{around} cannot reach {url} {around}"
    assert redact_url(url) == f"{scheme}://{host}/path?q=1"
    assert f"{user}:{password}@" not in redact_url(message)


def test_urls_without_credentials_are_unchanged() -> None:
    for text in ["https://example.com/a@b", "mailto:x@y", "no url here", "http://h/?a=b@c"]:
        assert redact_url(text) == text


@given(UTC_DATETIMES, st.text())
def test_cursors_round_trip(started_at: object, check_id: str) -> None:
    assert decode_cursor(encode_cursor(started_at, check_id)) == (started_at, check_id)  # type: ignore[arg-type]


@given(st.text())
def test_anything_else_is_a_malformed_cursor_or_a_position(cursor: str) -> None:
    try:
        at, check_id = decode_cursor(cursor)
    except QueryError as exc:
        assert exc.parameter == "cursor"
    else:
        assert at.utcoffset() is not None and isinstance(check_id, str)


NESTED = base64.urlsafe_b64encode(b"[" * 100_000).decode()


@pytest.mark.parametrize(
    "cursor", ["", "!!!", "WzEsMl0", "bnVsbA", "WyJ4IiwgIjEiXQ", NESTED, "A" * 2000]
)
def test_known_bad_cursors(cursor: str) -> None:
    with pytest.raises(QueryError, match=r"^cursor: malformed cursor$"):
        decode_cursor(cursor)


def test_a_deeply_nested_cursor_is_malformed_not_a_crash() -> None:
    import base64

    import pytest

    from sitemon_core.queries import QueryError

    nested = base64.urlsafe_b64encode(b"[" * 10_000).decode()
    with pytest.raises(QueryError, match="cursor: malformed cursor"):
        decode_cursor(nested)
