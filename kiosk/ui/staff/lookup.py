"""Find a resident by ID number or booking code: masked details and their bookings; check in from the list."""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout

from kiosk.codes import format_code
from kiosk.i18n import gettext as _
from kiosk.staff import Lookup, StaffError
from kiosk.ui import widgets
from kiosk.ui.screen import Choice
from kiosk.ui.staff.today import StaffSessionScreen, booking_choice

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
            box.addWidget(widgets.label(_("Found: {who}. {n} bookings.").format(
                who="  ".join(parts), n=len(found.bookings)), kind="ok", name="lookup_result"))
        if found is None:
            box.addWidget(widgets.Keypad(on_key=self._key, with_x=state.lookup_mode == "id",
                                         key_px=self.theme.target_px, gap_px=self.theme.gap_px))

    def choices(self) -> list[Choice]:
        state = self.state
        if state.lookup is not None:
            return [Choice("new_search", _("New search"), self.new_search, kind="secondary"),
                    *(booking_choice(self, line) for line in self.lines)]
        other = (_("Search by booking code") if state.lookup_mode == "id" else _("Search by ID number"))
        return [Choice("search", _("Search"), self.search, kind="primary"),
                Choice("switch", other, self.switch_mode)]

    def _key(self, key: str) -> None:
        state = self.state
        limit = ID_LENGTH if state.lookup_mode == "id" else CODE_MAX
        if key == "back":
            state.lookup_entry = state.lookup_entry[:-1]
        elif key == "clear":
            state.lookup_entry = ""
        elif len(state.lookup_entry) < limit and (key.isdigit() or (key == "X" and state.lookup_mode == "id")):
            state.lookup_entry += key
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
        state = self.state
        desk = state.desk
        entry = state.lookup_entry
        mode = state.lookup_mode
        try:
            found = desk.lookup_by_code(entry) if mode == "code" else desk.lookup_by_id(entry)
        except StaffError as exc:
            self.show_message(exc.message(), speak=False)
            return
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
