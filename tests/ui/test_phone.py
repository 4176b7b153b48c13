"""「留个手机号，好给您发短信提醒吗？」 in the booking journey (#16): optional, masked on screen, never said on the
loudspeaker, checked as staff entry is, whose number; kept sealed with the resident and sent with the booking with its
agreement; a returning resident who gave one is not asked again (and can change it); nothing left for the next
person."""

from __future__ import annotations

import re
from typing import Any

import pytest
from PySide6.QtCore import Qt

from cunzhan import demo
from tests.ui.conftest import valid_id
from tests.ui.helpers import first_open_choice, past_notice, press, shown_text, touch, type_text

GP = demo.stable_id("service", "gp")
PHONE = "13912345678"


def _to_phone(kiosk: Any, number: str) -> None:
    touch(kiosk, "choice_clinic")
    touch(kiosk, f"choice_{GP}")
    while kiosk.current.name in ("provider", "day", "time"):
        touch(kiosk, first_open_choice(kiosk))
    touch(kiosk, "choice_self")
    past_notice(kiosk)
    type_text(kiosk, number)
    press(kiosk, Qt.Key.Key_Return)
    assert kiosk.current.name == "phone", kiosk.current.message


@pytest.mark.parametrize("profile", ["standard", "elder", "low_vision", "blind", "hearing", "motor"])
def test_a_number_given_with_consent_goes_with_the_booking(
    make_kiosk: Any, demo_store: Any, profile: str
) -> None:
    kiosk = make_kiosk(profile)
    number = valid_id("33010219480307120")
    _to_phone(kiosk, number)
    touch(kiosk, "choice_phone_self")
    assert kiosk.current.name == "phone_number"
    type_text(kiosk, "139123")
    assert shown_text(kiosk, "phone_display") == "139***"  # masked while typing
    type_text(kiosk, "45678")
    assert shown_text(kiosk, "phone_display") == "139****5678"
    touch(kiosk, "choice_phone_ok")
    assert kiosk.current.name == "confirm"
    assert "本人的手机" in shown_text(kiosk, "summary")
    touch(kiosk, "choice_confirm")
    assert kiosk.current.name == "done"
    payload = demo_store.pending_ops()[0]["payload"]
    assert payload["resident"]["phone"] == PHONE
    assert payload["reminders"]["owner"] == "self" and payload["reminders"]["notice"] == "2026-12-sms"
    kept = demo_store.find_resident(number)
    assert kept.phone == PHONE and kept.reminder_owner == "self" and kept.reminder_at is not None
    row = demo_store.query("SELECT phone_enc, phone_masked FROM residents WHERE id = ?", (kept.id,))[0]
    assert PHONE not in row["phone_enc"] and row["phone_masked"] == "139****5678"  # sealed at rest
    # Never said on the loudspeaker, in any profile.
    assert not any(re.search(r"\d{4}", text) for text in kiosk.ctx.speech.said)


@pytest.mark.parametrize("private", [False, True])
def test_digits_go_only_to_private_audio(make_kiosk: Any, demo_store: Any, private: bool) -> None:
    demo_store.set_setting("private_audio", "true" if private else "false")
    kiosk = make_kiosk("blind")
    _to_phone(kiosk, valid_id())
    touch(kiosk, "choice_phone_family")
    speech = kiosk.ctx.speech
    mark = len(speech.said)
    type_text(kiosk, "139")
    if private:  # the digit through the earphones, its position on the loudspeaker
        assert speech.private[-3:] == [("1", "第一位"), ("3", "第二位"), ("9", "第三位")]
    else:  # no private audio: only the position, never the digit
        assert speech.said[-3:] == ["第一位", "第二位", "第三位"]
    type_text(kiosk, "1234567")
    press(kiosk, Qt.Key.Key_Return)  # ten digits: refused with the staff entry's own message
    assert kiosk.current.name == "phone_number" and "11 位" in kiosk.current.message
    type_text(kiosk, "8")
    press(kiosk, Qt.Key.Key_Return)
    assert kiosk.current.name == "confirm"
    clear, masked = speech.private[-1]
    assert " ".join(PHONE) in clear and PHONE not in masked.replace(" ", "") and "5 6 7 8" not in masked
    assert "家人的手机" in kiosk.current.spoken_announcement()
    loud = " ".join(speech.said[mark:])  # the loudspeaker, from the number's screen on: no digit of it
    assert all(part not in loud.replace(" ", "") for part in ("139", "1234", "5678")), loud


def test_no_thanks_books_without_a_number_and_nothing_is_left(make_kiosk: Any, demo_store: Any) -> None:
    kiosk = make_kiosk("elder")
    number = valid_id("33010219480307121")
    _to_phone(kiosk, number)
    touch(kiosk, "choice_phone_self")
    type_text(kiosk, "1391")
    touch(kiosk, "nav_back")  # 返回 to the question, then 不需要
    assert kiosk.current.name == "phone"
    touch(kiosk, "choice_phone_none")
    assert kiosk.current.name == "confirm" and "短信" not in shown_text(kiosk, "summary")
    touch(kiosk, "choice_confirm")
    payload = demo_store.pending_ops()[0]["payload"]
    assert payload["resident"]["phone"] is None and payload["reminders"] is None
    kiosk.end_visit()
    assert kiosk.ctx.visit.phone_entry == "" and kiosk.ctx.visit.phone_owner == ""


def test_a_returning_resident_is_not_asked_again_and_can_change_it(make_kiosk: Any, demo_store: Any) -> None:
    kiosk = make_kiosk("standard")
    number = valid_id("33010219480307122")
    _to_phone(kiosk, number)
    touch(kiosk, "choice_phone_self")
    type_text(kiosk, PHONE)
    touch(kiosk, "choice_phone_ok")
    touch(kiosk, "choice_confirm")
    kiosk.end_visit()
    kiosk.go_home()

    touch(kiosk, "choice_clinic")
    touch(kiosk, f"choice_{GP}")
    while kiosk.current.name in ("provider", "day", "time"):
        touch(kiosk, first_open_choice(kiosk))
    if kiosk.current.name != "who":  # the first time offered is the one already booked: take the next
        touch(kiosk, first_open_choice(kiosk))
    touch(kiosk, "choice_self")
    past_notice(kiosk)
    type_text(kiosk, number)
    press(kiosk, Qt.Key.Key_Return)
    assert kiosk.current.name == "confirm"  # not asked again
    assert "本人的手机" in shown_text(kiosk, "summary")
    touch(kiosk, "choice_change_phone")  # the offer to change: 不需要 stops the reminders
    assert kiosk.current.name == "phone" and "139****5678" in shown_text(kiosk, "phone_known")
    touch(kiosk, "choice_phone_none")
    assert kiosk.current.name == "confirm" and "短信" not in shown_text(kiosk, "summary")
