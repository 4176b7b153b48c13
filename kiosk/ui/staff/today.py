"""Today's sessions with their bookings and check-ins; staff check people in from the list (details masked)."""

from __future__ import annotations

from functools import partial

from PySide6.QtWidgets import QVBoxLayout

from cunzhan.i18n import gettext as _
from cunzhan.models import Booking, BookingStatus
from kiosk.booking import BookingRefused
from kiosk.staff.desk import BookingLine, SessionDay
from kiosk.ui import widgets
from kiosk.ui.screen import Choice
from kiosk.ui.staff.base import StaffScreen
from kiosk.ui.words import time_words

CHECKABLE = {BookingStatus.CONFIRMED, BookingStatus.PENDING_REVIEW, BookingStatus.REQUESTED}


class StaffTodayScreen(StaffScreen):
    name = "staff_today"

    def __init__(self, window: object) -> None:
        super().__init__(window)  # type: ignore[arg-type]
        self.days: list[SessionDay] = []

    def title(self) -> str:
        return _("Today's sessions")

    def announcement(self) -> str:
        return _("Touch a session to see who booked it and check people in.")

    def load(self) -> None:
        self.days = self.state.desk.todays_sessions()

    def build_body(self, box: QVBoxLayout) -> None:
        if not self.days:
            box.addWidget(widgets.label(_("There are no sessions today."), kind="notice", name="no_sessions"))
        else:
            booked = sum(d.booked for d in self.days)
            arrived = sum(d.checked_in for d in self.days)
            box.addWidget(
                widgets.label(
                    _("{sessions} sessions today, {booked} booked, {arrived} checked in.").format(
                        sessions=len(self.days), booked=booked, arrived=arrived
                    ),
                    name="today_summary",
                )
            )

    def choices(self) -> list[Choice]:
        out = []
        for day in self.days:
            local = self.ctx.local(day.session.starts_at)
            label = f"{time_words(local)} {day.service_name}"
            detail = _("{provider} · {booked} booked of {capacity} · {arrived} checked in").format(
                provider=day.provider_name,
                booked=day.booked,
                capacity=day.session.capacity,
                arrived=day.checked_in,
            )
            out.append(
                Choice(f"session_{day.session.id[:8]}", label, partial(self._open, day), detail=detail)
            )
        return out

    def _open(self, day: SessionDay) -> None:
        self.state.session_id = day.session.id
        self.go("staff_session")


class StaffSessionScreen(StaffScreen):
    """The bookings of one session: code, masked name and ID, status; touching a booking checks the person in."""

    name = "staff_session"
    columns = 1
    per_page = 4  # one booking per row, two lines each: four fit on the panel in every profile

    def __init__(self, window: object) -> None:
        super().__init__(window)  # type: ignore[arg-type]
        self.lines: list[BookingLine] | None = []  # None while the session's bookings are being read

    def title(self) -> str:
        return _("Bookings for this session")

    def announcement(self) -> str:
        return _("Touch a booking to check the person in.")

    def load(self) -> None:
        self.lines = None
        self._read_lines()

    def _read_lines(self) -> None:
        """The session's bookings through `ctx.ops`: viewing them is audited (a write)."""
        session_id = self.state.session_id
        if not session_id:
            self.lines = []
            return
        desk = self.state.desk
        self.ctx.ops.write(
            lambda: desk.session_bookings(session_id), on_done=self._lines_read, on_error=self.fail
        )

    def _lines_read(self, lines: list[BookingLine]) -> None:
        self.lines = lines
        if self.win.current is self and self.isVisible():  # read after the screen was drawn: draw it again
            self.win.refresh()

    def build_body(self, box: QVBoxLayout) -> None:
        box.addWidget(  # the waiting room of this session: numbers, calls, the remote room (kiosk.ui.staff.room)
            widgets.button(
                _("Waiting room and calls"), name="open_room", on_click=lambda: self.go("staff_room")
            )
        )
        if self.lines == []:
            box.addWidget(
                widgets.label(_("Nobody has booked this session yet."), kind="notice", name="no_bookings")
            )

    def choices(self) -> list[Choice]:
        return [booking_choice(self, line) for line in self.lines or ()]

    def check_in(self, line: BookingLine) -> None:
        desk = self.state.desk
        self.ctx.ops.write(
            lambda: desk.check_in_for(line.booking.id), on_done=self._checked_in, on_error=self.refused
        )

    def _checked_in(self, booking: Booking) -> None:
        self._read_lines()  # the list stays on screen until it is read again
        self.show_message(_("Checked in: {code}.").format(code=booking.code), "ok", speak=False)

    def refused(self, exc: BaseException) -> None:
        if isinstance(exc, BookingRefused):
            self.show_message(exc.message(), speak=False)
        else:
            self.fail(exc)


def booking_choice(screen: StaffSessionScreen, line: BookingLine) -> Choice:
    """A booking as one big choice: checks in when it can, else says why not."""
    who = line.masked_name
    if line.for_dependent:
        who = _("{name} for their {relation}").format(name=who, relation=line.for_dependent)
    label = f"{line.code}  {who}  {line.masked_id}"
    extra = [line.status_label]
    if line.assisted:
        extra.append(_("booked by staff"))
    if line.booking.status in CHECKABLE:
        extra.append(_("touch to check in"))

        def action() -> None:
            screen.check_in(line)
    else:

        def action() -> None:
            screen.show_message(
                _("This booking cannot be checked in: {status}.").format(status=line.status_label),
                "notice",
                speak=False,
            )

    return Choice(f"booking_{line.booking.code}", label, action, detail=" · ".join(extra))
