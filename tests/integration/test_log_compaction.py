"""Change-log compaction (issue 15): beyond the horizon only each entity's latest change is kept; kiosks whose cursor
is older get 410 and a fresh snapshot that still shows them everything; newer cursors lose nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.integration.conftest import Backend, unique_id_number
from tests.integration.sync_kiosks import KioskSim
from tests.integration.test_sync_invariants import backend_sessions, kiosk_sessions

pytestmark = pytest.mark.usefixtures("keyring_ready")


def test_compaction_keeps_the_latest_version_and_sends_old_cursors_to_a_snapshot(
    any_backend: Backend, tmp_path: Path
) -> None:
    from kiosk.booking import Bookings
    from township import db
    from township.booking import compact_changes
    from township.services import edit_session

    backend = any_backend
    tid = backend.township_id()
    session = backend.new_session(capacity=6, starts_in=dt.timedelta(days=4))
    old = KioskSim(tmp_path, "compact-old")
    old.enroll(backend.url, backend.enrollment_code())
    old.sync_until_ok(old.engine())
    booking = old.book(session, unique_id_number())
    assert booking is not None
    old.sync_until_ok(old.engine())
    for capacity in (7, 8, 9, 10):  # superseded versions of one session
        edit_session(backend.database, session, staff_id=None, capacity=capacity)
    Bookings(old.store).cancel(booking.id, now=old.clock())
    recent = KioskSim(tmp_path, "compact-recent")
    recent.enroll(backend.url, backend.enrollment_code())
    recent.sync_until_ok(recent.engine())
    with backend.database.write() as conn:  # everything so far happened long ago
        conn.execute(
            sa.update(db.changes)
            .where(db.changes.c.township_id == tid)
            .values(created_at=db.naive(db.now_utc() - dt.timedelta(days=40)))
        )
        before = conn.execute(
            sa.select(sa.func.count()).select_from(db.changes).where(db.changes.c.township_id == tid)
        ).scalar_one()

    removed = compact_changes(backend.database)
    assert removed[tid] > 0
    with backend.database.read() as conn:
        rows = conn.execute(
            sa.select(db.changes.c.entity, db.changes.c.entity_id).where(db.changes.c.township_id == tid)
        ).all()
        floor = conn.execute(sa.select(db.townships.c.log_floor).where(db.townships.c.id == tid)).scalar_one()
        last = conn.execute(sa.select(db.townships.c.last_seq).where(db.townships.c.id == tid)).scalar_one()
    assert len(rows) == before - removed[tid] == len(set(rows))  # one row per entity is left
    assert floor == last
    assert compact_changes(backend.database) == {}  # nothing more to do

    # The old kiosk (cursor below the floor, a cancel still to push): 410, a fresh snapshot, the outbox kept.
    report = old.sync_until_ok(old.engine())[-1]
    assert report.repulled and report.applied == 1
    assert kiosk_sessions(old) == backend_sessions(backend)
    assert old.store.session(session).capacity == 10  # type: ignore[union-attr]
    with backend.database.read() as conn:
        status = conn.execute(
            sa.select(db.bookings.c.status).where(db.bookings.c.id == booking.id)
        ).scalar_one()
    assert old.store.booking(booking.id).status.value == status == "cancelled"  # type: ignore[union-attr]
    # The recent kiosk's cursor is at the floor: it carries on without a snapshot.
    edit_session(backend.database, session, staff_id=None, capacity=11)
    report = recent.sync_until_ok(recent.engine())[-1]
    assert not report.repulled and report.pulled >= 1
    assert kiosk_sessions(recent) == backend_sessions(backend)
    # A new kiosk's first pull is the compacted log: one change per entity.
    fresh = KioskSim(tmp_path, "compact-new")
    fresh.enroll(backend.url, backend.enrollment_code())
    engine = fresh.engine()
    engine.pull_limit = 7  # a snapshot over many pages: its cursors lie below the floor, and are still good
    report = engine.sync_once()
    assert report.ok and not report.repulled and report.pages > 3
    assert kiosk_sessions(fresh) == backend_sessions(backend)
    for k in (old, recent, fresh):
        k.close()


def test_compact_log_command(tmp_path: Path) -> None:
    """`python -m township compact-log` as an operator runs it; a bad horizon is refused with a plain message."""
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'township.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "township", "compact-log", "--db", url, "--keep-days", "7"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "removed 0 superseded changes older than 7 days" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "township", "compact-log", "--db", url, "--keep-days", "0"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "--keep-days must be a whole number" in bad.stderr
