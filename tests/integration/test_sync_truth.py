"""A kiosk never shows a booking status, or a free seat, that the township never gave (issue 15, items 1–3):
real kiosk stores and the real sync engine against a real backend, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from cunzhan.i18n import gettext, use_locale
from cunzhan.models import BookingStatus
from kiosk.booking import Bookings
from tests.integration.conftest import Backend, unique_id_number
from tests.integration.sync_kiosks import KioskSim
from township import messages as M

pytestmark = pytest.mark.usefixtures("keyring_ready")


def _kiosks(backend: Backend, tmp_path: Path, *names: str) -> list[KioskSim]:
    kiosks = [KioskSim(tmp_path, name) for name in names]
    for k in kiosks:
        k.enroll(backend.url, backend.enrollment_code())
        k.sync_until_ok(k.engine())
    return kiosks


def _service_of(backend: Backend, session_id: str) -> str:
    from township import db

    with backend.database.read() as conn:
        return str(
            conn.execute(
                sa.select(db.sessions.c.service_id).where(db.sessions.c.id == session_id)
            ).scalar_one()
        )


def _backend_status(backend: Backend, booking_id: str) -> str | None:
    from township import db

    with backend.database.read() as conn:
        return conn.execute(sa.select(db.bookings.c.status).where(db.bookings.c.id == booking_id)).scalar()


@pytest.mark.parametrize("later", ["check_in", "reschedule", "cancel"])
def test_a_refused_create_with_later_ops_in_the_same_push_shows_refused(
    any_backend: Backend, tmp_path: Path, later: str
) -> None:
    """Create refused `duplicate_booking` and, in the same push, a check-in / move / cancel refused `not_found`: the
    kiosk must show the refusal with its reason, not the local status the township never had."""
    backend = any_backend
    # A reviewed service: no seat leases, so the second kiosk's booking is a plain request the township decides.
    # Check-in opens shortly before the start; a cancel or move must be made well before it.
    starts = dt.timedelta(hours=1) if later == "check_in" else dt.timedelta(days=3)
    session = backend.new_session(capacity=5, review=True, starts_in=starts)
    other = backend.new_session(
        capacity=5, starts_in=starts + dt.timedelta(days=1), service_id=_service_of(backend, session)
    )
    a, b = _kiosks(backend, tmp_path, "truth-a", "truth-b")
    person = unique_id_number()
    first = a.book(session, person)
    assert first is not None
    a.sync_until_ok(a.engine())
    second = b.book(session, person)  # the same resident, at another kiosk that does not know of the first
    assert second is not None and second.status is BookingStatus.REQUESTED
    desk = Bookings(b.store)
    if later == "check_in":
        desk.check_in(second.id, now=b.clock())
    elif later == "reschedule":
        desk.reschedule(second.id, other, now=b.clock())
    else:
        desk.cancel(second.id, now=b.clock())
    b.sync_until_ok(b.engine())

    assert b.store.pending_count() == 0
    assert _backend_status(backend, second.id) is None  # the township never had it
    row = b.store.booking(second.id)
    assert row is not None
    assert row.status is BookingStatus.REJECTED, row.status
    with use_locale("zh_CN"):
        assert row.message == gettext(M.DUPLICATE)  # the reason is shown
    assert _backend_status(backend, first.id) == "pending_review"
    for k in (a, b):
        k.close()


def test_cancelling_a_queued_request_gives_back_no_seat(any_backend: Backend, tmp_path: Path) -> None:
    """A request made with the waitlist flag on a full session took no seat: cancelling or moving it must not
    show residents a seat that does not exist (the township logs no session change that would correct it)."""
    backend = any_backend
    full = backend.new_session(capacity=1, starts_in=dt.timedelta(days=5))  # beyond the lease horizon
    roomy = backend.new_session(
        capacity=4, starts_in=dt.timedelta(days=6), service_id=_service_of(backend, full)
    )
    a, b = _kiosks(backend, tmp_path, "seat-a", "seat-b")
    taken = a.book(full, unique_id_number())
    assert taken is not None
    a.sync_until_ok(a.engine())
    b.sync_until_ok(b.engine())
    assert b.store.session(full).seats_left == 0  # type: ignore[union-attr]

    cancelled = b.book(full, unique_id_number(), waitlist=True)
    moved = b.book(full, unique_id_number(), waitlist=True)
    assert cancelled is not None and cancelled.status is BookingStatus.REQUESTED
    assert moved is not None
    Bookings(b.store).cancel(cancelled.id, now=b.clock())
    assert b.store.session(full).seats_left == 0  # type: ignore[union-attr]
    Bookings(b.store).reschedule(moved.id, roomy, now=b.clock())
    assert b.store.session(full).seats_left == 0  # type: ignore[union-attr]
    assert b.store.session(roomy).seats_left == 3  # type: ignore[union-attr]

    b.sync_until_ok(b.engine())
    from township import booking as B
    from township import db

    with backend.database.read() as conn:
        row = conn.execute(sa.select(db.sessions).where(db.sessions.c.id == full)).one()
        assert B.seats_left(conn, row) == 0
    assert b.store.session(full).seats_left == 0  # type: ignore[union-attr]
    assert b.store.booking(cancelled.id).status is BookingStatus.CANCELLED  # type: ignore[union-attr]
    assert b.store.booking(moved.id).status is BookingStatus.CONFIRMED  # type: ignore[union-attr]
    for k in (a, b):
        k.close()


def test_a_lease_confirmation_stands_over_a_duplicate_and_staff_are_told(
    any_backend: Backend, tmp_path: Path
) -> None:
    """The same resident books one session at two kiosks within seconds; one kiosk confirmed on its seat lease.
    The lease booking is a promise: it stands (not `duplicate_booking`), and staff see both codes in the audit
    trail. Without a lease, a duplicate is still refused."""
    from township import db

    backend = any_backend
    session = backend.new_session(capacity=10, starts_in=dt.timedelta(hours=30))  # inside the lease horizon
    (kiosk,) = _kiosks(backend, tmp_path, "lease-dup")
    assert kiosk.store.lease_seats_free(session, now=kiosk.clock()) >= 1
    person = unique_id_number()
    elsewhere = backend.enroll("另一台终端")
    first = elsewhere.book(session, id_number=person)  # online, no lease: confirmed from the shared pool
    assert first["outcome"] == "applied"

    promised = kiosk.book(session, person)  # offline: confirmed on the lease, the slip says so
    assert promised is not None and promised.lease and promised.status is BookingStatus.CONFIRMED
    kiosk.sync_until_ok(kiosk.engine())
    assert _backend_status(backend, promised.id) == "confirmed"
    assert kiosk.store.booking(promised.id).status is BookingStatus.CONFIRMED  # type: ignore[union-attr]
    with backend.database.read() as conn:
        audit = conn.execute(
            sa.select(db.staff_audit).where(db.staff_audit.c.action == "duplicate_lease_booking")
        ).all()
    assert {r.target for r in audit} == {promised.code, first["booking"]["code"]}
    assert all("name" not in r.detail and "id_number" not in r.detail for r in audit)  # codes and ids only

    again = elsewhere.book(session, id_number=person)  # a third try, no lease: refused as before
    assert (again["outcome"], again["reason"]) == ("rejected", "duplicate_booking")
    kiosk.close()


def test_a_refused_request_leaves_the_kiosk_showing_the_townships_seats(
    any_backend: Backend, tmp_path: Path
) -> None:
    """The kiosk took a seat in its own view for a request the township then refused (`duplicate_booking`); the
    township logs the session anyway, so the kiosk's figure comes back to the township's (invariant 4)."""
    backend = any_backend
    session = backend.new_session(capacity=4, starts_in=dt.timedelta(days=5))  # beyond the lease horizon
    (kiosk,) = _kiosks(backend, tmp_path, "refused-seat")
    person = unique_id_number()
    assert backend.enroll("另一台终端").book(session, id_number=person)["outcome"] == "applied"
    kiosk.sync_until_ok(
        kiosk.engine()
    )  # the kiosk sees the seats the other booking left (but not the booking)
    refused = kiosk.book(session, person)
    assert refused is not None
    kiosk.sync_until_ok(kiosk.engine())
    assert kiosk.store.booking(refused.id).status is BookingStatus.REJECTED  # type: ignore[union-attr]
    from tests.integration.test_sync_invariants import backend_sessions, kiosk_sessions

    assert kiosk_sessions(kiosk)[session] == backend_sessions(backend)[session]
    kiosk.close()
