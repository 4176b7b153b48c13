"""Rating at the next visit (#16): a resident who attended and has not rated is invited, when they next identify at
this kiosk, to rate it with one tap; 以后再说 dismisses it; asked once; then the journey goes on."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt

from cunzhan.models import BookingStatus, Resident
from kiosk.booking import Bookings
from kiosk.store import new_id
from kiosk.ui.screens.day import upcoming_sessions
from tests.ui.conftest import valid_id
from tests.ui.helpers import past_notice, press, touch, type_text


def _attended(kiosk: Any, store: Any, number: str) -> str:
    session = next(s for s in upcoming_sessions(kiosk.screen_named("day")) if s.bookable)
    booking = Bookings(store).book(session_id=session.id, resident=Resident(new_id(), "张桂兰", number))
    with store.transaction() as conn:
        store.set_booking_status(conn, booking.id, BookingStatus.ATTENDED)
    return booking.id


def _identify(kiosk: Any, number: str) -> None:
    touch(kiosk, "choice_bookings")
    past_notice(kiosk)
    type_text(kiosk, number)
    press(kiosk, Qt.Key.Key_Return)


@pytest.mark.parametrize("profile", ["standard", "elder", "blind"])
def test_one_tap_rates_the_last_session_and_the_journey_goes_on(
    make_kiosk: Any, demo_store: Any, profile: str
) -> None:
    kiosk = make_kiosk(profile)
    number = valid_id("33010219480307125")
    kiosk.show_screen("day")  # the demo's sessions, for the booking made below
    kiosk.go_home()
    booking_id = _attended(kiosk, demo_store, number)
    _identify(kiosk, number)
    assert kiosk.current.name == "rate_invite"
    if profile == "blind":
        press(kiosk, Qt.Key.Key_5)  # the keypad: 1 to 5
    else:
        touch(kiosk, "face_5")
    assert kiosk.current.name == "booking_list"  # where the resident was going
    [op] = [o for o in demo_store.pending_ops() if o["entity"] == "feedback"]
    assert op["payload"]["booking_id"] == booking_id and op["payload"]["rating"] == 5
    kiosk.end_visit()
    kiosk.go_home()
    _identify(kiosk, number)
    assert kiosk.current.name == "booking_list"  # rated: not asked again


def test_not_now_dismisses_it_once_for_good(make_kiosk: Any, demo_store: Any) -> None:
    kiosk = make_kiosk("standard")
    number = valid_id("33010219480307126")
    kiosk.show_screen("day")
    kiosk.go_home()
    _attended(kiosk, demo_store, number)
    _identify(kiosk, number)
    assert kiosk.current.name == "rate_invite"
    touch(kiosk, "choice_rate_later")
    assert kiosk.current.name == "booking_list"
    assert not [o for o in demo_store.pending_ops() if o["entity"] == "feedback"]
    kiosk.end_visit()
    kiosk.go_home()
    _identify(kiosk, number)
    assert kiosk.current.name == "booking_list"  # asked once
