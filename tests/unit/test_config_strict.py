"""What a new user trips on (issue 14, items 1-5): files that are not text, repeated keys,
values of the wrong YAML type, configs without sites, and the curl prober without pycurl.
The exact message of each rule is in its ``tests/data/bad-*.yaml`` fixture (see
``test_config.py``); these tests add the other commands and the laws around the rules."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from sitemon_cli.config import CURL_INSTALL_HINT, load_config, parse_config
from sitemon_cli.config.document import parse_document
from sitemon_cli.main import main
from sitemon_core.errors import ConfigError
from tests.unit.test_config import DATA, expected_message

NOT_TEXT = sorted(p for p in DATA.glob("bad-*.yaml") if p.with_name(f"{p.name}.expect").exists())
ROOT = Path(__file__).parent.parent.parent


# --- 1. a file that is not UTF-8 text ------------------------------------------------


def test_random_binary_elf_and_utf16_have_fixtures() -> None:
    assert {p.stem for p in NOT_TEXT} >= {
        "bad-not-utf8-random",
        "bad-not-utf8-elf",
        "bad-utf16",
        "bad-utf16-without-bom",
    }
    assert (DATA / "bad-not-utf8-elf.yaml").read_bytes().startswith(b"\x7fELF")


@pytest.mark.parametrize("command", ["check-config", "producer", "standalone", "consumer"])
@pytest.mark.parametrize("path", NOT_TEXT, ids=lambda p: p.stem)
def test_a_file_that_is_not_text_is_one_line_and_exit_2(
    path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"config error: {expected_message(path)}\n"


def test_utf8_with_a_byte_order_mark_is_fine(tmp_path: Path) -> None:
    config = tmp_path / "bom.yaml"
    config.write_bytes(b"\xef\xbb\xbfsites:\n  - url: https://example.com/\n")
    assert len(load_config(config).sites) == 1


# --- 2. a key given twice ------------------------------------------------------------


def test_anchors_aliases_and_merge_keys_are_no_duplicates() -> None:
    document = parse_document(
        "a.yaml",
        "base: &b {interval: 30s, timeout: 5s}\n"
        "sites:\n"
        "  - {<<: *b, url: 'https://a.test/', timeout: 10s}\n"
        "  - {<<: *b, url: 'https://b.test/'}\n"
        "again: *b\n",
    )
    assert isinstance(document, dict)
    assert document["sites"][0] == {"interval": "30s", "timeout": "10s", "url": "https://a.test/"}


def test_keys_of_different_types_are_different_keys() -> None:
    assert parse_document("a.yaml", "{1: a, '1': b}") == {1: "a", "1": "b"}


keys = st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=8)


@given(st.dictionaries(keys, st.integers() | st.text(max_size=5), min_size=1))
def test_a_dumped_mapping_reads_back_unchanged(mapping: dict[str, Any]) -> None:
    assert parse_document("a.yaml", yaml.safe_dump(mapping)) == mapping


@given(st.dictionaries(keys, st.integers(), min_size=1), st.data())
def test_any_repeated_key_is_refused_with_both_lines(
    mapping: dict[str, int], data: st.DataObject
) -> None:
    lines = yaml.safe_dump(mapping).splitlines()
    index = data.draw(st.integers(0, len(lines) - 1))
    lines.append(lines[index].split(":")[0] + ": 0")  # the same key again, at the end
    with pytest.raises(ConfigError) as caught:
        parse_document("a.yaml", "\n".join(lines))
    assert caught.value.problem == f"duplicate key (lines {index + 1} and {len(lines)})"


# --- 3. a value of the wrong YAML type -------------------------------------------------

QUOTE_IT = "(quote it if you mean a string)"
SITE = {"url": "https://example.com/"}
# Every key that takes a string, with a document putting the number 42 there.
STRING_KEYS: dict[str, dict[str, Any]] = {
    "sites[0].url": {"sites": [{"url": 42}]},
    "sites[0].id": {"sites": [SITE | {"id": 42}]},
    "sites[0].regex": {"sites": [SITE | {"regex": 42}]},
    "sites[0].method": {"sites": [SITE | {"method": 42}]},
    "sites[0].headers.X": {"sites": [SITE | {"headers": {"X": 42}}]},
    "sites[0].tags[0]": {"sites": [SITE | {"tags": [42]}]},
    "defaults.headers.X": {"defaults": {"headers": {"X": 42}}},
    "defaults.method": {"defaults": {"method": 42}},
    "defaults.tags[0]": {"defaults": {"tags": [42]}},
    "scanner.region": {"scanner": {"region": 42}},
    "scanner.prober": {"scanner": {"prober": 42}},
    "scanner.user_agent": {"scanner": {"user_agent": 42}},
    "bus.kind": {"bus": {"kind": 42}},
    **{
        f"bus.kafka.{key}": {"bus": {"kafka": {key: 42}}}
        for key in (
            "bootstrap_servers",
            "topic",
            "dead_letter_topic",
            "group_id",
            "client_id",
            "security_protocol",
            "ssl_cafile",
            "ssl_certfile",
            "ssl_keyfile",
            "ssl_password",
            "ssl_password_file",
            "sasl_mechanism",
            "sasl_username",
            "sasl_password",
            "sasl_password_file",
        )
    },
    "repository.kind": {"repository": {"kind": 42}},
    "repository.sqlite.path": {"repository": {"sqlite": {"path": 42}}},
    "repository.postgres.dsn": {"repository": {"postgres": {"dsn": 42}}},
    "repository.postgres.dsn_file": {"repository": {"postgres": {"dsn_file": 42}}},
    "repository.postgres.schema": {"repository": {"postgres": {"schema": 42}}},
    "logging.format": {"logging": {"format": 42}},
    "logging.level": {"logging": {"level": 42}},
    "metrics.listen": {"metrics": {"listen": 42}},
}


@pytest.mark.parametrize("key_path", STRING_KEYS)
def test_a_number_where_a_string_belongs_is_an_error_everywhere(key_path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("c.yaml", STRING_KEYS[key_path])
    assert (caught.value.key_path, caught.value.problem) == (
        key_path,
        f"must be a string, got int 42 {QUOTE_IT}",
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [(True, "bool True"), (1.5, "float 1.5"), (yaml.safe_load("2024-01-02"), "date 2024-01-02")],
)
def test_every_non_string_scalar_gets_the_hint(value: object, shown: str) -> None:
    with pytest.raises(ConfigError, match=rf"regex: must be a string, got {shown} \(quote it"):
        parse_config("c.yaml", {"sites": [SITE | {"regex": value}]})


def test_a_quoted_number_is_a_string(tmp_path: Path) -> None:
    config = tmp_path / "q.yaml"
    config.write_text(
        "sites:\n  - url: https://example.com/\n    id: '2024'\n    regex: '42'\n"
        "    headers: {X: '1'}\n",
        encoding="utf-8",
    )
    (site,) = load_config(config).sites
    assert (site.id, site.spec.regex, site.spec.headers) == ("2024", "42", (("X", "1"),))


# --- 4. a runnable config without sites ------------------------------------------------

NO_SITES = {
    "empty": "",
    "comments-only": "# nothing here yet\n# sites:\n",
    "empty-list": "sites: []\n",
}


@pytest.fixture(params=NO_SITES, ids=str)
def no_sites(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    path = tmp_path / f"{request.param}.yaml"
    path.write_text(NO_SITES[request.param], encoding="utf-8")
    return path


@pytest.mark.timeout(20)  # without the rule, the command would run with nothing to do
@pytest.mark.parametrize("command", ["standalone", "producer"])
def test_scanning_without_sites_is_an_error(
    no_sites: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "-c", str(no_sites)]) == 2
    assert capsys.readouterr().err == (
        f"config error: {no_sites}: sites: no sites to check (add some under sites:)\n"
    )


def test_check_config_without_sites_warns_and_passes(
    no_sites: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", "-c", str(no_sites)]) == 0
    out, err = capsys.readouterr()
    assert err == f"warning: {no_sites}: sites: no sites to check (add some under sites:)\n"
    assert out.startswith(f"{no_sites}: ok (0 sites")


def test_check_config_with_sites_says_nothing_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check-config", "-c", str(ROOT / "example_config" / "sitemon.yaml")]) == 0
    assert capsys.readouterr().err == ""


# --- 5. the curl prober without pycurl ---------------------------------------------------

CURL = DATA / "bad-curl-without-pycurl.yaml"


def test_curl_without_pycurl_fails_check_config(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "pycurl", None)  # the import fails as if not installed
    assert main(["check-config", "-c", str(CURL)]) == 2
    assert capsys.readouterr().err == f"config error: {expected_message(CURL)}\n"


def test_curl_with_pycurl_is_valid() -> None:
    assert load_config(CURL).scanner.prober == "curl"


def test_the_install_hint_works_from_this_repository() -> None:
    # ``pip install -e '.[curl]'`` needs this repository's project to offer that extra.
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert CURL_INSTALL_HINT == "pip install -e '.[curl]'"
    assert any(d.startswith("pycurl") for d in project["optional-dependencies"]["curl"])
