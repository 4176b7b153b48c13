"""Invariant 5 across a push whose pull never came: a kiosk that has pushed its lease bookings but not yet pulled the
lease again must not count those seats twice (docs/sync.md, "Seat leases"). Real kiosk stores, real backend."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cunzhan.models import BookingStatus
from kiosk.sync.engine import SyncReport
from tests.integration.conftest import Backend, unique_id_number
from tests.integration.sync_kiosks import KioskSim
from township import db

pytestmark = pytest.mark.usefixtures("keyring_ready")


def _backend_booking(backend: Backend, booking_id: str) -> Any:
    with backend.database.read() as conn:
        return conn.execute(sa.select(db.bookings).where(db.bookings.c.id == booking_id)).one()


def test_pushed_lease_bookings_are_not_counted_twice(any_backend: Backend, tmp_path: Path) -> None:
    backend = any_backend
    # Capacity 2: the first kiosk to pull is leased 1 seat ((2 - 0) // 2), the other seat is the shared pool.
    session = backend.new_session(capacity=2, starts_in=dt.timedelta(hours=30))
    leaseholder, other = KioskSim(tmp_path, "holder"), KioskSim(tmp_path, "other")
    try:
        leaseholder.enroll(backend.url, backend.enrollment_code())
        engine = leaseholder.engine(backend.url)
        leaseholder.sync_until_ok(engine)
        assert leaseholder.store.lease_seats_free(session, now=leaseholder.clock()) == 1

        # Another kiosk takes the shared pool's seat online: only the lease's seat is left.
        other.enroll(backend.url, backend.enrollment_code())
        other_engine = other.engine(backend.url)
        other.sync_until_ok(other_engine)
        pool_booking = other.book(session, unique_id_number())
        assert pool_booking is not None and not pool_booking.lease
        other.sync_until_ok(other_engine)
        assert _backend_booking(backend, pool_booking.id).status == "confirmed"

        # Offline at the leaseholder: one booking on the lease, pushed, and the link drops before the pull.
        first = leaseholder.book(session, unique_id_number())
        assert first is not None and first.lease and first.status is BookingStatus.CONFIRMED
        report = SyncReport()
        engine._push_all(report)  # the push half of sync_once; its pull never happens
        assert report.applied == 1 and report.rejected == 0
        assert _backend_booking(backend, first.id).status == "confirmed"
        # The kiosk still holds the lease change that says 1 seat; the pushed booking used it.
        assert [
            r["seats"]
            for r in leaseholder.store.query("SELECT seats FROM leases WHERE session_id = ?", (session,))
        ] == [1]
        assert leaseholder.store.lease_seats_free(session, now=leaseholder.clock()) == 0

        # So the next resident is told the truth: on the waiting list, not confirmed on a seat that is gone
        # (counted as before, 1 seat − 0 pending, the kiosk would confirm it and the backend would overturn it).
        second = leaseholder.book(session, unique_id_number(), waitlist=True)
        assert second is not None and not second.lease and second.status is BookingStatus.REQUESTED
        leaseholder.sync_until_ok(engine)
        assert leaseholder.store.lease_seats_free(session, now=leaseholder.clock()) == 0
        assert _backend_booking(backend, second.id).status == "waitlisted"
        # The pull brought the lease back with the booking it counted, and seats 0.
        assert [
            r["seats"]
            for r in leaseholder.store.query("SELECT seats FROM leases WHERE session_id = ?", (session,))
        ] == [0]

        # Invariant 5: every lease-backed confirmation stood; invariant 1: capacity held.
        for b in leaseholder.store.query("SELECT id FROM bookings WHERE lease = 1"):
            assert _backend_booking(backend, b["id"]).status == "confirmed"
        with backend.database.read() as conn:
            confirmed = conn.execute(
                sa.select(sa.func.count())
                .select_from(db.bookings)
                .where(db.bookings.c.session_id == session, db.bookings.c.status == "confirmed")
            ).scalar_one()
        assert confirmed == 2
    finally:
        leaseholder.close()
        other.close()
