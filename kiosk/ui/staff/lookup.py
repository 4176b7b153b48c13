"""Find a resident by ID number or booking code: masked details and their bookings. Touching a booking opens it:
check in, or cancel it (asked twice). Staff may cancel any active booking that has not started, also inside the
residents' cancellation window (`kiosk.staff.StaffDesk.cancel_for` explains why); each cancel is audited."""

from __future__ import annotations

from functools import partial

from PySide6.QtWidgets import QVBoxLayout, QWidget

from cunzhan.codes import format_code
from cunzhan.i18n import gettext as _
from cunzhan.models import Booking, BookingStatus
from kiosk.booking import BookingRefused
from kiosk.staff.accounts import StaffError
from kiosk.staff.desk import BookingLine, Lookup
from kiosk.ui import widgets
from kiosk.ui.screen import Choice, typed
from kiosk.ui.staff.base import StaffScreen
from kiosk.ui.staff.today import CHECKABLE, StaffSessionScreen
from kiosk.ui.words import when_words

CANCELLABLE = {
    BookingStatus.REQUESTED,
    BookingStatus.PENDING_REVIEW,
    BookingStatus.CONFIRMED,
    BookingStatus.WAITLISTED,
}

ID_LENGTH = 18
CODE_MAX = 12


def grouped_id(entry: str) -> str:
    """`330102194001010011` → `330102 19400101 0011` (6-8-4, as it is read back)."""
    return " ".join(part for part in (entry[:6], entry[6:14], entry[14:]) if part)


class StaffLookupScreen(StaffSessionScreen):
    """Type an ID number (or a booking code) on the keypad, touch Search; the result is masked."""

    name = "staff_lookup"
    columns = 1
    per_page = 4  # one booking per row, two lines each: four fit on the panel in every profile

    def __init__(self, window: object) -> None:
        super().__init__(window)
        self.busy = False  # a look-up is being written (audited): a second Search waits for it

    def title(self) -> str:
        return _("Find a resident")

    def announcement(self) -> str:
        if self.state.lookup_mode == "code":
            return _("Type the booking code from the slip, then touch Search.")
        return _("Type the resident's ID number, then touch Search.")

    def load(self) -> None:
        found = self.state.lookup
        self.lines = list(found.bookings) if found else []

    def build_body(self, box: QVBoxLayout) -> None:
        state = self.state
        entry = state.lookup_entry
        if state.lookup_mode == "code":
            shown = format_code(entry) if len(entry) >= 4 else entry
            what = _("Booking code")
        else:
            shown = grouped_id(entry)
            what = _("ID number")
        found: Lookup | None = state.lookup
        if found is None:
            box.addWidget(widgets.label(what, name="lookup_what"))
            box.addWidget(widgets.label(shown or _("(nothing entered)"), kind="code", name="lookup_entry"))
        else:
            parts = [found.masked_name, found.masked_id]
            if found.masked_phone:
                parts.append(found.masked_phone)
            box.addWidget(
                widgets.label(
                    _("Found: {who}. {n} bookings.").format(who="  ".join(parts), n=len(found.bookings)),
                    kind="ok",
                    name="lookup_result",
                )
            )

    def side_panel(self) -> QWidget | None:
        # While typing: the keypad beside the number and the choices (in one column they overflow the panel).
        if self.state.lookup is not None:
            return None
        return self.kept_keypad(on_key=self._key, with_x=self.state.lookup_mode == "id")

    def choices(self) -> list[Choice]:
        state = self.state
        if state.lookup is not None:
            return [
                Choice("new_search", _("New search"), self.new_search, kind="secondary"),
                *(self._booking_choice(line) for line in self.lines or ()),
            ]
        other = _("Search by booking code") if state.lookup_mode == "id" else _("Search by ID number")
        return [
            Choice("search", _("Search"), self.search, kind="primary"),
            Choice("switch", other, self.switch_mode),
        ]

    def _booking_choice(self, line: BookingLine) -> Choice:
        who = line.masked_name
        if line.for_dependent:
            who = _("{name} for their {relation}").format(name=who, relation=line.for_dependent)
        when = when_words(self.ctx.local(line.starts_at), self.ctx.today()) if line.starts_at else ""
        extra = [x for x in (line.service_name, when, line.status_label) if x]
        if line.assisted:
            extra.append(_("booked by staff"))
        return Choice(
            f"booking_{line.booking.code}",
            f"{line.code}  {who}",
            partial(self._open, line),
            detail=" · ".join(extra),
        )

    def _open(self, line: BookingLine) -> None:
        self.state.selected = line
        self.state.confirm_cancel = False
        self.go("staff_booking")

    def _key(self, key: str) -> None:
        state = self.state
        limit = ID_LENGTH if state.lookup_mode == "id" else CODE_MAX
        allowed = "0123456789X" if state.lookup_mode == "id" else "0123456789"
        state.lookup_entry = typed(state.lookup_entry, key, limit, allowed=allowed)
        self.message = ""
        self.redraw()

    def keypad_digit(self, key: str) -> bool:
        if self.state.lookup is None:
            self._key(key)
            return True
        return False

    def keypad_backspace(self) -> bool:
        self._key("back")
        return True

    def on_confirm(self) -> bool:
        if self.state.lookup is None:
            self.search()
        return True

    def switch_mode(self) -> None:
        state = self.state
        state.lookup_mode = "code" if state.lookup_mode == "id" else "id"
        state.lookup_entry = ""
        self.message = ""
        self.win.refresh(announce=True)

    def new_search(self) -> None:
        self.state.lookup = None
        self.state.lookup_entry = ""
        self.lines = []
        self.message = ""
        self.win.refresh(announce=True)

    def search(self) -> None:
        """Look the resident up through `ctx.ops` (every look-up is audited: a write)."""
        if self.busy:
            return  # one touch is one look-up
        self.busy = True
        state = self.state
        desk = state.desk
        entry = state.lookup_entry
        if state.lookup_mode == "code":
            self.ctx.ops.write(
                lambda: desk.lookup_by_code(entry), on_done=self._found, on_error=self._not_searched
            )
        else:
            self.ctx.ops.write(
                lambda: desk.lookup_by_id(entry), on_done=self._found, on_error=self._not_searched
            )

    def _not_searched(self, exc: BaseException) -> None:
        self.busy = False
        if isinstance(exc, StaffError):
            self.show_message(exc.message(), speak=False)
        else:
            self.fail(exc)

    def _found(self, found: Lookup | None) -> None:
        self.busy = False
        state = self.state
        if found is None:
            self.show_message(_("Nobody was found. Check the number and try again."), "notice", speak=False)
            return
        state.lookup = found
        state.lookup_entry = ""  # the typed number is not kept once the resident is found
        self.load()
        self.win.refresh(announce=True)

    def _checked_in(self, booking: object) -> None:
        state = self.state
        found = state.lookup
        if found is not None:  # refresh the list from the store, as the look-up was
            state.lookup = state.desk.resident_bookings(found.resident_id)
        self.load()
        code = getattr(booking, "code", "")
        self.show_message(_("Checked in: {code}.").format(code=code), "ok", speak=False)


class StaffBookingScreen(StaffScreen):
    """One booking from the look-up: what it is, then Check in or Cancel (with a confirmation)."""

    name = "staff_booking"
    columns = 1

    def title(self) -> str:
        if self.state.confirm_cancel:
            return _("Cancel this booking?")
        return _("Booking")

    def announcement(self) -> str:
        if self.state.confirm_cancel:
            return _("Check with the resident. The place is given to someone else.")
        return _("Check the person in, or cancel the booking.")

    def _session_started(self, line: BookingLine) -> bool:
        return line.starts_at is not None and line.starts_at <= self.ctx.now()

    def _late(self, line: BookingLine) -> bool:
        """Inside the residents' cancellation window: staff may still cancel, and are told so."""
        rules = self.ctx.bookings.rules
        return line.starts_at is not None and line.starts_at - self.ctx.now() < rules.cancel_window

    def build_body(self, box: QVBoxLayout) -> None:
        line: BookingLine | None = self.state.selected
        if line is None:
            box.addWidget(
                widgets.label(
                    _("Find the resident first, then touch one of their bookings."),
                    kind="notice",
                    name="no_booking",
                )
            )
            return
        who = line.masked_name
        if line.for_dependent:
            who = _("{name} for their {relation}").format(name=who, relation=line.for_dependent)
        when = when_words(self.ctx.local(line.starts_at), self.ctx.today()) if line.starts_at else ""
        lines = [
            _("Booking code: {code}").format(code=line.code),
            _("For: {who}").format(who=who),
            _("Service: {name}").format(name=line.service_name),
            _("Time: {when}").format(when=when),
            _("Status: {status}").format(status=line.status_label),
        ]
        box.addWidget(widgets.label("\n".join(lines), name="booking_summary"))
        if self.state.confirm_cancel and self._late(line):
            box.addWidget(
                widgets.label(
                    _(
                        "This is less than {hours} hours before the start. Residents cannot cancel this late by "
                        "themselves; staff can."
                    ).format(hours=int(self.ctx.bookings.rules.cancel_window.total_seconds() // 3600)),
                    kind="notice",
                    name="cancel_late",
                )
            )

    def choices(self) -> list[Choice]:
        line: BookingLine | None = self.state.selected
        if line is None:
            return [
                Choice(
                    "lookup",
                    _("Find a resident"),
                    lambda: self.win.show_screen("staff_lookup", remember=False),
                )
            ]
        if self.state.confirm_cancel:
            return [
                Choice("cancel_yes", _("Yes, cancel this booking"), self.cancel, kind="primary"),
                Choice("cancel_no", _("No, keep it"), self.keep, kind="secondary"),
            ]
        out = []
        if line.booking.status in CHECKABLE:
            out.append(Choice("check_in", _("Check in"), self.check_in, kind="primary"))
        if line.booking.status in CANCELLABLE and not self._session_started(line):
            out.append(Choice("cancel", _("Cancel this booking"), self.ask_cancel, kind="secondary"))
        if not out:
            out.append(Choice("back_to_resident", _("Back to the resident"), self.back_to_resident))
        return out

    def ask_cancel(self) -> None:
        self.state.confirm_cancel = True
        self.message = ""
        self.win.refresh(announce=True)

    def keep(self) -> None:
        self.state.confirm_cancel = False
        self.win.refresh(announce=True)

    def back_to_resident(self) -> None:
        self.win.show_screen("staff_lookup", remember=False)

    def cancel(self) -> None:
        line: BookingLine | None = self.state.selected
        if line is None:
            return
        desk = self.state.desk
        self.ctx.ops.write(
            lambda: desk.cancel_for(line.booking.id), on_done=self._cancelled, on_error=self._refused
        )

    def check_in(self) -> None:
        line: BookingLine | None = self.state.selected
        if line is None:
            return
        desk = self.state.desk
        self.ctx.ops.write(
            lambda: desk.check_in_for(line.booking.id), on_done=self._checked_in, on_error=self._refused
        )

    def _refresh(self, booking: Booking) -> None:
        """Reload the resident's bookings (and this one) from the store after a change."""
        state = self.state
        found = state.lookup
        if found is not None:
            state.lookup = state.desk.resident_bookings(found.resident_id)
            if state.lookup is not None:
                state.selected = next(
                    (b for b in state.lookup.bookings if b.booking.id == booking.id), state.selected
                )
        state.confirm_cancel = False

    def _cancelled(self, booking: Booking) -> None:
        self._refresh(booking)
        self.show_message(
            _("Cancelled: {code}. The place is free for someone else.").format(
                code=format_code(booking.code)
            ),
            "ok",
            speak=False,
        )

    def _checked_in(self, booking: Booking) -> None:
        self._refresh(booking)
        self.show_message(_("Checked in: {code}.").format(code=format_code(booking.code)), "ok", speak=False)

    def _refused(self, exc: BaseException) -> None:
        self.state.confirm_cancel = False
        if isinstance(exc, BookingRefused):
            self.show_message(exc.message(), speak=False)
        else:
            self.fail(exc)
