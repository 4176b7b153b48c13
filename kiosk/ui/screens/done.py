"""Book, done: the booking code in very large digits, the true status, where and when to come, what to bring."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from cunzhan.codes import format_code
from cunzhan.i18n import gettext as _
from cunzhan.i18n import sentences
from cunzhan.models import Booking, BookingStatus
from kiosk.ui import widgets
from kiosk.ui.screen import Choice, Screen
from kiosk.ui.screens.confirm import session_words


def status_words(booking: Booking) -> str:
    """The booking's status told truthfully: confirmed only when a seat is really held."""
    if booking.status is BookingStatus.CONFIRMED:
        return _("Your place is booked and confirmed.")
    if booking.status in (BookingStatus.REQUESTED, BookingStatus.PENDING_REVIEW):
        return _(
            "Your request is saved. The township still has to confirm it; "
            "look in My bookings or ask the staff before you come."
        )
    if booking.status is BookingStatus.WAITLISTED:
        return _("You are on the waiting list. We will tell you if a place becomes free.")
    return booking.status.label()


def code_words(code: str) -> str:
    """The code as it is read aloud: group by group, digit by digit."""
    return _(", ").join(" ".join(group) for group in format_code(code).split("-"))


class DoneScreen(Screen):
    name = "done"
    show_back = False  # the booking is written: going back would only invite booking it twice

    def title(self) -> str:
        booking = self.visit.booking
        if booking is not None and booking.status is BookingStatus.CONFIRMED:
            return _("Booked!")
        return _("Request saved")

    def announcement(self) -> str:
        """The key facts first — number, time, place — then (after the choices) the rest and the number again."""
        booking = self.visit.booking
        if booking is None:
            return ""
        return sentences(
            _("Your booking number is {code}.").format(code=code_words(booking.code)), self.when_where()
        )

    def when_where(self) -> str:
        booking = self.visit.booking
        session = self.ctx.store.session(booking.session_id) if booking else None
        if session is None:
            return ""
        return _("Please come {when} to {where}.").format(**session_words(self, session))

    def closing(self) -> str:
        booking = self.visit.booking
        if booking is None:
            return ""
        session = self.ctx.store.session(booking.session_id)
        bring = session_words(self, session)["bring"] if session is not None else ""
        return sentences(
            status_words(booking),
            _("Please bring: {bring}.").format(bring=bring) if bring else "",
            _("Once more, your booking number is {code}.").format(code=code_words(booking.code)),
        )

    def where_when(self) -> str:
        booking = self.visit.booking
        session = self.ctx.store.session(booking.session_id) if booking else None
        if session is None:
            return ""
        w = session_words(self, session)
        text = _("Please come {when} to {where}: {service}, {provider}.").format(**w)
        if w["bring"]:
            text = sentences(text, _("Please bring: {bring}.").format(bring=w["bring"]))
        return text

    def build_body(self, box: QVBoxLayout) -> None:
        booking = self.visit.booking
        if booking is None:
            return
        code = widgets.label(format_code(booking.code), kind="code", name="booking_code")
        code.setAlignment(Qt.AlignmentFlag.AlignCenter)
        code.setAccessibleName(_("Booking number {code}").format(code=code_words(booking.code)))
        box.addWidget(code)

    def side_panel(self) -> QWidget | None:
        """The status, where, when and what to bring, beside the code (the biggest profiles still fit)."""
        booking = self.visit.booking
        if booking is None:
            return None
        panel = QWidget()
        column = QVBoxLayout(panel)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(self.theme.gap_px)
        kind = "ok" if booking.status is BookingStatus.CONFIRMED else "notice"
        column.addWidget(widgets.label(status_words(booking), kind=kind, name="booking_status"))
        column.addWidget(widgets.label(self.where_when(), name="where_when"))
        column.addStretch(1)
        return panel

    def choices(self) -> list[Choice]:
        return [
            Choice("slip", _("Print the slip"), lambda: self.go("slip"), phrases=("打印", "预约单")),
            Choice(
                "finish",
                _("Finish"),
                self.win.end_visit,
                kind="secondary",
                detail=_("Back to the start"),
                phrases=("完成", "好了"),
            ),
            Choice(
                "more",
                _("Something else to do?"),
                self.win.continue_visit,
                kind="secondary",
                detail=_("Without typing your ID number again"),
                phrases=("还要办别的事", "别的事"),
            ),
        ]
