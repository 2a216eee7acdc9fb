"""``sites apply`` and ``sites list``: config-as-code for the site catalogue topic.

The diff itself is the core's (``diff_catalogue``); this module reads, prints and publishes.
"""

from __future__ import annotations

from sitemon_cli.config import Config
from sitemon_cli.container import build_container
from sitemon_cli.lifecycle import resolve, shutdown_resources
from sitemon_core.catalogue import CatalogueDiff, diff_catalogue
from sitemon_core.errors import ConfigError
from sitemon_core.models import Site
from sitemon_core.ports import CatalogueEditor


def inert(text: str) -> str:
    """``text`` safe to print on a terminal: control characters shown as escapes."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def describe_site(site: Site) -> str:
    """One line per site: id, kind, interval, target, tags."""
    tags = ",".join(sorted(site.tags))
    line = f"{site.id}  {site.kind}  every {site.interval_s:g}s  {site.target}"
    return inert(f"{line}  [{tags}]" if tags else line)


def format_diff(diff: CatalogueDiff) -> list[str]:
    """The diff as lines people read: ``+`` added, ``~`` changed, ``-`` removed, a summary."""
    lines = [f"+ {describe_site(s)}" for s in diff.added]
    lines += [f"~ {describe_site(s)}" for s in diff.changed]
    lines += [f"- {inert(site_id)}" for site_id in diff.removed]
    summary = f"{len(diff.added)} added, {len(diff.changed)} changed, {len(diff.removed)} removed"
    return [*lines, summary]


async def apply_sites(config: Config, *, dry_run: bool) -> int:
    """Publish the difference between the file's sites and the catalogue topic."""
    if config.sites_source != "config" or not config.sites:
        raise ConfigError(config.source, "sites", "sites apply needs a list of sites")
    async with _editor(config) as editor:
        diff = diff_catalogue(await editor.read_all(), config.sites)
        for line in format_diff(diff):
            print(line)
        if dry_run:
            print("dry run: nothing published")
        elif diff:
            await editor.write([*diff.added, *diff.changed], diff.removed)
            print(f"published to {config.kafka.sites_topic}")
    return 0


async def list_sites(config: Config) -> int:
    """Print every site the catalogue topic holds, by id."""
    async with _editor(config) as editor:
        sites = await editor.read_all()
    for site_id in sorted(sites):
        print(describe_site(sites[site_id]))
    print(f"{len(sites)} sites in {config.kafka.sites_topic}")
    return 0


class _editor:  # noqa: N801 - used as a context manager, like contextlib's helpers
    """The container's catalogue editor, its resources closed on exit."""

    def __init__(self, config: Config) -> None:
        self._container = build_container(config)

    async def __aenter__(self) -> CatalogueEditor:
        editor: CatalogueEditor = await resolve(self._container.catalogue_editor)
        return editor

    async def __aexit__(self, *exc: object) -> None:
        await shutdown_resources(self._container)
