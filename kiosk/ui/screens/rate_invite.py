"""Rating at the next visit (#16): a resident who attended a session booked at this kiosk and has not rated it is
invited, the next time they identify here, to rate it with one tap — the feedback screen's faces; 「不用了」 dismisses
it. Asked once per booking (`bookings.rating_asked`), whatever the answer; then the journey goes on as it would have.

Only bookings this kiosk knows are asked about: a kiosk holds its own bookings, not those made at other kiosks of
the township.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QVBoxLayout

from cunzhan.i18n import gettext as _
from cunzhan.models import Booking
from kiosk.ui import widgets
from kiosk.ui.screen import Choice, Screen
from kiosk.ui.screens.feedback import FeedbackScreen

if TYPE_CHECKING:
    pass


def invite_to_rate(screen: Screen) -> bool:
    """Show the invitation when the identified resident has an attended booking to rate (once per visit)."""
    visit = screen.visit
    if visit.resident is None or visit.rating_invited:
        return False
    booking = screen.ctx.store.booking_to_rate(visit.resident.id)
    if booking is None:
        return False
    visit.rating_invited = booking.id
    screen.go("rate_invite")
    return True


class RateInviteScreen(FeedbackScreen):
    """The feedback faces for the last attended booking: one tap rates it and the journey goes on."""

    name = "rate_invite"

    def _booking(self) -> Booking | None:
        return self.ctx.store.booking(self.visit.rating_invited)

    def title(self) -> str:
        return _("How was your last session?")

    def announcement(self) -> str:
        return _("One touch on a face tells us, or touch Not now.")

    def on_enter(self) -> None:
        store, booking_id = self.ctx.store, self.visit.rating_invited
        if booking_id:  # asked once, whatever the answer
            self.ctx.ops.write(lambda: store.mark_rating_asked(booking_id), on_done=lambda _done: None)

    def build_body(self, box: QVBoxLayout) -> None:
        booking = self._booking()
        session = self.ctx.store.session(booking.session_id) if booking else None
        if session is not None:
            from kiosk.ui.screens.confirm import session_words

            w = session_words(self, session)
            box.addWidget(
                widgets.label(
                    _("{service}, {when}").format(service=w["service"], when=w["when"]), name="rated"
                )
            )
        super().build_body(box)

    def choices(self) -> list[Choice]:
        return [
            Choice("rate_later", _("Not now"), self._go_on, kind="secondary", phrases=("不用", "以后再说"))
        ]

    def _rate(self, value: int) -> None:
        """One tap: the rating is sent (as the feedback screen sends it) and the journey goes on."""
        booking = self._booking()
        if booking is None:
            self._go_on()
            return
        bookings = self.ctx.bookings
        self.ctx.ops.write(
            lambda: bookings.rate(booking.id, value), on_done=self._rated, on_error=self._failed
        )

    def _rated(self, _feedback: object) -> None:
        self._go_on()
        shown = self.win.current
        if shown is not None and not shown.message:
            shown.show_message(_("Thank you for telling us."), "ok")

    def _go_on(self) -> None:
        from kiosk.ui.screens.identify import next_after_identify

        self.visit.rating = 0
        self.win.navigation.clear_history()  # 返回 from the next screen does not come back here
        next_after_identify(self)
