"""The one DSN password parser: what the log filter and the PostgreSQL adapter mask."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sitemon_adapters.store.postgres.dsn import dsn_passwords, dsn_without_passwords


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("postgresql://sitemon@db:5432/sitemon", []),
        ("postgresql://sitemon:hunter2@db/sitemon", ["hunter2"]),
        ("postgresql://u:p%40ss%2Bw@db/x", ["p%40ss%2Bw", "p@ss+w"]),
        ("postgresql://u:a+b@db/x", ["a+b", "a b"]),
        ("postgresql://u@db/x?password=s3cret&sslpassword=k3y", ["s3cret", "k3y"]),
        ("host=db user=u password='kw pass' dbname=x", ["kw"]),
        ("host=db user=u password=kwpass dbname=x", ["kwpass"]),
        ("postgresql://u:[unbalanced@db/x", []),
    ],
)
def test_passwords_of_each_dsn_form(dsn: str, expected: list[str]) -> None:
    assert dsn_passwords(dsn) == expected


@given(password=st.text(min_size=1))
def test_a_percent_encoded_password_is_found_as_written(password: str) -> None:
    dsn = f"postgresql://sitemon:{quote(password, safe='')}@db:5432/sitemon"
    assert password in dsn_passwords(dsn)


def test_the_config_loader_and_the_adapter_share_it() -> None:
    from sitemon_adapters.store.postgres import pool
    from sitemon_cli.config import load

    assert load.dsn_passwords is dsn_passwords is pool.dsn_passwords


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("postgresql://sitemon@db:5432/sitemon", "postgresql://sitemon@db:5432/sitemon"),
        ("postgresql://u:u@db/x", "postgresql://u:***@db/x"),
        ("postgresql://u:p%40ss@db/x?sslmode=require", "postgresql://u:***@db/x?sslmode=require"),
        (
            "postgresql://u@db/x?password=s3&sslpassword=k&a=1",
            "postgresql://u@db/x?password=***&sslpassword=***&a=1",
        ),
        ("host=db user=u password='kw pass' dbname=x", "host=db user=u password=*** dbname=x"),
    ],
)
def test_a_dsn_is_shown_without_its_passwords(dsn: str, shown: str) -> None:
    assert dsn_without_passwords(dsn) == shown


@given(user=st.from_regex(r"[a-z][a-z0-9_]{0,9}", fullmatch=True), password=st.text(min_size=1))
def test_any_password_in_the_user_info_is_hidden(user: str, password: str) -> None:
    dsn = f"postgresql://{user}:{quote(password, safe='')}@db:5432/sitemon"
    assert dsn_without_passwords(dsn) == f"postgresql://{user}:***@db:5432/sitemon"
