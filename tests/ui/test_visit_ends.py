"""Going home ends the visit: from every screen of the journey, by 首页, by 返回/Esc all the way back, or by saying
首页, nothing personal survives — not in the visit, not in any widget (shown or hidden), not in memory, not in 重听 —
unless the resident chose 「还要办别的事」 on the done screen."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtWidgets import QAbstractButton, QLabel, QWidget

from cunzhan.codes import format_code
from cunzhan.identity import mask_id
from cunzhan.models import Booking, Resident
from kiosk.ui.tour import DEMO_ID, tour
from tests.ui.conftest import valid_id
from tests.ui.helpers import button, first_open_choice, past_notice, past_phone, press, touch, touch_digits

# Every stop of kiosk.ui.tour (the journey through every resident screen), up to the idle warning.
STOPS = (
    "modes",
    "service",
    "provider",
    "day",
    "time",
    "time_alternatives",
    "who",
    "relation",
    "birth_year",
    "identify",
    "remember",
    "phone",
    "phone_number",
    "confirm",
    "done",
    "slip",
    "booking_list",
    "booking_detail",
    "cancel",
    "check_in",
    "check_in_code",
    "checked_in",
    "feedback",
    "feedback_reasons",
    "comment",
    "feedback_comment",
    "rate_invite",
    "for_you_consent",
    "for_you",
)


def held(kind: type, **fields: str) -> list[Any]:
    """Live objects of `kind` with these field values."""
    gc.collect()
    return [
        o
        for o in gc.get_objects()
        if isinstance(o, kind) and all(getattr(o, k) == v for k, v in fields.items())
    ]


def walk_to(kiosk: Any, stop: str) -> dict[str, str]:
    """Drive the tour up to `stop`; returns the personal strings the visit held there."""
    kiosk.earlier = held(
        Resident, id_number=DEMO_ID
    )  # another test's window not yet collected is not this one
    for name in tour(kiosk):
        if name == stop:
            visit = kiosk.ctx.visit
            personal = {
                "id": DEMO_ID,
                "masked id": mask_id(DEMO_ID),
                "id end": DEMO_ID[-4:],
                "birth year": "2016",
            }
            if visit.comment or visit.comment_heard:
                personal["comment"] = visit.comment or visit.comment_heard
            if visit.booking is not None:
                kiosk.booking_id = visit.booking.id
                personal["code"] = visit.booking.code
                personal["formatted code"] = format_code(visit.booking.code)
            return personal
    raise AssertionError(f"the tour has no stop {stop!r}")


def texts(kiosk: Any) -> list[str]:
    """Every text the window holds in a widget, shown or hidden: labels, buttons, accessible names, tooltips."""
    QCoreApplication.sendPostedEvents(
        None, QEvent.Type.DeferredDelete
    )  # widgets of earlier draws really gone
    found = []
    for widget in [kiosk, *kiosk.findChildren(QWidget)]:
        found += [
            widget.accessibleName(),
            widget.accessibleDescription(),
            widget.toolTip(),
            widget.windowTitle(),
        ]
        if isinstance(widget, QLabel | QAbstractButton):
            found.append(widget.text())
    return [text for text in found if text]


def assert_nothing_personal(kiosk: Any, personal: dict[str, str]) -> None:
    assert kiosk.current.name == "home"
    visit = kiosk.ctx.visit
    assert not visit.has_personal(), vars(visit)
    assert kiosk.ctx.profile == kiosk.ctx.default_profile
    for text in texts(kiosk):
        flat = text.replace(" ", "").replace("-", "")
        for what, value in personal.items():
            assert value.replace(" ", "").replace("-", "") not in flat, f"{what} survives home in {text!r}"
    left = [o for o in held(Resident, id_number=DEMO_ID) if not any(o is e for e in kiosk.earlier)]
    assert not left, "the resident is still held in memory"
    if "code" in personal:  # by its id: codes repeat from one test's store to the next, ids never
        assert not held(Booking, id=kiosk.booking_id), "the booking is still held in memory"
    speech = kiosk.ctx.speech
    kiosk.repeat()  # 重听 on home says home, never the last resident's prompt
    said = speech.said[-1] if speech.said else ""
    for what, value in personal.items():
        assert value not in said, f"重听 repeats the {what}"
    touch(kiosk, "choice_bookings")  # 我的预约 asks who you are, with nothing typed and no 「还是我本人」
    assert kiosk.current.name == "consent"  # the personal-data notice is asked again: a new visit
    past_notice(kiosk)
    assert kiosk.current.name == "identify"
    assert kiosk.ctx.visit.id_entry == ""
    assert "id_known" not in [c.key for c in kiosk.current.visible_choices()]


@pytest.mark.parametrize("stop", STOPS)
def test_home_button_ends_the_visit(make_kiosk: Any, stop: str) -> None:
    kiosk = make_kiosk("standard")
    personal = walk_to(kiosk, stop)
    kiosk.ctx.speech.say(kiosk.current.spoken_announcement())  # the last prompt, for 重听
    touch(kiosk, "nav_home")
    assert_nothing_personal(kiosk, personal)


@pytest.mark.parametrize("stop", STOPS)
def test_back_all_the_way_or_saying_home_ends_the_visit(make_kiosk: Any, stop: str) -> None:
    kiosk = make_kiosk("elder")  # a mode of the resident's own? here the kiosk's default: it stays
    personal = walk_to(kiosk, stop)
    for _ in range(40):
        if kiosk.current.name == "home" or not kiosk.current.show_back:
            break
        press(kiosk, Qt.Key.Key_Escape)
    if kiosk.current.name != "home":  # the done screens have no way back: say 首页
        kiosk.voice_routing.on_command("首页")
    assert_nothing_personal(kiosk, personal)


def test_a_mode_chosen_in_the_visit_ends_with_it(make_kiosk: Any) -> None:
    kiosk = make_kiosk("standard")
    touch(kiosk, "mode_toggle")
    assert kiosk.ctx.profile.name == "elder"
    touch(kiosk, "choice_bookings")
    touch_digits(kiosk, valid_id()[:6])
    touch(kiosk, "nav_home")  # something typed: the visit ends, and its mode with it
    assert not kiosk.ctx.visit.has_personal()
    assert kiosk.ctx.profile.name == "standard"


def test_choosing_without_typing_keeps_the_mode(make_kiosk: Any) -> None:
    """Nothing personal yet (a service looked at): home is only home, the resident's mode stays."""
    kiosk = make_kiosk("standard")
    touch(kiosk, "mode_toggle")
    touch(kiosk, "choice_clinic")
    touch(kiosk, "nav_home")
    assert kiosk.ctx.profile.name == "elder"


def book(kiosk: Any) -> None:
    touch(kiosk, "choice_clinic")
    touch(kiosk, first_open_choice(kiosk))
    while kiosk.current.name in ("provider", "day", "time"):
        touch(kiosk, first_open_choice(kiosk))
    touch(kiosk, "choice_self")
    touch_digits(kiosk, valid_id())
    touch(kiosk, "choice_id_ok")
    past_phone(kiosk)
    touch(kiosk, "choice_confirm")
    assert kiosk.current.name == "done"


def test_something_else_to_do_keeps_the_resident_for_one_errand(make_kiosk: Any) -> None:
    kiosk = make_kiosk("standard")
    book(kiosk)
    assert "还要办别的事" in button(kiosk, "choice_more").text()
    touch(kiosk, "choice_more")
    assert kiosk.current.name == "home"
    visit = kiosk.ctx.visit
    assert visit.resident is not None and visit.resident.id_number == valid_id()
    assert visit.booking is None and visit.id_entry == ""  # the errand just done is forgotten
    touch(kiosk, "choice_bookings")
    assert kiosk.current.name == "booking_list"  # no ID asked again: the resident said they continue
    touch(kiosk, "nav_home")  # the next way home ends the visit
    assert kiosk.ctx.visit.resident is None
    touch(kiosk, "choice_bookings")
    assert kiosk.current.name == "consent"
    past_notice(kiosk)
    assert kiosk.current.name == "identify"
