"""Queue numbers at check-in and the staff's calls (#16): given by the kiosk per session, in check-in order, kept across
restarts, sent on the check-in op; 叫下一位 / 重叫 / 过号 written with their `call` op."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cunzhan import protocol
from cunzhan.models import QueueOrder, Resident, Service, ServiceKind, Session
from kiosk.booking import Bookings
from kiosk.store import Store, new_id, utc_now
from tests.integration.conftest import valid_id_number


def _session(store: Store, *, minutes_away: int = 30) -> Session:
    start = utc_now() + dt.timedelta(minutes=minutes_away)
    session = Session(new_id(), "svc", "prov", start, start + dt.timedelta(hours=1), 30, 30, "诊室")
    store.upsert_session(session)
    return session


def _checked_in(rules: Bookings, session: Session, n: int) -> str:
    resident = Resident(new_id(), f"居民{n}", valid_id_number(n), None, "上坪村")
    booking = rules.book(session_id=session.id, resident=resident)
    rules.check_in(booking.id)
    return booking.id


def test_numbers_follow_check_in_order_per_session_and_survive_a_restart(
    store: Store, data_home: Path
) -> None:
    first, second = _session(store), _session(store, minutes_away=40)
    rules = Bookings(store)
    a = rules.book(session_id=first.id, resident=Resident(new_id(), "甲", valid_id_number(1)))
    b = rules.book(session_id=first.id, resident=Resident(new_id(), "乙", valid_id_number(2)))
    rules.check_in(b.id)  # booked second, here first: number 1
    rules.check_in(a.id)
    assert store.queue_number(b.id) == 1 and store.queue_number(a.id) == 2
    rules.check_in(a.id)  # checking in again changes nothing
    assert store.queue_number(a.id) == 2
    other = _checked_in(rules, second, 3)
    assert store.queue_number(other) == 1  # each session counts from 1
    sent = [op for op in store.pending_ops() if op["kind"] == "check_in"]
    assert [op["payload"] for op in sent] == [{"queue_number": 1}, {"queue_number": 2}, {"queue_number": 1}]
    for op in sent:  # what the township accepts
        protocol.BookingCheckIn.model_validate(op["payload"])
    path = store.path
    store.close()
    again = Store.open(path)  # the kiosk restarts
    try:
        third = _checked_in(Bookings(again), first, 4)
        assert again.queue_number(third) == 3
    finally:
        again.close()


def test_staff_calls_next_again_and_missed(store: Store) -> None:
    session = _session(store)
    rules = Bookings(store)
    ids = [_checked_in(rules, session, n) for n in (11, 12, 13)]
    assert rules.call(session.id, "recall") is None  # nobody called yet
    first = rules.call(session.id, "call")
    assert first is not None and (first.queue_number, first.booking_id, first.action) == (1, ids[0], "call")
    again = rules.call(session.id, "recall", now=utc_now() + dt.timedelta(seconds=1))
    assert again is not None and again.queue_number == 1
    missed = rules.call(session.id, "skip", now=utc_now() + dt.timedelta(seconds=2))
    assert missed is not None and missed.queue_number == 1 and missed.action == "skip"
    nxt = rules.call(session.id, "call", now=utc_now() + dt.timedelta(seconds=3))
    assert nxt is not None and nxt.queue_number == 2
    assert [called for _b, _n, called in store.waiting_room(session.id)] == ["skip", "call", None]
    rules.call(session.id, "call", now=utc_now() + dt.timedelta(seconds=4))
    assert rules.call(session.id, "call", now=utc_now() + dt.timedelta(seconds=5)) is None  # all called
    calls = [op for op in store.pending_ops() if op["entity"] == "call"]
    assert [(op["kind"], op["payload"]["queue_number"], op["payload"]["action"]) for op in calls] == [
        ("announce", 1, "call"),
        ("announce", 1, "recall"),
        ("announce", 1, "skip"),
        ("announce", 2, "call"),
        ("announce", 3, "call"),
    ]
    for op in calls:
        parsed = protocol.parse_payload(protocol.Op.model_validate(op))
        assert isinstance(parsed, protocol.RoomCall) and parsed.session_id == session.id
    # A pending call never holds back the township's word on the booking (it is not a change to it).
    with store.transaction() as conn:
        for op in store.pending_ops():
            if op["entity"] == "booking":
                store.finish_op(conn, op["op_id"], state="done", result={})
    assert store.pending_count() == len(calls) and not store.has_pending_ops(ids[2])


def _in_booking_order(store: Store, order: QueueOrder = QueueOrder.BOOKING) -> None:
    store.upsert_service(Service("svc", ServiceKind.CLINIC, "慢病随访", queue_order=order))


def test_booking_order_gives_each_resident_the_number_of_their_place_in_booking_order(store: Store) -> None:
    _in_booking_order(store)
    first, other = _session(store), _session(store, minutes_away=3 * 24 * 60)
    rules = Bookings(store)
    a, b, c = (
        rules.book(session_id=first.id, resident=Resident(new_id(), n, valid_id_number(i)))
        for i, n in enumerate("甲乙丙", start=21)
    )
    moved = rules.book(session_id=other.id, resident=Resident(new_id(), "丁", valid_id_number(24)))
    rules.reschedule(moved.id, first.id)  # moved in: its place is at the end of the session's booking order
    for booking in (c, moved, a, b):  # they arrive in another order than they booked
        rules.check_in(booking.id)
    assert [store.queue_number(x.id) for x in (a, b, c, moved)] == [1, 2, 3, 4]
    sent = [op["payload"]["queue_number"] for op in store.pending_ops() if op["kind"] == "check_in"]
    assert sent == [3, 4, 1, 2]  # what the township keeps and calls by


def test_numbers_never_meet_when_the_setting_changes(store: Store) -> None:
    session = _session(store)
    rules = Bookings(store)
    early = rules.book(session_id=session.id, resident=Resident(new_id(), "甲", valid_id_number(31)))
    _in_booking_order(store)
    late = rules.book(session_id=session.id, resident=Resident(new_id(), "乙", valid_id_number(32)))
    with store.transaction() as conn:  # as the pull does when the township changes the setting
        store.keep_numbers(conn, "svc")
    _in_booking_order(store, QueueOrder.CHECK_IN)  # and back again before the day
    walk_in = rules.book(session_id=session.id, resident=Resident(new_id(), "丙", valid_id_number(33)))
    for booking in (walk_in, late, early):
        rules.check_in(booking.id)
    numbers = [store.queue_number(x.id) for x in (walk_in, late, early)]
    assert numbers == [3, 4, 5]  # check-in order again: after the numbers kept (1, 2), none given twice
    _in_booking_order(store)
    kept = [
        r["kept_number"] for r in store.query("SELECT kept_number FROM bookings ORDER BY created_at, code")
    ]
    assert kept == [2, 1, None]  # kept when the setting arrived (early) and when booked (late)
