"""``sitemon_adapters`` exports its public adapters, each loaded only when first used."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import sitemon_adapters

DRIVERS = ("aiohttp", "aiokafka", "asyncpg", "pycurl")


def loaded_drivers(code: str) -> list[str]:
    """The driver modules loaded after running ``code`` in a fresh interpreter."""
    tops = "{m.split('.')[0] for m in sys.modules}"
    probe = f"import json, sys; {code}; print(json.dumps(sorted({tops} & {set(DRIVERS)!r})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return list(json.loads(out.stdout))


def test_importing_the_package_loads_no_driver() -> None:
    assert loaded_drivers("import sitemon_adapters; dir(sitemon_adapters)") == []


def test_using_one_adapter_loads_only_its_driver() -> None:
    """The control: the check above sees a driver that is loaded."""
    assert loaded_drivers("from sitemon_adapters import AiohttpSiteProber") == ["aiohttp"]


@pytest.mark.parametrize("name", sitemon_adapters.__all__)
def test_each_export_is_the_adapter_of_its_module(name: str) -> None:
    exported = getattr(sitemon_adapters, name)
    module = importlib.import_module(sitemon_adapters._MODULES[name])
    assert exported is getattr(module, name)
    assert exported.__name__ == name


def test_the_export_list_and_the_lazy_table_agree() -> None:
    assert sorted(sitemon_adapters.__all__) == sorted(sitemon_adapters._MODULES)
    assert set(sitemon_adapters.__all__) <= set(dir(sitemon_adapters))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'NoSuchAdapter'"):
        _ = sitemon_adapters.NoSuchAdapter  # type: ignore[attr-defined]
