"""Remember my mode: a resident who switched to 长辈模式 is asked once after identifying; 是 keeps it with them, the
next visit switches to it as soon as they identify, 「不再记住我的模式」 clears it; standard residents are never asked."""

from __future__ import annotations

from typing import Any

from kiosk.ui.screens.remember import RememberScreen
from tests.ui.conftest import valid_id
from tests.ui.helpers import button, past_notice, shown_text, touch, touch_digits

NUMBER = valid_id()


def identify(kiosk: Any, number: str = NUMBER) -> None:
    """From home: 我的预约, the ID number on the keypad, 下一步."""
    touch(kiosk, "choice_bookings")
    past_notice(kiosk)
    assert kiosk.current.name == "identify"
    touch_digits(kiosk, number)
    touch(kiosk, "choice_id_ok")


def remembered_in_store(store: Any, number: str = NUMBER) -> str | None:
    found = store.find_resident(number)
    return None if found is None else found.remembered_profile


def test_elder_resident_opts_in_and_it_is_stored(make_kiosk: Any, demo_store: Any) -> None:
    kiosk = make_kiosk("standard")
    touch(kiosk, "mode_toggle")  # 长辈模式 in one touch, this visit only
    assert kiosk.ctx.profile.name == "elder"
    identify(kiosk)
    assert kiosk.current.name == "remember"
    assert "长辈模式" in kiosk.title_label.text()
    assert len(kiosk.current.visible_choices()) == 2 <= kiosk.ctx.profile.max_choices
    assert remembered_in_store(demo_store) is None  # nothing kept before they say yes
    touch(kiosk, "choice_remember_yes")
    assert kiosk.current.name == "booking_list"  # carries on with what they came for
    assert remembered_in_store(demo_store) == "elder"
    assert kiosk.ctx.visit.resident is not None and kiosk.ctx.visit.resident.remembered_profile == "elder"
    assert "长辈模式" in shown_text(kiosk, "message")


def test_declining_stores_nothing_and_is_asked_once_per_visit(make_kiosk: Any, demo_store: Any) -> None:
    kiosk = make_kiosk("standard")
    touch(kiosk, "mode_toggle")
    identify(kiosk)
    touch(kiosk, "choice_remember_no")
    assert kiosk.current.name == "booking_list"
    assert remembered_in_store(demo_store) is None
    kiosk.continue_visit()  # 「还要办别的事」: same visit; identify again, no second question
    kiosk.ctx.visit.resident = None
    identify(kiosk)
    assert kiosk.current.name == "booking_list"


def test_next_visit_applies_the_remembered_profile(make_kiosk: Any, demo_store: Any) -> None:
    kiosk = make_kiosk("standard")
    touch(kiosk, "mode_toggle")
    identify(kiosk)
    touch(kiosk, "choice_remember_yes")
    kiosk.end_visit()
    assert kiosk.ctx.profile.name == "standard"  # the kiosk default is back after the visit
    speech = kiosk.ctx.speech
    said_before = len(speech.said)
    identify(kiosk)
    assert kiosk.current.name == "booking_list"  # no question: the mode is already remembered
    assert kiosk.ctx.profile.name == "elder"
    assert kiosk.theme.profile.name == "elder"  # restyled: sizes follow the profile
    message = shown_text(kiosk, "message")
    assert "长辈模式" in message
    assert any("长辈模式" in text for text in speech.said[said_before:])  # said, too, in the speaking profile
    kiosk.end_visit()
    assert kiosk.ctx.profile.name == "standard"


def test_opt_out_on_the_modes_screen_clears_it(make_kiosk: Any, demo_store: Any) -> None:
    kiosk = make_kiosk("standard")
    touch(kiosk, "mode_toggle")
    identify(kiosk)
    touch(kiosk, "choice_remember_yes")
    touch(kiosk, "modes")
    assert kiosk.current.name == "modes"
    assert button(kiosk, "choice_forget_mode").text()
    touch(kiosk, "choice_forget_mode")
    assert remembered_in_store(demo_store) is None
    assert kiosk.ctx.profile.name == "elder"  # this visit's mode stays until the visit ends
    assert "forget_mode" not in [c.key for c in kiosk.current.visible_choices()]
    kiosk.end_visit()
    identify(kiosk)
    assert kiosk.ctx.profile.name == "standard"  # nothing applied any more


def test_standard_residents_are_never_asked(make_kiosk: Any, demo_store: Any) -> None:
    kiosk = make_kiosk("standard")
    identify(kiosk)
    assert kiosk.current.name == "booking_list"
    assert remembered_in_store(demo_store) is None


def test_kiosk_default_elder_is_not_a_personal_choice(make_kiosk: Any, demo_store: Any) -> None:
    """A kiosk whose staff set 长辈模式 as the default does not ask: the resident chose nothing."""
    kiosk = make_kiosk("elder")
    identify(kiosk)
    assert kiosk.current.name == "booking_list"
    assert not isinstance(kiosk.current, RememberScreen)
