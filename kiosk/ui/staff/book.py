"""Assisted booking: a staff member books on a resident's behalf (recorded as `assisted`, with the staff number).

Service → time (open sessions of the next two weeks) → the resident (ID number on the keypad; name and phone only
for someone the kiosk does not know yet) → for a family member only: their name, relation and year of birth (the
booking is then the resident's, `for_dependent`, e.g. a grandchild's vaccination) → the personal-data notice (the
same sentence the resident's own screen shows, `kiosk.ui.screens.consent`): staff read it to the resident and answer
yes (the moment is sent with the booking as its `consent`, like a resident's own) or no (nothing is booked and the
resident's details are dropped); no booking is made without the yes → confirm → the booking code, with its true
status. The real booking rules run (`StaffDesk.book_for` → `Bookings.book`): full sessions, duplicates and closed
sessions are refused kindly.
"""

from __future__ import annotations

import datetime as dt
from functools import partial

from PySide6.QtWidgets import QVBoxLayout, QWidget

from cunzhan.codes import format_code
from cunzhan.i18n import N_
from cunzhan.i18n import gettext as _
from cunzhan.identity import check_id_number, check_phone, mask_id
from cunzhan.models import Booking, Resident, Session
from kiosk.booking import BookingRefused
from kiosk.staff.accounts import StaffError
from kiosk.staff.desk import mask_name
from kiosk.store import new_id
from kiosk.ui import widgets
from kiosk.ui.screen import Choice, typed
from kiosk.ui.screens.consent import notice_text
from kiosk.ui.screens.who import RELATIONS
from kiosk.ui.staff.base import StaffScreen
from kiosk.ui.staff.lookup import grouped_id
from kiosk.ui.words import when_words

DAYS_AHEAD = 14


class StaffBookScreen(StaffScreen):
    """Step 1: which service."""

    name = "staff_book"

    def title(self) -> str:
        return _("Book for a resident: service")

    def announcement(self) -> str:
        return _("Choose the service the resident wants.")

    def load(self) -> None:
        draft = self.state.draft
        if draft.done_code:  # a finished booking: start a new one
            self.state.draft = type(draft)()

    def choices(self) -> list[Choice]:
        return [
            Choice(f"service_{svc.id[:8]}", svc.name, partial(self._choose, svc.id))
            for svc in self.ctx.store.services()
        ]

    def _choose(self, service_id: str) -> None:
        self.state.draft.service_id = service_id
        self.state.draft.session_id = None
        self.go("staff_book_time")


class StaffBookTimeScreen(StaffScreen):
    """Step 2: which time (open sessions with seats; full ones are not offered here)."""

    name = "staff_book_time"
    per_page = 6

    def __init__(self, window: object) -> None:
        super().__init__(window)  # type: ignore[arg-type]
        self.sessions: list[Session] = []

    def title(self) -> str:
        return _("Book for a resident: time")

    def announcement(self) -> str:
        return _("Choose a time with free places.")

    def load(self) -> None:
        service_id = self.state.draft.service_id
        now = self.ctx.now()
        self.sessions = (
            self.ctx.store.sessions_between(
                now, now + dt.timedelta(days=DAYS_AHEAD), service_id=service_id, open_only=True
            )
            if service_id
            else []
        )

    def build_body(self, box: QVBoxLayout) -> None:
        if not self.sessions:
            box.addWidget(
                widgets.label(
                    _("There are no free places for this service in the next two weeks."),
                    kind="notice",
                    name="no_times",
                )
            )

    def choices(self) -> list[Choice]:
        out = []
        today = self.ctx.today()
        for sess in self.sessions:
            provider = self.ctx.store.provider(sess.provider_id)
            detail = _("{provider} · {seats} places left").format(
                provider=provider.name if provider else "", seats=sess.seats_left
            )
            out.append(
                Choice(
                    f"time_{sess.id[:8]}",
                    when_words(self.ctx.local(sess.starts_at), today),
                    partial(self._choose, sess.id),
                    detail=detail,
                )
            )
        return out

    def _choose(self, session_id: str) -> None:
        self.state.draft.session_id = session_id
        self.go("staff_book_who")


class StaffBookWhoScreen(StaffScreen):
    """Step 3: the resident's ID number on the keypad; name (and phone) when the kiosk does not know them yet."""

    name = "staff_book_who"
    columns = 1

    def title(self) -> str:
        return _("Book for a resident: who")

    def announcement(self) -> str:
        return _("Type the resident's ID number. For a resident new to this kiosk, also type the name.")

    def build_body(self, box: QVBoxLayout) -> None:
        draft = self.state.draft
        self.text_field(
            box,
            name="assist_name",
            label=_("Name (only for a resident new to this kiosk)"),
            value=draft.name,
            on_change=lambda t: setattr(draft, "name", t),
        )
        self.text_field(
            box,
            name="assist_phone",
            label=_("Mobile phone (optional)"),
            value=draft.phone,
            on_change=lambda t: setattr(draft, "phone", t),
        )
        box.addWidget(widgets.label(_("ID number"), name="assist_id_label"))
        box.addWidget(
            widgets.label(grouped_id(draft.id_entry) or _("(nothing entered)"), kind="code", name="assist_id")
        )

    def side_panel(self) -> QWidget:
        # The keypad beside the fields: name, phone, ID and keypad in one column overflow the panel.
        return self.kept_keypad(on_key=self._key, with_x=True)

    def choices(self) -> list[Choice]:
        return [
            Choice("next", _("Next"), self.next, kind="primary", detail=_("The booking is for the resident")),
            Choice(
                "family",
                _("For a family member"),
                self.for_family,
                kind="secondary",
                detail=_("A grandchild, a child, …"),
            ),
        ]

    def for_family(self) -> None:
        """The booking is for the resident's family member: identify the resident first, then ask who."""
        self.next(family=True)

    def _key(self, key: str) -> None:
        draft = self.state.draft
        draft.id_entry = typed(draft.id_entry, key, 18, allowed="0123456789X")
        self.message = ""
        self.redraw()

    def keypad_digit(self, key: str) -> bool:
        self._key(key)
        return True

    def keypad_backspace(self) -> bool:
        self._key("back")
        return True

    def on_confirm(self) -> bool:
        self.next()
        return True

    def next(self, family: bool = False) -> None:
        draft = self.state.draft
        check = check_id_number(draft.id_entry)
        if not check.ok or check.number is None:
            self.show_message(check.message(), speak=False)
            return
        known = self.ctx.store.find_resident(check.number)
        phone = draft.phone.strip() or None
        if phone is not None:
            phone_check = check_phone(phone)
            if not phone_check.ok:
                self.show_message(phone_check.message(), speak=False)
                return
            phone = phone_check.number
        if known is not None:
            draft.resident = (
                known
                if phone is None
                else Resident(
                    known.id,
                    known.name,
                    known.id_number,
                    phone,
                    known.village,
                    known.suggestions_consent,
                    known.remembered_profile,
                    known.dependents,
                )
            )
        else:
            name = draft.name.strip()
            if not name:
                self.show_message(
                    _("This resident is new to this kiosk. Please type their name."), speak=False
                )
                return
            draft.resident = Resident(new_id(), name, check.number, phone)
        draft.for_family = family
        draft.dependent = None
        draft.consent_at = None  # asked again for whoever is identified now
        self.go("staff_book_family" if family else "staff_book_consent")


class StaffBookFamilyScreen(StaffScreen):
    """Step 3b, booking for a family member: their name, how they are related, and their year of birth."""

    name = "staff_book_family"
    columns = 3

    def title(self) -> str:
        return _("Book for a resident: family member")

    def announcement(self) -> str:
        return _(
            "Type the family member's name and year of birth, and choose how they are related to the "
            "resident."
        )

    def load(self) -> None:
        if self.state.draft.resident is None:
            self.win.show_screen("staff_book_who", remember=False)

    def build_body(self, box: QVBoxLayout) -> None:
        draft = self.state.draft
        self.text_field(
            box,
            name="dep_name",
            label=_("Family member's name"),
            value=draft.dep_name,
            on_change=lambda t: setattr(draft, "dep_name", t),
        )
        self.text_field(
            box,
            name="dep_year",
            label=_("Year of birth (for example 2016)"),
            value=draft.dep_year,
            on_change=lambda t: setattr(draft, "dep_year", t),
        )
        chosen = _(draft.dep_relation) if draft.dep_relation else _("(not chosen yet)")
        box.addWidget(
            widgets.label(
                _("Related to the resident as: {relation}").format(relation=chosen), name="dep_relation"
            )
        )

    def choices(self) -> list[Choice]:
        draft = self.state.draft
        out = [
            Choice(
                f"relation_{i}",
                _(text),
                partial(self._relation, text),
                kind="primary" if text == draft.dep_relation else "secondary",
            )
            for i, text in enumerate(RELATIONS)
        ]
        out.append(Choice("next", _("Next"), self.next, kind="primary"))
        return out

    def _relation(self, relation: str) -> None:
        self.state.draft.dep_relation = relation
        self.message = ""
        self.win.refresh()

    def on_confirm(self) -> bool:
        self.next()
        return True

    def next(self) -> None:
        state = self.state
        draft = state.draft
        if draft.resident is None:
            self.go("staff_book_who")
            return
        try:
            resident, dependent = state.desk.dependent_for(
                draft.resident,
                draft.dep_name,
                _(draft.dep_relation) if draft.dep_relation else "",
                draft.dep_year,
            )
        except StaffError as exc:
            self.show_message(exc.message(), speak=False)
            return
        draft.resident, draft.dependent = resident, dependent
        draft.for_family = True
        self.go("staff_book_consent")


class StaffBookConsentScreen(StaffScreen):
    """Step 4: the personal-data notice, read to the resident; staff answer whether they heard it and agreed."""

    name = "staff_book_consent"
    columns = 1

    def title(self) -> str:
        if self.state.draft.declined:
            return _("Not booked")
        return _("Book for a resident: the notice")

    def announcement(self) -> str:
        if self.state.draft.declined:
            return _("Nothing was booked, and the resident's details were not kept.")
        return _("Read this notice to the resident. Did they hear it and agree?")

    def load(self) -> None:
        draft = self.state.draft
        if draft.resident is None and not draft.declined:
            self.win.show_screen("staff_book_who", remember=False)

    def build_body(self, box: QVBoxLayout) -> None:
        if self.state.draft.declined:
            box.addWidget(widgets.label(self.announcement(), kind="notice", name="consent_declined"))
            return
        box.addWidget(widgets.label(notice_text(), name="staff_consent_notice"))
        box.addWidget(
            widgets.label(
                _("Read this notice to the resident. Did they hear it and agree?"),
                name="staff_consent_question",
            )
        )

    def choices(self) -> list[Choice]:
        if self.state.draft.declined:
            return [
                Choice("another", _("Book for another resident"), self.another),
                Choice(
                    "staff_home", _("Staff home"), lambda: self.win.show_screen("staff_home", remember=False)
                ),
            ]
        return [
            Choice("consent_yes", _("Yes, the resident agreed"), self.agree, kind="primary"),
            Choice("consent_no", _("No, the resident did not agree"), self.decline, kind="secondary"),
        ]

    def agree(self) -> None:
        self.state.draft.consent_at = self.ctx.now()
        self.go("staff_book_confirm")

    def decline(self) -> None:
        """No booking without the resident's agreement: the draft and everything typed about them are dropped."""
        self.state.draft = type(self.state.draft)(declined=True)
        self.win.refresh(announce=True)

    def another(self) -> None:
        self.state.draft = type(self.state.draft)()
        self.win.show_screen("staff_book", remember=False)


FOR_FAMILY = N_("For: {relation} {name} (born {year}), family member of {resident}, ID {id}")


class StaffBookConfirmScreen(StaffScreen):
    """Step 5: everything in plain words, then Book; afterwards the code in very large digits."""

    name = "staff_book_confirm"
    columns = 1

    def title(self) -> str:
        if self.state.draft.done_code:
            return _("Booked for the resident")
        return _("Book for a resident: confirm")

    def announcement(self) -> str:
        if self.state.draft.done_code:
            return _("Give the resident the booking code.")
        return _("Check the details with the resident, then touch Book now.")

    def build_body(self, box: QVBoxLayout) -> None:
        draft = self.state.draft
        if draft.done_code:
            box.addWidget(widgets.label(_("Booking code"), name="done_code_label"))
            box.addWidget(widgets.label(format_code(draft.done_code), kind="code", name="done_code"))
            box.addWidget(widgets.label(draft.done_status, kind="ok", name="done_status"))
            return
        session = self.ctx.store.session(draft.session_id or "")
        service = self.ctx.store.service(session.service_id) if session else None
        resident: Resident | None = draft.resident
        if session is None or service is None or resident is None:
            box.addWidget(
                widgets.label(_("Please start the booking again."), kind="error", name="draft_lost")
            )
            return
        member = self.state.member
        dependent = draft.dependent if draft.for_family else None
        for_line = (
            _(FOR_FAMILY).format(
                relation=dependent.relation,
                name=mask_name(dependent.name),
                year=dependent.birth_year,
                resident=mask_name(resident.name),
                id=mask_id(resident.id_number),
            )
            if dependent is not None
            else _("For: {name}, ID {id}").format(
                name=mask_name(resident.name), id=mask_id(resident.id_number)
            )
        )
        lines = [
            _("Service: {name}").format(name=service.name),
            _("Time: {when}").format(when=when_words(self.ctx.local(session.starts_at), self.ctx.today())),
            _("Place: {room}").format(room=session.room or _("the village service centre")),
            for_line,
            _("Booked by staff member {staff_id} on the resident's behalf.").format(
                staff_id=member.staff_id if member else ""
            ),
        ]
        if draft.consent_at is not None:
            lines.append(_("The resident heard the personal-data notice and agreed."))
        box.addWidget(widgets.label("\n".join(lines), name="assist_summary"))

    def choices(self) -> list[Choice]:
        if self.state.draft.done_code:
            return [
                Choice("another", _("Book for another resident"), self.another),
                Choice(
                    "staff_home", _("Staff home"), lambda: self.win.show_screen("staff_home", remember=False)
                ),
            ]
        return [Choice("book", _("Book now"), self.book, kind="primary")]

    def book(self) -> None:
        state = self.state
        draft = state.draft
        if draft.session_id is None or draft.resident is None:
            self.go("staff_book")
            return
        if draft.for_family and draft.dependent is None:
            self.go("staff_book_family")
            return
        consent_at = draft.consent_at
        if consent_at is None:
            self.go("staff_book_consent")  # never booked without the resident's agreement to the notice
            return
        desk = state.desk
        session_id, resident = draft.session_id, draft.resident
        dependent = draft.dependent if draft.for_family else None
        self.ctx.ops.write(
            lambda: desk.book_for(session_id, resident, dependent, consent_at=consent_at),
            on_done=self._booked,
            on_error=self._refused,
        )

    def _booked(self, booking: Booking) -> None:
        draft = self.state.draft
        # The resident's details are not kept once the booking is written.
        draft.resident = draft.dependent = None
        draft.consent_at = None
        draft.id_entry = draft.name = draft.phone = draft.dep_name = draft.dep_year = ""
        draft.done_code = booking.code
        draft.done_status = booking.status.label()
        self.win.refresh(announce=True)

    def _refused(self, exc: BaseException) -> None:
        if isinstance(exc, BookingRefused):
            self.show_message(exc.message(), speak=False)
        else:
            self.fail(exc)

    def another(self) -> None:
        self.state.draft = type(self.state.draft)()
        self.win.show_screen("staff_book", remember=False)
