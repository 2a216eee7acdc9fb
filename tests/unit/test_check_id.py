"""Check ids are random version-4 UUIDs in hex, as ``uuid.uuid4().hex`` makes them."""

from __future__ import annotations

import uuid

from sitemon_core.models import new_check_id


def test_a_check_id_is_a_version_4_uuid_in_hex() -> None:
    for _ in range(1_000):
        check_id = new_check_id()
        parsed = uuid.UUID(check_id)
        assert parsed.hex == check_id
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_check_ids_do_not_repeat() -> None:
    ids = {new_check_id() for _ in range(10_000)}
    assert len(ids) == 10_000
