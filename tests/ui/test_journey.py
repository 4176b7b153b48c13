"""The whole booking journey by touch and by keyboard alone, in the standard and elder profiles, with the data the
kiosk wrote (the booking and its outbox op) checked in the store."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt

from cunzhan import demo
from cunzhan.codes import format_code
from cunzhan.models import BookingStatus
from tests.ui.conftest import valid_id
from tests.ui.helpers import (
    first_open_choice,
    key_to,
    past_phone,
    press,
    shown_text,
    touch,
    touch_digits,
    type_text,
)

GP = demo.stable_id("service", "gp")
MATHS = demo.stable_id("service", "math")


def written(store: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return store.query("SELECT * FROM bookings"), store.pending_ops()


@pytest.mark.parametrize("profile", ["standard", "elder"])
def test_book_by_touch(make_kiosk: Any, demo_store: Any, profile: str) -> None:
    kiosk = make_kiosk(profile)
    assert kiosk.current.name == "home"
    touch(kiosk, "choice_clinic")
    assert kiosk.current.name == "service"
    touch(kiosk, f"choice_{GP}")
    assert kiosk.current.name == "day"  # one doctor only: the provider step is skipped
    touch(kiosk, first_open_choice(kiosk))
    assert kiosk.current.name == "time"
    touch(kiosk, first_open_choice(kiosk))
    session_id = kiosk.ctx.visit.session_id
    assert kiosk.current.name == "who"
    touch(kiosk, "choice_self")
    assert kiosk.current.name == "consent"  # the personal-data notice first, then the ID number
    assert "身份证号" in shown_text(kiosk, "consent_notice") and "24" in shown_text(kiosk, "consent_notice")
    touch(kiosk, "choice_consent_agree")
    assert kiosk.current.name == "identify"
    number = valid_id()
    touch_digits(kiosk, number)
    assert kiosk.ctx.visit.id_entry == number
    shown = shown_text(kiosk, "id_display")
    assert number[6:14] not in shown.replace(" ", "")  # masked: the birth date is not on the screen
    touch(kiosk, "choice_id_ok")
    past_phone(kiosk)
    assert kiosk.current.name == "confirm"
    touch(kiosk, "choice_confirm")
    assert kiosk.current.name == "done"

    bookings, ops = written(demo_store)
    assert len(bookings) == 1
    booking = bookings[0]
    assert booking["session_id"] == session_id
    assert booking["status"] == BookingStatus.REQUESTED.value  # no seat lease on this kiosk: told truthfully
    assert [(op["entity_id"], op["kind"]) for op in ops] == [(booking["id"], "create")]
    assert ops[0]["payload"]["resident"]["id_number"] == number
    assert (
        ops[0]["payload"]["consent"]["notice"] == "2026-12"
    )  # the notice agreed to travels with the booking
    assert shown_text(kiosk, "booking_code") == format_code(booking["code"])
    status = shown_text(kiosk, "booking_status")
    assert "乡镇" in status and "确认" in status  # requested, waiting for the township
    where = shown_text(kiosk, "where_when")
    assert "身份证" in where  # what to bring, from the service


@pytest.mark.parametrize("profile", ["standard", "elder"])
def test_book_for_grandchild_by_keyboard_alone(make_kiosk: Any, demo_store: Any, profile: str) -> None:
    kiosk = make_kiosk(profile)
    key_to(kiosk, "choice_school")
    assert kiosk.current.name == "service"
    key_to(kiosk, f"choice_{MATHS}")
    assert kiosk.current.name == "day"
    key_to(kiosk, first_open_choice(kiosk))
    key_to(kiosk, first_open_choice(kiosk))
    assert kiosk.current.name == "who"
    key_to(kiosk, "choice_family")
    assert kiosk.current.name == "relation"
    key_to(kiosk, "choice_relation_0")  # grandson
    assert kiosk.current.name == "birth_year"
    type_text(kiosk, "2016")
    press(kiosk, Qt.Key.Key_Escape)  # back one screen and forward again: the year is still there
    assert kiosk.current.name == "relation"
    key_to(kiosk, "choice_relation_0")
    assert kiosk.ctx.visit.birth_year == "2016"
    key_to(kiosk, "choice_next")
    assert kiosk.current.name == "consent"
    key_to(kiosk, "choice_consent_agree")
    assert kiosk.current.name == "identify"
    number = valid_id("33010219500101002")
    type_text(kiosk, number[:-1] + "9")  # a wrong last character first
    press(kiosk, Qt.Key.Key_Backspace)
    type_text(kiosk, number[-1].lower())
    press(kiosk, Qt.Key.Key_Return)  # Enter with focus on the keypad's key would type: focus is on a choice
    assert kiosk.current.name == "phone", kiosk.current.message
    key_to(kiosk, "choice_phone_family")  # a son's number for the reminders, typed on the keyboard
    type_text(kiosk, "13912345678")
    press(kiosk, Qt.Key.Key_Return)
    assert kiosk.current.name == "confirm", kiosk.current.message
    assert "2016" in shown_text(kiosk, "summary")
    assert "家人的手机" in shown_text(kiosk, "summary") and "5678" not in shown_text(kiosk, "summary")
    key_to(kiosk, "choice_confirm")
    assert kiosk.current.name == "done"

    bookings, ops = written(demo_store)
    assert len(bookings) == 1 and bookings[0]["dependent_id"]
    payload = ops[0]["payload"]
    assert payload["for_dependent"]["birth_year"] == 2016
    assert payload["resident"]["id_number"] == number.upper()
    assert payload["resident"]["phone"] == "13912345678"
    assert payload["reminders"]["owner"] == "family" and payload["reminders"]["notice"]
    key_to(kiosk, "choice_finish")
    assert kiosk.current.name == "home"
    assert kiosk.ctx.visit.is_empty()
