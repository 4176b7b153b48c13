"""A kiosk shows times in its township's time zone (#18: not every township is on Asia/Shanghai): it takes the zone
at enrolment, follows a change at its next pull, and ignores a name that is no time zone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cunzhan.zones import is_zone
from kiosk import settings as S
from kiosk.store import Store
from tests.integration.sync_kiosks import KioskSim

pytestmark = pytest.mark.usefixtures("keyring_ready")


def _set_zone(backend: Any, zone: str) -> None:
    """Straight into the table, as an older release or a hand edit could leave it (the console checks names)."""
    from township import db

    with backend.database.write() as conn:
        conn.execute(sa.update(db.townships).where(db.townships.c.slug == "demo").values(zone=zone))


def _zone(store: Store) -> str | None:
    return store.stored_settings().get(S.TIMEZONE.key)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_kiosk_takes_its_townships_zone_at_enrolment_and_follows_a_change(
    start_backend: Any, tmp_path: Path, kind: str
) -> None:
    backend = start_backend(kind)
    _set_zone(backend, "Asia/Urumqi")
    kiosk = KioskSim(tmp_path, "k1")
    kiosk.enroll(backend.url, backend.enrollment_code())
    assert _zone(kiosk.store) == "Asia/Urumqi"

    engine = kiosk.engine()
    first = kiosk.sync_until_ok(engine)[-1]
    assert first.zone is None and _zone(kiosk.store) == "Asia/Urumqi"  # unchanged: nothing to write

    _set_zone(backend, "Europe/London")
    moved = kiosk.sync_until_ok(engine)[-1]
    assert moved.zone == "Europe/London" and _zone(kiosk.store) == "Europe/London"

    for not_a_zone in ("Asia", "Factory", "../../etc/passwd", "x" * 64):  # the column holds 64 characters
        _set_zone(backend, not_a_zone)
        report = kiosk.sync_until_ok(engine)[-1]
        assert report.ok and report.zone is None
        assert _zone(kiosk.store) == "Europe/London"


@pytest.mark.parametrize(
    ("name", "zone"),
    [
        ("Asia/Shanghai", True),
        ("Asia/Urumqi", True),
        ("Asia", False),
        ("Factory", False),
        ("localtime", False),
        ("Etc/GMT+5", False),
        ("PRC", False),
        ("UTC", True),
        ("", False),
        ("/etc/passwd", False),
        ("x" * 10_000, False),
    ],
)
def test_is_zone_names_places_only(name: str, zone: bool) -> None:
    assert is_zone(name) is zone
