"""A walk through every screen of the resident's journey with the demo township, for screenshots, the accessibility
audit and the screen-transition benchmark.

`tour(window)` drives a window (built on a store holding the demo catalogue, with a synchronous op runner) the way a
resident would — service, provider, day, a full time and its alternatives, who, a grandchild, the ID number, remember my mode, a phone for reminders, confirm,
done, slip, my bookings, cancel, check-in, feedback and a spoken comment, suggestions, the idle warning — and yields a name after each
screen is drawn. Every step goes through the screens' own actions, so the data written is real.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING

from cunzhan import demo
from cunzhan.identity import id_check_character
from cunzhan.models import BookingStatus, ServiceKind

if TYPE_CHECKING:
    from kiosk.ui.window import KioskWindow

DEMO_ID_BODY = "33010219480307123"  # a made-up resident born in 1948 (valid check character added below)
DEMO_ID = DEMO_ID_BODY + id_check_character(DEMO_ID_BODY)
CHRONIC = demo.stable_id("service", "chronic")
DEMO_PHONE = "13800138000"  # a made-up mobile number (masked on screen)
DEMO_COMMENT = (
    "医生讲得很清楚，就是等得有点久，下次希望早一点开始。"  # a comment as the resident might say it
)


def tour(window: KioskWindow) -> Iterator[str]:  # noqa: PLR0915 - one step per screen of the journey
    """Show every screen in turn; yields the screenshot name of each (`home`, `service`, …)."""
    from kiosk.ui.screens.confirm import ConfirmScreen
    from kiosk.ui.screens.day import upcoming_sessions
    from kiosk.ui.screens.for_you import ForYouScreen
    from kiosk.ui.screens.identify import IdentifyScreen
    from kiosk.ui.screens.phone import PhoneNumberScreen, PhoneScreen
    from kiosk.ui.screens.timeslot import TimeScreen

    ctx = window.ctx
    store = ctx.store
    window.end_visit()
    yield "home"
    window.show_screen("modes")
    yield "modes"
    window.go_home()

    visit = ctx.visit
    visit.kind = ServiceKind.CLINIC
    window.show_screen("service")
    yield "service"
    visit.service_id = CHRONIC
    window.show_screen("provider")
    yield "provider"
    window.show_screen("day")
    yield "day"
    sessions = [s for s in upcoming_sessions(window.screen_named("day")) if s.bookable]
    full, chosen = sessions[0], sessions[1]
    store.set_seats_left(full.id, 0)  # another kiosk took the last place of the first time
    visit.day = ctx.local(full.starts_at).date()
    time_screen = window.show_screen("time")
    yield "time"
    assert isinstance(time_screen, TimeScreen)
    time_screen.offer_alternatives(store.session(full.id) or full)
    yield "time_alternatives"
    visit.alternatives = ()
    visit.session_id = chosen.id
    visit.day = ctx.local(chosen.starts_at).date()
    window.show_screen("who")
    yield "who"
    visit.for_dependent = True
    window.show_screen("relation")
    yield "relation"
    visit.relation = "Grandson"
    visit.birth_year = "2016"
    window.show_screen("birth_year")
    yield "birth_year"
    visit.for_dependent = False
    window.show_screen("consent")  # the personal-data notice, before the ID number
    yield "consent"
    visit.consent_at = ctx.now()
    visit.id_entry = DEMO_ID
    identify = window.show_screen("identify")
    yield "identify"
    assert isinstance(identify, IdentifyScreen)
    identify.submit()
    window.show_screen(
        "remember"
    )  # 「下次自动用…吗？」, asked after identify of a resident in a mode of their own
    yield "remember"
    window.back()
    phone = window.current
    assert isinstance(phone, PhoneScreen)
    yield "phone"  # 「留个手机号，好给您发短信提醒吗？」
    phone.choices()[0].action()  # 本人的号码
    visit.phone_entry = DEMO_PHONE
    number = window.current
    assert isinstance(number, PhoneNumberScreen)
    window.refresh()
    yield "phone_number"
    number.submit()
    yield "confirm"
    confirm = window.current
    assert isinstance(confirm, ConfirmScreen)
    confirm.confirm()
    yield "done"
    window.show_screen("slip")
    yield "slip"
    booking = visit.booking
    assert booking is not None

    visit.purpose = "bookings"
    window.show_screen("booking_list")
    yield "booking_list"
    visit.booking = booking
    window.show_screen("booking_detail")
    yield "booking_detail"
    window.show_screen("cancel")
    yield "cancel"

    window.show_screen("check_in")
    yield "check_in"
    visit.code_entry = booking.code
    code_screen = window.show_screen("check_in_code")
    yield "check_in_code"
    session = store.session(booking.session_id)
    assert session is not None
    real_clock = ctx.clock
    at = session.starts_at - dt.timedelta(minutes=20)  # on the day, shortly before the session
    ctx.clock = lambda: at
    try:
        code_screen.on_confirm()
        yield "checked_in"
        window.show_screen("feedback")
        yield "feedback"
        visit.rating = 4
        window.refresh()
        yield "feedback_reasons"
        visit.comment_heard = DEMO_COMMENT  # as if just said and recognised (screens/comment)
        comment = window.show_screen("comment")
        yield "comment"
        comment.choices()[0].action()  # 保留: back to the rating, the comment shown with it
        yield "feedback_comment"
    finally:
        ctx.clock = real_clock
    visit.rating = 0
    visit.comment = ""
    with (
        store.transaction() as conn
    ):  # the session is over: the resident attended, and comes back another day
        store.set_booking_status(conn, booking.id, BookingStatus.ATTENDED)
    visit.rating_invited = booking.id
    window.show_screen("rate_invite")
    yield "rate_invite"

    visit.purpose = "for_you"
    for_you = window.show_screen("for_you")
    yield "for_you_consent"
    assert isinstance(for_you, ForYouScreen)
    for_you.choices()[0].action()  # the resident agrees
    yield "for_you"

    window.idle.warn()
    yield "idle_warning"
    window.idle.more_time()
    window.show_screen("exit_pin")
    yield "exit_pin"
    window.end_visit()
