"""The blind keypad journey: what the kiosk says for each key, where focus starts, what Enter does — keys only."""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QLabel

from cunzhan import demo
from tests.ui.conftest import valid_id
from tests.ui.helpers import button, first_open_choice, past_notice, past_phone, press, touch, type_text

GP = demo.stable_id("service", "gp")


def to_identify(kiosk: Any) -> None:
    touch(kiosk, "choice_clinic")
    touch(kiosk, f"choice_{GP}")
    while kiosk.current.name in ("provider", "day", "time"):
        touch(kiosk, first_open_choice(kiosk))
    touch(kiosk, "choice_self")
    past_notice(kiosk)  # the personal-data notice comes first
    assert kiosk.current.name == "identify"


def said_since(kiosk: Any, mark: int) -> list[str]:
    return kiosk.ctx.speech.said[mark:]


def test_typing_on_the_loudspeaker_says_positions_never_digits(make_kiosk: Any) -> None:
    kiosk = make_kiosk("blind")
    to_identify(kiosk)
    speech = kiosk.ctx.speech
    announcement = kiosk.current.spoken_announcement()
    # the number keys type here: no numbers shown on the choices
    assert not button(kiosk, "choice_id_ok").text().startswith("1.")
    assert "确认键" in announcement and not re.search(
        r"按[0-9一二三四五六七八九]，", announcement
    )  # not 按1，下一步
    number = valid_id()
    mark = len(speech.said)
    type_text(kiosk, number[:6])
    assert said_since(kiosk, mark) == ["第一位", "第二位", "第三位", "第四位", "第五位", "第六位"]
    assert speech.private == []  # no headphones: nothing said in clear
    mark = len(speech.said)
    press(kiosk, Qt.Key.Key_Backspace)
    assert said_since(kiosk, mark) == ["删掉一位，还有五位"]
    press(kiosk, Qt.Key.Key_Asterisk)  # what has been typed: the count, not the digits
    assert speech.said[-1] == "已经输了五位"
    for text in speech.said:
        assert number[:6] not in text.replace(" ", "")


def test_typing_with_headphones_says_each_digit_privately(make_kiosk: Any, demo_store: Any) -> None:
    demo_store.set_setting("private_audio", "true")
    kiosk = make_kiosk("blind")
    to_identify(kiosk)
    speech = kiosk.ctx.speech
    type_text(kiosk, "330")
    assert speech.private[-3:] == [("3", "第一位"), ("3", "第二位"), ("0", "第三位")]
    press(kiosk, Qt.Key.Key_Backspace)
    assert speech.private[-1] == ("删掉了 0", "删掉一位，还有两位")  # a count: 两, not 二
    press(kiosk, Qt.Key.Key_F2)
    assert speech.private[-1] == ("3 3", "已经输了两位")


def test_enter_confirms_and_the_read_back_is_not_cut_off(make_kiosk: Any, demo_store: Any) -> None:
    demo_store.set_setting("private_audio", "true")
    kiosk = make_kiosk("blind")
    to_identify(kiosk)
    number = valid_id()
    type_text(kiosk, number)
    assert kiosk.focusWidget().objectName() == "choice_id_ok"
    press(kiosk, Qt.Key.Key_Return)
    assert kiosk.current.name == "phone"  # the question for a phone number for reminders comes next
    clear, masked = kiosk.ctx.speech.private[-1]
    # one utterance: the read-back, then the new screen (said together, so the screen does not cut it off)
    assert clear.startswith("您输入的是") and " ".join(number) in clear and kiosk.current.title() in clear
    assert number not in masked.replace(" ", "") and kiosk.current.title() in masked


def test_arrows_say_the_focused_choice_whole(make_kiosk: Any) -> None:
    kiosk = make_kiosk("blind")
    touch(kiosk, "choice_clinic")
    touch(kiosk, f"choice_{GP}")
    while kiosk.current.name != "time":
        touch(kiosk, first_open_choice(kiosk))
    announcement = kiosk.current.spoken_announcement()
    assert "按1，" in announcement and ("还有" in announcement or "已约满" in announcement)
    assert "医生" in announcement  # who you would see, said with the time
    mark = len(kiosk.ctx.speech.said)
    press(kiosk, Qt.Key.Key_Down)
    focus = kiosk.focusWidget()
    assert said_since(kiosk, mark) == [" ".join(focus.accessibleName().split())]
    assert focus.accessibleDescription() == ""  # the detail is in the name: not said twice


def test_pages_are_said_and_turned_with_one_key(make_kiosk: Any) -> None:
    kiosk = make_kiosk("blind")
    touch(kiosk, "choice_clinic")
    touch(kiosk, f"choice_{GP}")
    screen = kiosk.current
    assert screen.page_count() > 1, "the demo has more days than one page holds"
    announcement = screen.spoken_announcement()
    assert f"第1页，共{screen.page_count()}页" in announcement and "按9看下一页" in announcement
    press(kiosk, Qt.Key.Key_9)
    assert screen.page == 1
    assert "第2页" in kiosk.ctx.speech.said[-1] and "按7看上一页" in kiosk.ctx.speech.said[-1]


def test_a_second_enter_just_after_confirm_is_not_the_next_screens_choice(make_kiosk: Any) -> None:
    now = [100.0]
    kiosk = make_kiosk("blind", touch_clock=lambda: now[0])
    assert kiosk.focusWidget().objectName() == "choice_clinic"
    press(kiosk, Qt.Key.Key_Return)
    assert kiosk.current.name == "service"
    now[0] += 0.1  # a bounce, or a second press of a resident who was not sure
    press(kiosk, Qt.Key.Key_Return)
    assert kiosk.current.name == "service"
    now[0] += 1.0
    press(kiosk, Qt.Key.Key_Return)
    assert kiosk.current.name != "service"


def test_cancel_starts_on_keeping_the_booking(make_kiosk: Any) -> None:
    kiosk = make_kiosk("blind")
    to_identify(kiosk)
    type_text(kiosk, valid_id())
    press(kiosk, Qt.Key.Key_Return)
    past_phone(kiosk)
    kiosk.current.confirm()
    booking = kiosk.ctx.visit.booking
    kiosk.show_screen("booking_detail")
    kiosk.show_screen("cancel")
    assert kiosk.focusWidget().objectName() == "choice_cancel_no"
    assert kiosk.current.spoken_announcement().index("不取消") < kiosk.current.spoken_announcement().index(
        "确定取消"
    )
    press(kiosk, Qt.Key.Key_Return)
    assert kiosk.ctx.store.booking(booking.id).status.active


def test_feedback_faces_by_number_and_enter_on_arrival_rates_nothing(make_kiosk: Any) -> None:
    kiosk = make_kiosk("blind")
    kiosk.show_screen("feedback")
    assert "按1到5" in kiosk.current.spoken_announcement()
    assert not kiosk.focusWidget().objectName().startswith("face_")
    press(kiosk, Qt.Key.Key_Return)
    assert kiosk.ctx.visit.rating == 0
    press(kiosk, Qt.Key.Key_4)
    assert kiosk.ctx.visit.rating == 4


def test_done_says_the_key_fact_first_and_last(make_kiosk: Any) -> None:
    kiosk = make_kiosk("blind")
    to_identify(kiosk)
    type_text(kiosk, valid_id())
    press(kiosk, Qt.Key.Key_Return)
    past_phone(kiosk)
    kiosk.current.confirm()
    assert kiosk.current.name == "done"
    text = kiosk.current.spoken_announcement()
    first_choice = text.index("按1")
    assert (
        text.index("预约号") < first_choice and text.index("请在") < first_choice
    )  # number, time, place first
    assert text.rindex("预约号") > first_choice and text.rstrip("。").endswith(
        text[text.rindex("预约号") : -1]
    )
    assert text.index("乡镇") > first_choice  # the status after the choices


def test_idle_warning_answered_by_any_key_keeps_focus(make_kiosk: Any) -> None:
    kiosk = make_kiosk("blind")
    touch(kiosk, "choice_clinic")
    focused = kiosk.focusWidget()
    kiosk.idle.warn()
    assert "按任意键继续" in kiosk.ctx.speech.said[-1]
    press(kiosk, Qt.Key.Key_5)
    assert (
        not kiosk.idle.warning_shown() and kiosk.current.name == "service"
    )  # the key answered, nothing else
    assert kiosk.focusWidget() is focused


def test_no_voice_model_no_invitation_to_speak(make_kiosk: Any) -> None:
    kiosk = make_kiosk("blind")
    assert "说" not in kiosk.current.announcement()
    press(kiosk, Qt.Key.Key_NumberSign)  # the listening key says why it cannot listen
    assert kiosk.current.message == "no voice in tests"


def test_screen_readers_window_name_focus_and_alerts(make_kiosk: Any) -> None:
    kiosk = make_kiosk("standard")
    touch(kiosk, "choice_check_in")
    assert kiosk.accessibleName() == kiosk.windowTitle() == kiosk.current.title()
    touch(kiosk, "choice_by_code")
    type_text(kiosk, "1234567")
    press(kiosk, Qt.Key.Key_Return)
    message = next(w for w in kiosk.findChildren(QLabel, "message") if w.isVisible())
    assert QAccessible.queryAccessibleInterface(message).role() == QAccessible.Role.AlertMessage


def test_an_id_ending_in_x_is_typed_with_the_arrows_and_enter(make_kiosk: Any) -> None:
    # A 12-key keypad has no X: the resident arrows to the screen's X key, Enter presses it, Enter then confirms.
    kiosk = make_kiosk("blind")
    to_identify(kiosk)
    assert "用方向键移到X键" in kiosk.current.spoken_announcement()
    number = valid_id("11010519491231002")
    assert number.endswith("X")
    type_text(kiosk, number[:17])
    for _ in range(40):
        if kiosk.focusWidget().objectName() == "key_X":
            break
        press(kiosk, Qt.Key.Key_Down)
    assert kiosk.focusWidget().objectName() == "key_X"
    press(kiosk, Qt.Key.Key_Return)
    assert kiosk.current.name == "identify" and kiosk.ctx.visit.id_entry == number
    press(kiosk, Qt.Key.Key_Return)  # focus still on X: the entry is full, so this Enter confirms
    assert kiosk.current.name != "identify" and kiosk.ctx.visit.resident is not None
