"""The personal-data notice before the ID number (PIPL): shown and read out in one sentence; 返回 goes back with
nothing typed or kept; 同意 goes on to the ID number and the moment travels with the booking to the township; asked
again in the next visit."""

from __future__ import annotations

from typing import Any

from cunzhan import demo
from tests.ui.conftest import valid_id
from tests.ui.helpers import first_open_choice, past_phone, shown_text, touch, touch_digits

GP = demo.stable_id("service", "gp")


def _to_who(kiosk: Any) -> None:
    touch(kiosk, "choice_clinic")
    touch(kiosk, f"choice_{GP}")
    touch(kiosk, first_open_choice(kiosk))
    touch(kiosk, first_open_choice(kiosk))
    assert kiosk.current.name == "who"


def test_the_notice_comes_before_the_id_number_and_goes_with_the_booking(
    make_kiosk: Any, demo_store: Any
) -> None:
    kiosk = make_kiosk("elder")  # a speaking profile: the notice is read out as well as shown
    _to_who(kiosk)
    touch(kiosk, "choice_self")
    assert kiosk.current.name == "consent"
    notice = shown_text(kiosk, "consent_notice")
    assert "身份证号" in notice and "工作人员" in notice and "24" in notice  # what, who sees it, how long
    assert notice in " ".join(kiosk.ctx.speech.said)  # and read out
    touch(kiosk, "choice_consent_back")
    assert (
        kiosk.current.name == "who" and kiosk.ctx.visit.consent_at is None and kiosk.ctx.visit.id_entry == ""
    )
    touch(kiosk, "choice_self")
    assert kiosk.current.name == "consent"
    touch(kiosk, "choice_consent_agree")
    assert kiosk.current.name == "identify" and kiosk.ctx.visit.consent_at is not None
    touch_digits(kiosk, valid_id())
    touch(kiosk, "choice_id_ok")
    past_phone(kiosk)
    touch(kiosk, "choice_confirm")
    assert kiosk.current.name == "done"
    payload = demo_store.pending_ops()[0]["payload"]
    assert payload["consent"]["notice"] == "2026-12" and payload["consent"]["at"]
    touch(kiosk, "choice_more")  # 还要办别的事: the same visit, the notice already answered
    assert kiosk.ctx.visit.consent_at is not None
    kiosk.end_visit()  # the next resident is asked again
    touch(kiosk, "choice_bookings")
    assert kiosk.current.name == "consent"
