"""Loaded at start-up by the sitemon children of the distributed alerting tests (this folder
is put first on their ``PYTHONPATH``): fills gaps in the PostgreSQL migration files with
no-ops, in that child only.

This branch ships migration 0003 (incidents) while 0002 comes with another branch; until
both are merged the loader refuses the gap and no PostgreSQL process can start (the contract
tests patch the same way, in-process). Once 0002 exists this changes nothing.
"""

from __future__ import annotations


def _fill_migration_gaps() -> None:
    from sitemon_adapters.store.postgres import migrations

    real = migrations.load_migrations

    def load() -> list[migrations.Migration]:
        try:
            return real()
        except ValueError:
            folder = migrations.resources.files("sitemon_adapters.store.postgres") / "sql"
            found = {
                int(m.group(1)): migrations.Migration(
                    int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")
                )
                for entry in folder.iterdir()
                if (m := migrations._FILE_NAME.match(entry.name))
            }
            return [
                found.get(v, migrations.Migration(v, "placeholder", "SELECT 1"))
                for v in range(1, max(found) + 1)
            ]

    migrations.load_migrations = load


_fill_migration_gaps()
