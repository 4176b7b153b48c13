from __future__ import annotations

import datetime as dt
import json

import pytest

from cunzhan.models import BookingStatus, Channel, Dependent, Resident, Session
from kiosk.booking import BookingRefused, Bookings, Refusal
from kiosk.store import Store, new_id, to_text, utc_now

ID = "11010519491231002X"
ID2 = "33010219800101123X"


def _resident(number: str = ID, name: str = "张桂兰") -> Resident:
    return Resident(new_id(), name, number, "13812345678", "上坪村")


def _session(store: Store, *, capacity: int = 2, hours: float = 48, service: str = "svc") -> Session:
    start = utc_now() + dt.timedelta(hours=hours)
    s = Session(
        new_id(), service, "prov", start, start + dt.timedelta(minutes=30), capacity, capacity, "诊室"
    )
    store.upsert_session(s)
    return s


def test_booking_and_its_outbox_op_are_written_together(store: Store) -> None:
    session = _session(store)
    booking = Bookings(store).book(session_id=session.id, resident=_resident())
    assert booking.status is BookingStatus.REQUESTED  # no lease: the township decides
    ops = store.pending_ops()
    assert len(ops) == 1
    op = ops[0]
    assert (op["entity"], op["kind"], op["entity_id"]) == ("booking", "create", booking.id)
    assert op["payload"]["code"] == booking.code and op["payload"]["resident"]["id_number"] == ID
    assert op["payload"]["lease"] is False and op["device_seq"] == 1
    assert store.session(session.id).seats_left == 1  # type: ignore[union-attr]
    # The outbox payload holds personal data, so it is encrypted in the file too.
    raw = store.query("SELECT payload_enc FROM outbox")[0]["payload_enc"]
    assert ID not in raw and raw.startswith("v2:")  # bound to its row (kiosk.crypto)


def test_lease_confirms_offline(store: Store) -> None:
    session = _session(store)
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO leases (id, session_id, seats, expires_at) VALUES (?,?,?,?)",
            (new_id(), session.id, 1, to_text(utc_now() + dt.timedelta(hours=6))),
        )
    rules = Bookings(store)
    first = rules.book(session_id=session.id, resident=_resident())
    second = rules.book(session_id=session.id, resident=_resident(ID2, "李四"))
    assert first.status is BookingStatus.CONFIRMED and first.lease
    assert second.status is BookingStatus.REQUESTED and not second.lease


def test_expired_lease_confirms_nothing(store: Store) -> None:
    session = _session(store)
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO leases (id, session_id, seats, expires_at) VALUES (?,?,?,?)",
            (new_id(), session.id, 2, to_text(utc_now() - dt.timedelta(minutes=1))),
        )
    assert Bookings(store).book(session_id=session.id, resident=_resident()).status is BookingStatus.REQUESTED


def test_same_resident_cannot_book_a_session_twice_but_a_grandchild_can(store: Store) -> None:
    session = _session(store, capacity=5)
    rules = Bookings(store)
    grandma = _resident()
    rules.book(session_id=session.id, resident=grandma)
    with pytest.raises(BookingRefused) as err:
        rules.book(session_id=session.id, resident=grandma)
    assert err.value.reason is Refusal.DUPLICATE and "已经约过" in err.value.message()
    child = Dependent(new_id(), "", "王小明", "孙子", 2016)
    saved = store.find_resident(ID)
    assert saved is not None
    with_child = Resident(
        saved.id, saved.name, saved.id_number, saved.phone, saved.village, dependents=(child,)
    )
    booking = rules.book(
        session_id=session.id,
        resident=with_child,
        dependent=child,
        channel=Channel.ASSISTED,
        staff_id="staff-1",
    )
    op = store.pending_ops()[-1]
    assert op["payload"]["for_dependent"] == {"name": "王小明", "relation": "孙子", "birth_year": 2016}
    assert op["payload"]["channel"] == "assisted" and booking.dependent_id == child.id


def test_full_session_offers_alternatives_and_waitlist(store: Store) -> None:
    full = _session(store, capacity=1)
    later = _session(store, capacity=3, hours=72)
    rules = Bookings(store)
    rules.book(session_id=full.id, resident=_resident())
    with pytest.raises(BookingRefused) as err:
        rules.book(session_id=full.id, resident=_resident(ID2, "李四"))
    assert err.value.reason is Refusal.SLOT_FULL
    assert [s.id for s in err.value.alternatives] == [later.id]
    waiting = rules.book(session_id=full.id, resident=_resident(ID2, "李四"), waitlist=True)
    assert waiting.status is BookingStatus.REQUESTED and waiting.waitlist
    assert store.pending_ops()[-1]["payload"]["waitlist"] is True


def test_cancel_window_and_reschedule(store: Store) -> None:
    soon = _session(store, hours=1, service="svc")
    later = _session(store, hours=50, service="svc")
    other_service = _session(store, hours=60, service="other")
    rules = Bookings(store)
    b1 = rules.book(session_id=soon.id, resident=_resident())
    with pytest.raises(BookingRefused) as err:
        rules.cancel(b1.id)
    assert err.value.reason is Refusal.TOO_LATE
    b2 = rules.book(session_id=later.id, resident=_resident(ID2, "李四"))
    with pytest.raises(BookingRefused) as err:
        rules.reschedule(b2.id, other_service.id)
    assert err.value.reason is Refusal.OTHER_SERVICE
    third = _session(store, hours=70, service="svc")
    moved = rules.reschedule(b2.id, third.id)
    assert moved.session_id == third.id
    assert store.session(later.id).seats_left == later.capacity  # type: ignore[union-attr]
    cancelled = rules.cancel(b2.id, reason="家里有事")
    assert cancelled.status is BookingStatus.CANCELLED
    kinds = [(o["kind"], o["payload"]) for o in store.pending_ops()]
    assert kinds[-2:] == [("reschedule", {"session_id": third.id}), ("cancel", {"reason": "家里有事"})]


def test_check_in_only_on_the_day(store: Store) -> None:
    session = _session(store, hours=30)
    rules = Bookings(store)
    booking = rules.book(session_id=session.id, resident=_resident())
    with pytest.raises(BookingRefused) as err:
        rules.check_in(booking.id)
    assert err.value.reason is Refusal.NOT_TODAY
    done = rules.check_in(booking.id, now=session.starts_at - dt.timedelta(minutes=30))
    assert done.status is BookingStatus.CHECKED_IN
    assert store.pending_ops()[-1]["kind"] == "check_in"
    feedback = rules.rate(booking.id, 5, reasons=("医生耐心",))
    payload = store.pending_ops()[-1]["payload"]
    assert payload == {"booking_id": booking.id, "rating": 5, "reasons": ["医生耐心"], "comment": None}
    assert feedback.rating == 5
    with pytest.raises(BookingRefused):
        rules.rate(booking.id, 6)


def test_device_seq_is_never_reused(store: Store) -> None:
    session = _session(store, capacity=10)
    rules = Bookings(store)
    for i in range(3):
        rules.book(
            session_id=session.id,
            resident=_resident(ID if i == 0 else ID2 if i == 1 else "110105194912310038", f"人{i}"),
        )
    seqs = [o["device_seq"] for o in store.pending_ops()]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    with store.transaction() as conn:
        conn.execute("DELETE FROM outbox")
    rules.book(session_id=_session(store).id, resident=_resident())
    assert store.pending_ops()[0]["device_seq"] == 4
    assert json.loads(json.dumps(store.pending_ops()))  # the wire form is plain JSON
