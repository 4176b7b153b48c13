"""Capacity, waitlist, review and seat leases through the real API, and the staff functions kiosks learn from,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from tests.integration.conftest import Backend, create_op, op


def _held(backend: Backend, session_id: str) -> int:
    """Bookings that count against capacity in the strict sense of invariant 1."""
    from township import db

    with backend.database.read() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(db.bookings)
                .where(
                    db.bookings.c.session_id == session_id,
                    db.bookings.c.status.in_(("confirmed", "checked_in", "attended")),
                )
            ).scalar_one()
        )


def _status(backend: Backend, booking_id: str) -> str:
    from township import db

    with backend.database.read() as conn:
        return str(
            conn.execute(sa.select(db.bookings.c.status).where(db.bookings.c.id == booking_id)).scalar_one()
        )


def _latest(changes: list[dict[str, Any]], entity_id: str) -> dict[str, Any]:
    mine = [c for c in changes if c["entity_id"] == entity_id]
    assert mine, entity_id
    return mine[-1]


def test_waitlist_is_promoted_in_order_when_seats_free(any_backend: Backend) -> None:
    kiosk = any_backend.enroll()
    session = any_backend.new_session(capacity=1)
    first = kiosk.book(session)["booking"]
    w1 = kiosk.book(session, waitlist=True)
    w2 = kiosk.book(session, waitlist=True)
    assert w1["booking"]["status"] == "waitlisted" and w2["booking"]["status"] == "waitlisted"
    assert "1" in w1["message"] and "2" in w2["message"]
    kiosk.pull_all()
    cancel = op("booking", "cancel", first["id"], {"reason": "有事"}, device_seq=kiosk.next_seq())
    assert kiosk.push_ok([cancel])[0]["booking"]["status"] == "cancelled"
    assert _status(any_backend, w1["booking"]["id"]) == "confirmed"
    assert _status(any_backend, w2["booking"]["id"]) == "waitlisted"
    changes = kiosk.pull_all()
    promoted = _latest(changes, w1["booking"]["id"])
    assert promoted["data"]["status"] == "confirmed" and promoted["data"]["message"]
    assert "1" in _latest(changes, w2["booking"]["id"])["data"]["message"]  # now first in the queue
    assert _held(any_backend, session) == 1


def test_review_service_holds_a_seat_until_staff_decide(any_backend: Backend) -> None:
    from township.services import ServiceError, confirm_booking, reject_booking

    staff = any_backend.create_staff(f"reviewer-{uuid.uuid4().hex[:6]}", role="reviewer")
    kiosk = any_backend.enroll()
    session = any_backend.new_session(capacity=1, review=True)
    pending = kiosk.book(session)
    assert pending["booking"]["status"] == "pending_review"
    # The pending booking holds the only seat: a second resident is told the session is full.
    assert kiosk.book(session)["reason"] == "slot_full"
    waiting = kiosk.book(session, waitlist=True)["booking"]
    reject_booking(any_backend.database, pending["booking"]["id"], "请先到卫生院建档", staff_id=staff)
    # The seat went to the waitlist, which for a reviewed service means review again.
    assert _status(any_backend, waiting["id"]) == "pending_review"
    confirm_booking(any_backend.database, waiting["id"], staff_id=staff)
    assert _held(any_backend, session) == 1
    with pytest.raises(ServiceError):
        confirm_booking(any_backend.database, waiting["id"], staff_id=staff)  # already confirmed
    changes = kiosk.pull_all()
    rejected = _latest(changes, pending["booking"]["id"])
    assert rejected["data"]["status"] == "rejected" and "请先到卫生院建档" in rejected["data"]["message"]
    assert _latest(changes, waiting["id"])["data"]["status"] == "confirmed"


def test_staff_reassign_and_attendance_reach_the_kiosk(any_backend: Backend) -> None:
    from township.services import ServiceError, mark_attendance, reassign_booking

    staff = any_backend.create_staff(f"admin-{uuid.uuid4().hex[:6]}")
    kiosk = any_backend.enroll()
    a = any_backend.new_session(capacity=1)
    b = any_backend.new_session(capacity=1)
    moved = kiosk.book(a)["booking"]
    kiosk.pull_all()
    reassign_booking(any_backend.database, moved["id"], b, staff_id=staff)
    change = _latest(kiosk.pull_all(), moved["id"])
    assert change["data"]["session_id"] == b and change["data"]["status"] == "confirmed"
    assert change["version"] > moved["version"]
    other = kiosk.book(a)["booking"]  # the freed seat in a is bookable again
    with pytest.raises(ServiceError) as full:
        reassign_booking(any_backend.database, other["id"], b, staff_id=staff)
    assert full.value.code == "full"
    mark_attendance(any_backend.database, moved["id"], True, staff_id=staff)
    assert _latest(kiosk.pull_all(), moved["id"])["data"]["status"] == "attended"


def test_cancelled_session_tells_every_booking_with_alternatives(any_backend: Backend) -> None:
    from township.services import cancel_session

    kiosk = any_backend.enroll()
    session = any_backend.new_session(capacity=3, starts_in=dt.timedelta(days=4))
    service = _service(any_backend, session)
    alternative = any_backend.new_session(capacity=3, service_id=service, starts_in=dt.timedelta(days=5))
    booked = [kiosk.book(session)["booking"]["id"] for _ in range(2)]
    kiosk.pull_all()
    assert cancel_session(any_backend.database, session, "医生临时出诊", staff_id=None) == 2
    changes = kiosk.pull_all()
    for booking_id in booked:
        data = _latest(changes, booking_id)["data"]
        assert data["status"] == "cancelled" and "医生临时出诊" in data["message"]
    assert _latest(changes, session)["data"]["status"] == "cancelled"
    assert alternative  # the message lists the other time (its local text, not its id)
    assert any(ch.isdigit() for ch in _latest(changes, booked[0])["data"]["message"])


def test_session_edits_refuse_what_would_break_capacity(any_backend: Backend) -> None:
    from township.services import ServiceError, create_session, edit_session

    kiosk = any_backend.enroll()
    session = any_backend.new_session(capacity=3)
    for _ in range(2):
        kiosk.book(session)
    waiting = kiosk.book(session, waitlist=True)
    assert waiting["booking"]["status"] == "confirmed"  # third seat free
    waiting = kiosk.book(session, waitlist=True)
    assert waiting["booking"]["status"] == "waitlisted"
    with pytest.raises(ServiceError) as low:
        edit_session(any_backend.database, session, staff_id=None, capacity=2)
    assert low.value.code == "capacity"
    edit_session(
        any_backend.database, session, staff_id=None, capacity=4
    )  # a seat more: the waitlist moves up
    assert _status(any_backend, waiting["booking"]["id"]) == "confirmed"
    # One provider cannot be in two sessions at once.
    from township import db

    with any_backend.database.read() as conn:
        row = conn.execute(sa.select(db.sessions).where(db.sessions.c.id == session)).one()
    with pytest.raises(ServiceError) as overlap:
        create_session(
            any_backend.database,
            staff_id=None,
            township_slug="demo",
            service_id=row.service_id,
            provider_id=row.provider_id,
            starts_at=db.utc(row.starts_at) + dt.timedelta(minutes=10),
            ends_at=db.utc(row.ends_at) + dt.timedelta(minutes=10),
            capacity=2,
        )
    assert overlap.value.code == "overlap"


def test_reviewer_cannot_do_admin_things(any_backend: Backend) -> None:
    from township.services import ServiceError, cancel_session, create_enrollment_code, revoke_device

    reviewer = any_backend.create_staff(f"rev-{uuid.uuid4().hex[:6]}", role="reviewer")
    kiosk = any_backend.enroll()
    session = any_backend.new_session()
    for call in (
        lambda: cancel_session(any_backend.database, session, "x", staff_id=reviewer),
        lambda: create_enrollment_code(any_backend.database, "demo", staff_id=reviewer),
        lambda: revoke_device(any_backend.database, kiosk.device_id, staff_id=reviewer),
    ):
        with pytest.raises(ServiceError):
            call()
    assert kiosk.pull().status_code == 200


def test_reschedule_moves_the_seat(any_backend: Backend) -> None:
    kiosk = any_backend.enroll()
    a = any_backend.new_session(capacity=1)
    b = any_backend.new_session(capacity=1)
    booking = kiosk.book(a)["booking"]
    waiting = kiosk.book(a, waitlist=True)["booking"]
    move = op("booking", "reschedule", booking["id"], {"session_id": b}, device_seq=kiosk.next_seq())
    result = kiosk.push_ok([move])[0]
    assert result["booking"]["session_id"] == b and result["booking"]["status"] == "confirmed"
    assert _status(any_backend, waiting["id"]) == "confirmed"  # a's seat went to the waitlist
    again = op("booking", "reschedule", waiting["id"], {"session_id": b}, device_seq=kiosk.next_seq())
    full = kiosk.push_ok([again])[0]
    assert full["reason"] == "slot_full" and full["booking"]["session_id"] == a
    assert _held(any_backend, a) == 1 and _held(any_backend, b) == 1


# --- seat leases ------------------------------------------------------------------------------------------------------


def _leases(changes: list[dict[str, Any]], session_id: str) -> list[dict[str, Any]]:
    return [c for c in changes if c["entity"] == "lease" and c["data"]["session_id"] == session_id]


def test_leases_keep_a_shared_pool_and_are_honoured_when_it_is_empty(any_backend: Backend) -> None:
    session = any_backend.new_session(capacity=4, starts_in=dt.timedelta(hours=20))
    kiosks = [any_backend.enroll(f"lease-{i}") for i in range(4)]
    granted = []
    for kiosk in kiosks:
        leases = _leases(kiosk.pull_all(), session)
        granted.append(sum(c["data"]["seats"] for c in leases if c["op"] == "upsert"))
    # All leases together hold at most half of the free seats: two kiosks get one seat each, two get none.
    assert sorted(granted) == [0, 0, 1, 1]
    holder = kiosks[granted.index(1)]
    other = kiosks[granted.index(0)]
    # The shared pool (4 - 2 leased = 2) fills up from kiosks without a lease …
    assert other.book(session)["outcome"] == "applied"
    assert other.book(session)["outcome"] == "applied"
    assert other.book(session)["reason"] == "slot_full"
    # … and the lease holder's offline confirmation is still honoured (invariant 5), within capacity.
    result = holder.book(session, lease=True)
    assert result["outcome"] == "applied" and result["booking"]["status"] == "confirmed"
    assert _held(any_backend, session) == 3
    # The used lease now shows no seat left at the kiosk.
    assert _leases(holder.pull_all(), session)[-1]["data"]["seats"] == 0
    # A lease-backed create without a lease left falls back to the pool, which is empty.
    assert holder.book(session, lease=True)["reason"] == "slot_full"
    assert _held(any_backend, session) <= 4


def test_expired_lease_returns_its_seats_once_the_kiosk_has_seen_it(any_backend: Backend) -> None:
    from township import db

    session = any_backend.new_session(capacity=2, starts_in=dt.timedelta(hours=30))
    kiosk = any_backend.enroll()
    leases = _leases(kiosk.pull_all(), session)
    assert leases and leases[-1]["data"]["seats"] == 1
    lease_id = leases[-1]["entity_id"]
    other = any_backend.enroll()
    assert other.book(session)["outcome"] == "applied"
    assert other.book(session)["reason"] == "slot_full"  # the last seat is set aside for the lease
    with any_backend.database.write() as conn:  # let the lease run out
        conn.execute(
            sa.update(db.leases)
            .where(db.leases.c.id == lease_id)
            .values(expires_at=db.naive(db.now_utc() - dt.timedelta(minutes=1)))
        )
    deleted = [c for c in kiosk.pull_all() if c["entity_id"] == lease_id]
    assert deleted[-1]["op"] == "delete"
    # The kiosk might have confirmed offline before it heard: the seat stays set aside until its next pull.
    assert other.book(session)["reason"] == "slot_full"
    kiosk.pull_all()
    assert other.book(session)["outcome"] == "applied"
    assert _held(any_backend, session) == 2


def test_lease_backed_create_after_expiry_is_still_honoured(any_backend: Backend) -> None:
    """A kiosk confirmed offline on its lease, then stayed offline past expiry: the push still finds its seat."""
    from township import db

    session = any_backend.new_session(capacity=2, starts_in=dt.timedelta(hours=30))
    kiosk = any_backend.enroll()
    lease_id = _leases(kiosk.pull_all(), session)[-1]["entity_id"]
    other = any_backend.enroll()
    other.book(session)
    with any_backend.database.write() as conn:
        conn.execute(
            sa.update(db.leases)
            .where(db.leases.c.id == lease_id)
            .values(expires_at=db.naive(db.now_utc() - dt.timedelta(hours=2)))
        )
    other.pull_all()  # other kiosks' pulls do not touch this kiosk's lease
    result = kiosk.book(session, lease=True)
    assert result["outcome"] == "applied" and result["booking"]["status"] == "confirmed"
    assert _held(any_backend, session) == 2


def _service(backend: Backend, session_id: str) -> str:
    from township import db

    with backend.database.read() as conn:
        return str(
            conn.execute(
                sa.select(db.sessions.c.service_id).where(db.sessions.c.id == session_id)
            ).scalar_one()
        )


def test_create_op_helper_is_valid() -> None:
    from cunzhan import protocol as P

    built = create_op(str(uuid.uuid4()), device_seq=1)
    parsed = P.Op.model_validate(built)
    assert isinstance(P.parse_payload(parsed), P.BookingCreate)
