"""Automatic no-shows (issue 16, township.attendance): confirmed bookings never checked in become `no_show` after
their session ended plus a grace period; checked-in ones and sessions still in their grace period are left alone;
staff can correct one to `attended`; the kiosk learns it at its next pull. Both databases."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from tests.integration.conftest import Backend, op

pytestmark = pytest.mark.usefixtures("keyring_ready")


def test_confirmed_but_never_checked_in_becomes_no_show(any_backend: Backend) -> None:
    from township import booking as B
    from township import db
    from township.attendance import GRACE, mark_no_shows
    from township.services import mark_attendance

    kiosk = any_backend.enroll()
    session = any_backend.new_session(capacity=4)
    absent, present, corrected = (kiosk.book(session)["booking"]["id"] for _ in range(3))
    kiosk.push_ok([op("booking", "check_in", present, {}, device_seq=kiosk.next_seq())])
    kiosk.pull_all()
    with any_backend.database.read() as conn:
        ends = db.utc(
            conn.execute(sa.select(db.sessions.c.ends_at).where(db.sessions.c.id == session)).scalar_one()
        )

    assert (
        mark_no_shows(any_backend.database, now=ends + GRACE - dt.timedelta(minutes=1)) == 0
    )  # still in grace
    assert mark_no_shows(any_backend.database, now=ends + GRACE) == 2
    assert mark_no_shows(any_backend.database, now=ends + GRACE) == 0  # once
    with any_backend.database.read() as conn:
        status = {b: B.get_booking(conn, b).status for b in (absent, present, corrected)}  # type: ignore[union-attr]
    assert status == {absent: "no_show", present: "checked_in", corrected: "no_show"}

    mark_attendance(any_backend.database, corrected, True, staff_id=None)  # staff: "she was there"
    changes = {c["entity_id"]: c["data"]["status"] for c in kiosk.pull_all() if c["entity"] == "booking"}
    assert changes == {absent: "no_show", corrected: "attended"}
