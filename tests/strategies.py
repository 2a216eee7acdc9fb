"""Hypothesis strategies for the core models, shared by unit and contract tests."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import strategies as st

from sitemon_core.models import CheckResult, ErrorKind, HttpSpec, PhaseTimings, Site

# NUL cannot be stored in a PostgreSQL text column (and surrogates cannot be encoded as
# UTF-8, so hypothesis never generates them by default): the default text alphabet
# leaves NUL out so the same strategy serves every repository.
STORABLE_CHARACTERS = st.characters(codec="utf-8", exclude_characters="\x00")
ANY_CHARACTERS = st.characters(codec="utf-8")

# Microsecond precision, as on the wire and in the databases; a range every backend
# (Avro long, PostgreSQL timestamptz, Python datetime arithmetic) represents exactly.
UTC_DATETIMES = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.just(UTC),
)

FINITE_FLOATS = st.floats(allow_nan=False, allow_infinity=False)


def phase_timings() -> st.SearchStrategy[PhaseTimings]:
    """Timings with each phase independently measured or not."""
    maybe_ms = st.none() | FINITE_FLOATS
    return st.builds(
        PhaseTimings,
        dns_ms=maybe_ms,
        connect_ms=maybe_ms,
        tls_ms=maybe_ms,
        ttfb_ms=maybe_ms,
        transfer_ms=maybe_ms,
    )


def check_results(
    *,
    alphabet: st.SearchStrategy[str] = STORABLE_CHARACTERS,
    site_ids: st.SearchStrategy[str] | None = None,
    started_at: st.SearchStrategy[datetime] = UTC_DATETIMES,
) -> st.SearchStrategy[CheckResult]:
    """Arbitrary check results: every field independently varied, optionals None or not.

    ``alphabet`` generates the characters of the text fields; ``site_ids`` and ``started_at`` can be
    narrowed to make collisions (same site, same instant) likely.
    """
    text = st.text(alphabet, max_size=40)
    return st.builds(
        CheckResult,
        check_id=st.uuids().map(lambda u: u.hex),
        site_id=text if site_ids is None else site_ids,
        url=text,
        region=text,
        started_at=started_at,
        ok=st.booleans(),
        total_ms=FINITE_FLOATS,
        status_code=st.none() | st.integers(100, 599),
        timings=phase_timings(),
        regex_matched=st.none() | st.booleans(),
        bytes_read=st.integers(0, 2**63 - 1),
        final_url=st.none() | text,
        error_kind=st.sampled_from(ErrorKind),
        # Longer than the model's cap so truncation is exercised too.
        error_message=st.text(alphabet, max_size=400),
        tags=st.lists(st.text(alphabet, max_size=20), max_size=4, unique=True).map(
            lambda tags: tuple(sorted(tags))
        ),
        tls_not_after=st.none() | started_at,
        tls_version=st.none() | st.sampled_from(["TLSv1.2", "TLSv1.3"]),
        tls_issuer=st.none() | text,
        body_truncated=st.booleans(),
        degraded=st.booleans(),
        failed_condition=st.none() | st.sampled_from(["too_slow", "json_mismatch"]) | text,
        answers=st.lists(st.text(alphabet, max_size=20), max_size=3, unique=True).map(
            lambda answers: tuple(sorted(answers))
        ),
    )


SITE_IDS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,30}", fullmatch=True)
POSITIVE_SECONDS = st.floats(min_value=0.001, max_value=86400, allow_nan=False)


def http_specs(alphabet: st.SearchStrategy[str] = ANY_CHARACTERS) -> st.SearchStrategy[HttpSpec]:
    """HTTP specs with every field varied (text fields over ``alphabet``)."""
    text = st.text(alphabet, max_size=30)
    return st.builds(
        HttpSpec,
        url=text,
        method=st.sampled_from(["GET", "HEAD", "POST"]),
        headers=st.lists(st.tuples(text, text), max_size=3).map(tuple),
        expected_statuses=st.frozensets(st.integers(100, 599), min_size=1, max_size=5),
        regex=st.none() | text,
        follow_redirects=st.booleans(),
        max_redirects=st.integers(1, 2**31 - 1),
        max_body_bytes=st.integers(1, 2**63 - 1),
    )


def sites(alphabet: st.SearchStrategy[str] = ANY_CHARACTERS) -> st.SearchStrategy[Site]:
    """Arbitrary sites (not necessarily valid by the config rules: codecs carry anything)."""
    return st.builds(
        Site,
        id=st.text(alphabet, max_size=40),
        interval_s=FINITE_FLOATS,
        timeout_s=FINITE_FLOATS,
        spec=http_specs(alphabet),
        tags=st.frozensets(st.text(alphabet, max_size=20), max_size=4),
    )
