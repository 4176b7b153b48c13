"""Rating at the next visit (#16): a resident who attended a session and has not rated it is invited, the next time
they identify at any kiosk of the township, to rate it with one tap — the feedback screen's faces; 「不用了」
dismisses it. Asked once per booking, whatever the answer; then the journey goes on as it would have.

A booking made at this kiosk is found here (`bookings.rating_asked` keeps the once). One made at another kiosk is
known only to the township: when none is found here, the kiosk asks it in the background while the identify screen
stays (`kiosk.sync.ratings.ask_elsewhere`, only when the last sync reached the township; a few seconds at most), and
the township keeps the once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QVBoxLayout

from cunzhan.i18n import gettext as _
from cunzhan.i18n import sentences
from cunzhan.models import Booking
from kiosk.ui import widgets
from kiosk.ui.screen import Choice, Screen
from kiosk.ui.screens.feedback import FeedbackScreen
from kiosk.ui.words import when_words

if TYPE_CHECKING:
    from kiosk.sync.ratings import Elsewhere


def invite_to_rate(screen: Screen) -> bool:
    """Show the invitation when the identified resident has an attended booking to rate (once per visit), or start
    asking the township about one booked elsewhere; True when either continues the journey."""
    visit = screen.visit
    if visit.resident is None or visit.rating_invited:
        return False
    booking = screen.ctx.store.booking_to_rate(visit.resident.id)
    if booking is None:
        return _ask_elsewhere(screen)
    visit.rating_invited = booking.id
    screen.go("rate_invite")
    return True


def _ask_elsewhere(screen: Screen) -> bool:
    """Ask the township in the background (once per visit); its answer shows the invitation or goes on."""
    from kiosk.practice import is_practice_store
    from kiosk.sync.ratings import ask_elsewhere, may_ask

    visit, ctx = screen.visit, screen.ctx
    number = visit.resident.id_number if visit.resident else ""
    if visit.asked_elsewhere or not number or is_practice_store(ctx.store) or not may_ask(ctx.store):
        return False
    visit.asked_elsewhere = True
    store = ctx.store

    def answered(found: Elsewhere | None) -> None:
        if screen.visit is not visit or screen.win.current is not screen:
            return  # the resident walked away, or went on by themselves
        if found is not None:
            visit.rating_elsewhere = found
            visit.rating_invited = found.booking_id
            screen.go("rate_invite")
            return
        from kiosk.ui.screens.identify import next_after_identify

        next_after_identify(screen)

    ctx.ops.run(lambda: ask_elsewhere(store, number), on_done=answered, on_error=lambda _exc: answered(None))
    return True


class RateInviteScreen(FeedbackScreen):
    """The feedback faces for the last attended booking: one tap rates it and the journey goes on."""

    name = "rate_invite"

    def _booking(self) -> Booking | None:
        return self.ctx.store.booking(self.visit.rating_invited)

    def title(self) -> str:
        return _("How was your last session?")

    def announcement(self) -> str:
        """Which session first (a resident who cannot see the screen must know what they rate), then how."""
        rated = self._rated_words()
        return sentences(
            *([rated + _(".")] if rated else []), _("One touch on a face tells us, or touch Not now.")
        )

    def _rated_words(self) -> str:
        """「慢病随访，12月2日 星期三 上午 9:00」: the service and when, for the screen and the announcement."""
        elsewhere = self.visit.rating_elsewhere
        if elsewhere is not None:
            when = when_words(self.ctx.local(elsewhere.starts_at), self.ctx.today())
            return _("{service}, {when}").format(service=elsewhere.service, when=when)
        booking = self._booking()
        session = self.ctx.store.session(booking.session_id) if booking else None
        if session is None:
            return ""
        from kiosk.ui.screens.confirm import session_words

        words = session_words(self, session)
        return _("{service}, {when}").format(service=words["service"], when=words["when"])

    def on_enter(self) -> None:
        store, booking_id = self.ctx.store, self.visit.rating_invited
        if booking_id:  # asked once, whatever the answer
            self.ctx.ops.write(lambda: store.mark_rating_asked(booking_id), on_done=lambda _done: None)

    def build_body(self, box: QVBoxLayout) -> None:
        rated = self._rated_words()
        if rated:
            box.addWidget(widgets.label(rated, kind="notice", name="rated"))
        super().build_body(box)

    def choices(self) -> list[Choice]:
        """「不用了」, and 「说一句意见」 before the face (the face's one tap then sends both)."""
        return [
            *self.comment_choice(),
            Choice("rate_later", _("Not now"), self._go_on, kind="secondary", phrases=("不用", "以后再说")),
        ]

    def _rate(self, value: int) -> None:
        """One tap: the rating is sent (as the feedback screen sends it) and the journey goes on."""
        bookings, elsewhere = self.ctx.bookings, self.visit.rating_elsewhere
        comment = self.visit.comment or None
        if elsewhere is not None:
            self.ctx.ops.write(
                lambda: bookings.rate_elsewhere(elsewhere.booking_id, value, comment=comment),
                on_done=self._rated,
                on_error=self._failed,
            )
            return
        booking = self._booking()
        if booking is None:
            self._go_on()
            return
        self.ctx.ops.write(
            lambda: bookings.rate(booking.id, value, comment=comment),
            on_done=self._rated,
            on_error=self._failed,
        )

    def _rated(self, _feedback: object) -> None:
        self._go_on()
        shown = self.win.current
        if shown is not None and not shown.message:
            shown.show_message(_("Thank you for telling us."), "ok")

    def _go_on(self) -> None:
        from kiosk.ui.screens.identify import next_after_identify

        self.visit.rating = 0
        self.visit.comment = ""
        self.win.navigation.clear_history()  # 返回 from the next screen does not come back here
        next_after_identify(self)
