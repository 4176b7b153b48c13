"""Bad input on the resident's journey: a wrong ID number, a time that fills up while choosing, the same booking
twice, a cancellation too late, a database error — each a kind message and a way on, nothing entered lost.
Also the other paths of My bookings: cancel, move to another time, check in, feedback, suggestions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cunzhan import demo
from cunzhan.codes import format_code
from cunzhan.i18n import gettext
from cunzhan.identity import check_id_number
from cunzhan.models import BookingStatus, Resident
from kiosk.booking import REFUSAL_MESSAGES, Bookings, Refusal
from kiosk.store import new_id
from kiosk.ui.screens.confirm import SAVE_FAILED
from tests.ui.conftest import valid_id
from tests.ui.helpers import first_open_choice, past_notice, past_phone, shown_text, touch, touch_digits

GP = demo.stable_id("service", "gp")
CHRONIC = demo.stable_id("service", "chronic")


def to_confirm(kiosk: Any, number: str) -> str:
    """Touch through to the confirm screen for the first open GP time; returns the session id."""
    touch(kiosk, "choice_clinic")
    touch(kiosk, f"choice_{GP}")
    touch(kiosk, first_open_choice(kiosk))
    touch(kiosk, first_open_choice(kiosk))
    session_id = kiosk.ctx.visit.session_id
    touch(kiosk, "choice_self")
    touch_digits(kiosk, number)
    touch(kiosk, "choice_id_ok")
    past_phone(kiosk)
    assert kiosk.current.name == "confirm", kiosk.current.message
    return str(session_id)


def first_open_session(store: Any, service_id: str) -> Any:
    now = dt.datetime.now(dt.UTC)
    return next(
        s
        for s in store.sessions_between(now, now + dt.timedelta(days=15), service_id=service_id)
        if s.bookable
    )


def resident(number: str) -> Resident:
    return Resident(id=new_id(), name="", id_number=number)


def test_wrong_id_numbers_get_their_own_kind_message(make_kiosk: Any, demo_store: Any) -> None:
    kiosk = make_kiosk("elder")
    touch(kiosk, "choice_clinic")
    touch(kiosk, f"choice_{GP}")
    touch(kiosk, first_open_choice(kiosk))
    touch(kiosk, first_open_choice(kiosk))
    touch(kiosk, "choice_self")
    number = valid_id()
    touch_digits(kiosk, number[:17])
    touch(kiosk, "choice_id_ok")
    past_phone(kiosk)
    assert kiosk.current.name == "identify"
    expected = check_id_number(number[:17]).message()
    assert "17" in expected and kiosk.current.message == expected
    assert expected in kiosk.ctx.speech.said[-1]  # spoken as well as shown (elder mode speaks)
    wrong_check = "0" if number[-1] != "0" else "1"
    touch_digits(kiosk, wrong_check)
    touch(kiosk, "choice_id_ok")
    past_phone(kiosk)
    assert kiosk.current.message == check_id_number(number[:17] + wrong_check).message()
    touch(kiosk, "nav_back")  # back one screen and forward again: the digits typed are still there
    touch(kiosk, "choice_self")
    assert kiosk.ctx.visit.id_entry == number[:17] + wrong_check
    touch(kiosk, "key_back")
    touch_digits(kiosk, number[-1])
    touch(kiosk, "choice_id_ok")
    past_phone(kiosk)
    assert kiosk.current.name == "confirm"
    assert not demo_store.query("SELECT 1 FROM bookings")


def test_time_filled_while_choosing_offers_the_nearest_times(make_kiosk: Any, demo_store: Any) -> None:
    kiosk = make_kiosk("standard")
    number = valid_id()
    session_id = to_confirm(kiosk, number)
    with demo_store.transaction() as conn:  # another kiosk took the last place meanwhile
        conn.execute("UPDATE sessions SET seats_left = 0 WHERE id = ?", (session_id,))
    touch(kiosk, "choice_confirm")
    assert kiosk.current.name == "time"
    assert kiosk.current.message == gettext(REFUSAL_MESSAGES[Refusal.SLOT_FULL])
    alternatives = kiosk.ctx.visit.alternatives
    assert alternatives and session_id not in alternatives
    assert not demo_store.query("SELECT 1 FROM bookings")
    wanted = [o["payload"]["session_id"] for o in demo_store.pending_ops() if o["entity"] == "demand"]
    assert wanted == [session_id]  # the full time counted as unmet demand (#18)
    touch(kiosk, f"choice_{alternatives[0]}")
    assert kiosk.current.name == "who"
    touch(kiosk, "choice_self")
    assert kiosk.ctx.visit.id_entry == number  # the ID typed before is still there: 下一步 goes on with it
    touch(kiosk, "choice_id_ok")
    past_phone(kiosk)
    touch(kiosk, "choice_confirm")
    assert kiosk.current.name == "done"
    rows = demo_store.query("SELECT session_id FROM bookings")
    assert [r["session_id"] for r in rows] == [alternatives[0]]


def test_same_session_twice_is_refused_kindly(make_kiosk: Any, demo_store: Any) -> None:
    number = valid_id()
    session = first_open_session(demo_store, GP)
    Bookings(demo_store).book(session_id=session.id, resident=resident(number))
    kiosk = make_kiosk("standard")
    assert to_confirm(kiosk, number) == session.id
    touch(kiosk, "choice_confirm")
    assert kiosk.current.name == "confirm"
    assert kiosk.current.message == gettext(REFUSAL_MESSAGES[Refusal.DUPLICATE])
    assert len(demo_store.query("SELECT 1 FROM bookings")) == 1
    touch(kiosk, "choice_see_bookings")
    assert kiosk.current.name == "booking_list"
    assert len(kiosk.current.shown_choices) == 2  # the booking, and the suggestions entry


def test_database_error_keeps_everything_entered(make_kiosk: Any, demo_store: Any) -> None:
    kiosk = make_kiosk("standard")
    to_confirm(kiosk, valid_id())
    with demo_store.transaction() as conn:
        conn.execute("CREATE TRIGGER broken BEFORE INSERT ON bookings BEGIN SELECT RAISE(ABORT, 'disk'); END")
    touch(kiosk, "choice_confirm")
    assert kiosk.current.name == "confirm"
    assert kiosk.current.message == gettext(SAVE_FAILED)
    assert not demo_store.query("SELECT 1 FROM outbox")
    with demo_store.transaction() as conn:
        conn.execute("DROP TRIGGER broken")
    touch(kiosk, "choice_confirm")  # the same touch again works: nothing had to be typed again
    assert kiosk.current.name == "done"


def open_my_booking(kiosk: Any, number: str) -> None:
    touch(kiosk, "choice_bookings")
    past_notice(kiosk)
    assert kiosk.current.name == "identify"
    touch_digits(kiosk, number)
    touch(kiosk, "choice_id_ok")
    past_phone(kiosk)
    assert kiosk.current.name == "booking_list"
    touch(kiosk, f"choice_{kiosk.current.shown_choices[0].key}")
    assert kiosk.current.name == "booking_detail"


def test_cancel_after_the_window_is_refused_then_in_time_it_works(make_kiosk: Any, demo_store: Any) -> None:
    number = valid_id()
    session = first_open_session(demo_store, GP)
    booking = Bookings(demo_store).book(session_id=session.id, resident=resident(number))
    late = session.starts_at - dt.timedelta(hours=1)  # the window closes 2 hours before
    kiosk = make_kiosk("elder", clock=lambda: late)
    open_my_booking(kiosk, number)
    touch(kiosk, "choice_cancel")
    touch(kiosk, "choice_cancel_yes")
    assert kiosk.current.message == gettext(REFUSAL_MESSAGES[Refusal.TOO_LATE])
    assert demo_store.booking(booking.id).status is BookingStatus.REQUESTED

    early = make_kiosk("standard")
    open_my_booking(early, number)
    touch(early, "choice_cancel")
    touch(early, "choice_cancel_no")
    assert early.current.name == "booking_detail"
    touch(early, "choice_cancel")
    touch(early, "choice_cancel_yes")
    assert early.current.name == "booking_list"
    assert demo_store.booking(booking.id).status is BookingStatus.CANCELLED
    assert [op["kind"] for op in demo_store.pending_ops()] == ["create", "cancel"]


def test_move_a_booking_to_another_time(make_kiosk: Any, demo_store: Any) -> None:
    number = valid_id()
    session = first_open_session(demo_store, GP)
    booking = Bookings(demo_store).book(session_id=session.id, resident=resident(number))
    kiosk = make_kiosk("standard")
    open_my_booking(kiosk, number)
    touch(kiosk, "choice_reschedule")
    assert kiosk.current.name == "day"
    touch(kiosk, first_open_choice(kiosk))
    choices = [c for c in kiosk.current.shown_choices if c.kind == "primary" and c.key != session.id]
    touch(kiosk, f"choice_{choices[0].key}")
    assert kiosk.current.name == "confirm"  # the resident is known: no who / identify again
    touch(kiosk, "choice_confirm")
    assert kiosk.current.name == "done"
    moved = demo_store.booking(booking.id)
    assert moved.session_id == choices[0].key and moved.status is BookingStatus.REQUESTED
    assert [op["kind"] for op in demo_store.pending_ops()] == ["create", "reschedule"]


def test_check_in_with_the_code_then_rate_it(make_kiosk: Any, demo_store: Any) -> None:
    number = valid_id()
    session = first_open_session(demo_store, GP)
    booking = Bookings(demo_store).book(session_id=session.id, resident=resident(number))
    on_the_day = session.starts_at - dt.timedelta(minutes=30)
    kiosk = make_kiosk("standard", clock=lambda: on_the_day)
    touch(kiosk, "choice_check_in")
    touch(kiosk, "choice_by_code")
    touch_digits(kiosk, "1234567")  # not a code (wrong check digit): a kind message, nothing written
    touch(kiosk, "choice_check_in_now")
    assert kiosk.current.name == "check_in_code" and kiosk.current.message
    touch(kiosk, "key_clear")
    touch_digits(kiosk, booking.code)
    assert shown_text(kiosk, "code_display") == format_code(booking.code)
    touch(kiosk, "choice_check_in_now")
    assert kiosk.current.name == "checked_in"
    assert session.room in shown_text(kiosk, "checked_in_where")
    assert demo_store.booking(booking.id).status is BookingStatus.CHECKED_IN
    touch(kiosk, "choice_finish")
    assert kiosk.ctx.visit.is_empty()

    open_my_booking(kiosk, number)
    touch(kiosk, "choice_feedback")
    assert not kiosk.current.shown_choices  # first a face
    touch(kiosk, "face_5")
    touch(kiosk, "choice_reason_0")
    touch(kiosk, "choice_send")
    assert kiosk.current.name == "booking_list"
    rows = demo_store.query("SELECT rating, reasons FROM feedback")
    assert rows[0]["rating"] == 5 and "explained clearly" in rows[0]["reasons"]
    assert [op["kind"] for op in demo_store.pending_ops()][-1] == "submit"


def test_suggestions_need_consent_and_take_a_free_seat(make_kiosk: Any, demo_store: Any) -> None:
    number = valid_id()
    session = first_open_session(demo_store, CHRONIC)
    waiting = Bookings(demo_store).book(session_id=session.id, resident=resident(number), waitlist=True)
    with demo_store.transaction() as conn:  # the township put it on the waiting list; now a place is free
        demo_store.set_booking_status(conn, waiting.id, BookingStatus.WAITLISTED)
    kiosk = make_kiosk("standard")
    touch(kiosk, "choice_bookings")
    touch_digits(kiosk, number)
    touch(kiosk, "choice_id_ok")
    past_phone(kiosk)
    touch(kiosk, "choice_for_you")
    assert kiosk.current.name == "for_you"
    assert [c.key for c in kiosk.current.shown_choices] == ["agree", "disagree"]  # nothing before consent
    touch(kiosk, "choice_agree")
    assert demo_store.find_resident(number).suggestions_consent
    keys = [c.key for c in kiosk.current.shown_choices]
    assert f"seat_{waiting.code}" in keys
    touch(kiosk, f"choice_seat_{waiting.code}")
    assert kiosk.current.name == "done"
    assert demo_store.booking(waiting.id).status is BookingStatus.CANCELLED
    taken = [b for b in demo_store.bookings_for_session(session.id) if b.status.active]
    assert len(taken) == 1 and not taken[0].waitlist
