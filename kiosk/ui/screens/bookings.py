"""My bookings: the identified resident's bookings with their true status (as the last sync left it) and messages;
a booking's details; cancel (after a confirmation); move to another time of the same service."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from cunzhan.codes import format_code
from cunzhan.i18n import gettext as _
from cunzhan.i18n import sentences
from cunzhan.models import Booking, BookingStatus
from kiosk.booking import BookingRefused
from kiosk.ui import widgets
from kiosk.ui.screen import Choice, Screen
from kiosk.ui.screens.confirm import SAVE_FAILED, session_words
from kiosk.ui.screens.done import status_words

CHANGEABLE = (
    BookingStatus.REQUESTED,
    BookingStatus.PENDING_REVIEW,
    BookingStatus.CONFIRMED,
    BookingStatus.WAITLISTED,
)


def booking_line(screen: Screen, booking: Booking) -> tuple[str, str]:
    """(service and time, status and message) of a booking."""
    session = screen.ctx.store.session(booking.session_id)
    if session is None:
        return _("Booking {code}").format(code=format_code(booking.code)), booking.status.label()
    w = session_words(screen, session)
    detail = booking.status.label()
    if booking.message:
        detail += _(": ") + booking.message
    if booking.dependent_id:
        dependent = screen.ctx.store.dependent(booking.dependent_id)
        if dependent is not None:
            detail += _(" (for your {relation})").format(relation=dependent.relation)
    return f"{w['service']}\n{w['when']}", detail


class BookingListScreen(Screen):
    name = "booking_list"
    columns = 1

    def title(self) -> str:
        return _("My bookings")

    def announcement(self) -> str:
        if not self._bookings():
            return _("You have no bookings on this kiosk yet.")
        return _("Touch a booking to see it, change it or cancel it.")

    def _bookings(self) -> list[Booking]:
        resident = self.visit.resident
        if resident is None:
            return []
        found = self.ctx.store.bookings_for_resident(resident.id)
        # Bookings still to come first (soonest first), then the rest (most recent first).
        active = [b for b in found if b.status.active]
        active.reverse()
        return active + [b for b in found if not b.status.active]

    def choices(self) -> list[Choice]:
        result = []
        for booking in self._bookings():
            label, detail = booking_line(self, booking)
            result.append(
                Choice(
                    booking.code,
                    label,
                    partial(self._open, booking),
                    detail=detail,
                    kind="primary" if booking.status.active else "secondary",
                )
            )
        result.append(
            Choice(
                "for_you",
                _("Suggestions for you"),
                self._for_you,
                kind="secondary",
                detail=_("From your own bookings, only if you agree"),
            )
        )
        return result

    def _open(self, booking: Booking) -> None:
        self.visit.booking = booking
        self.go("booking_detail")

    def _for_you(self) -> None:
        self.visit.purpose = "for_you"
        self.go("for_you")


class BookingDetailScreen(Screen):
    name = "booking_detail"

    def title(self) -> str:
        return _("Your booking")

    def on_enter(self) -> None:
        booking = self.visit.booking
        if booking is not None:  # the sync engine may have changed it since the list was drawn
            self.visit.booking = self.ctx.store.booking(booking.id) or booking

    def announcement(self) -> str:
        return self.summary()

    def status(self) -> str:
        """The true status, and the township's message when there is one (e.g. moved by the township)."""
        booking = self.visit.booking
        if booking is None:
            return ""
        return sentences(status_words(booking), booking.message)

    def facts(self) -> str:
        """One fact a line: number, what, with whom, when, where."""
        booking = self.visit.booking
        if booking is None:
            return ""
        lines = [_("Booking number: {code}").format(code=format_code(booking.code))]
        session = self.ctx.store.session(booking.session_id)
        if session is not None:
            w = session_words(self, session)
            lines += [
                _("What: {service}").format(**w),
                _("With: {provider}").format(**w),
                _("When: {when}").format(**w),
                _("Where: {where}").format(**w),
            ]
        return "\n".join(lines)

    def summary(self) -> str:
        return sentences(self.status(), *(line + _(".") for line in self.facts().split("\n")))

    def build_body(self, box: QVBoxLayout) -> None:
        booking = self.visit.booking
        kind = "ok" if booking is not None and booking.status is BookingStatus.CONFIRMED else "notice"
        box.addWidget(widgets.label(self.status(), kind=kind, name="booking_status"))

    def side_panel(self) -> QWidget | None:
        """The booking's facts beside the status and choices (the biggest profiles still fit one screen)."""
        if self.visit.booking is None:
            return None
        facts = widgets.label(self.facts(), name="booking_summary")
        facts.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        return facts

    def choices(self) -> list[Choice]:
        booking = self.visit.booking
        if booking is None:
            return []
        result = []
        if booking.status in CHANGEABLE:
            result.append(Choice("reschedule", _("Change the time"), self._reschedule, phrases=("改时间",)))
            result.append(
                Choice(
                    "cancel",
                    _("Cancel this booking"),
                    lambda: self.go("cancel"),
                    kind="secondary",
                    phrases=("取消",),
                )
            )
        if booking.status in (BookingStatus.CHECKED_IN, BookingStatus.ATTENDED):
            result.append(
                Choice("feedback", _("Tell us how it went"), lambda: self.go("feedback"), phrases=("评价",))
            )
        if booking.status.active:
            result.append(Choice("slip", _("Show the slip"), lambda: self.go("slip"), kind="secondary"))
        return result

    def _reschedule(self) -> None:
        booking = self.visit.booking
        session = self.ctx.store.session(booking.session_id) if booking else None
        if booking is None or session is None:
            return
        visit = self.visit
        visit.reschedule_of = booking.id
        visit.service_id = session.service_id
        visit.provider_id = None
        visit.day = None
        visit.session_id = None
        visit.alternatives = ()
        self.go("day")


class CancelScreen(Screen):
    name = "cancel"
    safe_choice = "cancel_no"  # focus (and Enter, and key 1) starts on keeping the booking

    def title(self) -> str:
        return _("Cancel this booking?")

    def announcement(self) -> str:
        return _("Do you really want to cancel it? Your place will go to someone else.")

    def build_body(self, box: QVBoxLayout) -> None:
        booking = self.visit.booking
        if booking is not None:
            label, _detail = booking_line(self, booking)
            box.addWidget(widgets.label(label.replace("\n", _(", ")), kind="notice", name="cancel_what"))

    def choices(self) -> list[Choice]:
        return [
            Choice("cancel_no", _("No, keep it"), self.win.back, kind="secondary", phrases=("否", "不")),
            Choice("cancel_yes", _("Yes, cancel it"), self.cancel, phrases=("是", "取消")),
        ]

    def cancel(self) -> None:
        booking = self.visit.booking
        if booking is None:
            return
        bookings, now, booking_id = self.ctx.bookings, self.ctx.now(), booking.id
        self.ctx.ops.write(
            lambda: bookings.cancel(booking_id, now=now), on_done=self._cancelled, on_error=self._refused
        )

    def _cancelled(self, booking: Booking) -> None:
        self.visit.booking = booking
        listing = self.win.back_to("booking_list", announce=False)
        listing.show_message(_("Your booking is cancelled."), "ok")

    def _refused(self, exc: BaseException) -> None:
        if isinstance(exc, BookingRefused):
            self.show_message(exc.message())
        else:
            self.show_message(_(SAVE_FAILED))
