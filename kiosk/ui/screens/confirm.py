"""Book, step 7: everything said in plain words before anything is written; then the booking (or the move to a new
time) is written with its outbox op through the op runner. A refusal comes back as a kind message with a way on."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QVBoxLayout

from cunzhan.i18n import N_, sentences
from cunzhan.i18n import gettext as _
from cunzhan.models import Booking, ServiceKind, Session
from kiosk.booking import BookingRefused, Refusal
from kiosk.residents import dependent_for
from kiosk.store import StoreError
from kiosk.ui import widgets
from kiosk.ui.screen import Choice, Screen
from kiosk.ui.words import when_words

if TYPE_CHECKING:
    from kiosk.ui.window import KioskWindow

SAVE_FAILED = N_(
    "Sorry, the kiosk could not save this just now. Nothing is lost: please try again, or call the staff."
)


def called(name: str, kind: ServiceKind | None) -> str:
    """A doctor or teacher as a villager says it: 王建国医生, 张老师 (a name that already says so is left alone)."""
    if not name or kind is None or any(word in name for word in ("医生", "老师", "医师", "教师")):
        return name
    if kind is ServiceKind.SCHOOL:
        return _("{name}, the teacher").format(name=name)
    return _("{name}, the doctor").format(name=name)


def session_words(screen: Screen, session: Session) -> dict[str, str]:
    """Service, provider, when and where of a session, in words."""
    store = screen.ctx.store
    service = store.service(session.service_id)
    provider = store.provider(session.provider_id)
    return {
        "service": service.name if service else "",
        "provider": called(provider.name, service.kind if service else None) if provider else "",
        "when": when_words(screen.ctx.local(session.starts_at), screen.ctx.today()),
        "where": session.room or _("the village service centre"),
        "bring": service.what_to_bring if service else "",
    }


class ConfirmScreen(Screen):
    name = "confirm"
    columns = 1

    def __init__(self, window: KioskWindow) -> None:
        super().__init__(window)
        self.duplicate = False
        self.busy = False

    def _moving(self) -> bool:
        return self.visit.reschedule_of is not None

    def title(self) -> str:
        return _("Please check: change to this time?") if self._moving() else _("Please check your booking")

    def announcement(self) -> str:
        return sentences(
            *(line + _(".") for line in self.summary().split("\n")),
            _("If it is right, touch Confirm."),
        )

    def on_enter(self) -> None:
        self.duplicate = False
        self.busy = False

    def summary(self) -> str:
        """Everything about the booking, one fact a line, in plain words."""
        session = self.ctx.store.session(self.visit.session_id or "")
        if session is None:
            return ""
        w = session_words(self, session)
        if self.visit.for_dependent:
            who = _("your {relation}, born {year}").format(
                relation=_(self.visit.relation), year=self.visit.birth_year
            )
        else:
            who = _("you")
        lines = [
            _("What: {service}").format(**w),
            _("With: {provider}").format(**w),
            _("New time: {when}").format(**w) if self._moving() else _("When: {when}").format(**w),
            _("Where: {where}").format(**w),
        ]
        if not self._moving():
            line = _("For: {who}").format(who=who)
            reminders = self._reminders()
            # On the same line (a sixth does not fit in large type); whose phone, never its digits: this is read out.
            lines.append(
                _("{line}; {reminders}").format(line=line, reminders=reminders) if reminders else line
            )
        return "\n".join(lines)

    def _reminders(self) -> str:
        """Where SMS reminders go after this visit's answer (screens/phone), or "" when none."""
        from kiosk.ui.screens.phone import with_reminders

        resident = self.visit.resident
        if resident is None:
            return ""
        kept = with_reminders(self.visit, resident, self.ctx.now())
        if not kept.phone or kept.reminder_owner is None:
            return ""
        if kept.reminder_owner == "family":
            return _("text reminders to a family member's phone")
        return _("text reminders to your phone")

    def build_body(self, box: QVBoxLayout) -> None:
        box.addWidget(widgets.label(self.summary(), kind="notice", name="summary"))

    def choices(self) -> list[Choice]:
        label = _("Confirm the new time") if self._moving() else _("Confirm the booking")
        result = [Choice("confirm", label, self.confirm, phrases=("确认", "是", "对"))]
        if self.duplicate:
            result.append(Choice("see_bookings", _("See my bookings"), self._see_bookings))
        result.append(
            Choice(
                "change_time",
                _("Choose another time"),
                self._change_time,
                kind="secondary",
                phrases=("换时间", "不对"),
            )
        )
        if not self._moving() and not self.visit.phone_owner and self._reminders():
            # A returning resident who gave a number was not asked this time: the way to change or stop it.
            result.append(
                Choice(
                    "change_phone",
                    _("Change the phone number"),
                    self._change_phone,
                    kind="secondary",
                    phrases=("换号码", "改手机号"),
                )
            )
        return result

    def _change_phone(self) -> None:
        self.win.show_screen("phone")

    def on_confirm(self) -> bool:
        self.confirm()
        return True

    def _change_time(self) -> None:
        self.win.back_to("time")

    def _see_bookings(self) -> None:
        self.visit.purpose = "bookings"
        self.go("booking_list")

    def confirm(self) -> None:
        """Write the booking (or the move) off the main thread; the answer comes back to `_done`/`_refused`."""
        if self.busy:
            return  # one touch is one booking
        visit = self.visit
        session_id = visit.session_id
        resident = visit.resident
        if session_id is None or (resident is None and not self._moving()):
            return
        self.busy = True
        bookings, now = self.ctx.bookings, self.ctx.now()
        if visit.reschedule_of is not None:
            booking_id = visit.reschedule_of
            self.ctx.ops.write(
                lambda: bookings.reschedule(booking_id, session_id, now=now),
                on_done=self._done,
                on_error=self._refused,
            )
            return
        assert resident is not None
        from kiosk.ui.screens.phone import with_reminders

        resident = with_reminders(visit, resident, now)
        dependent = None
        if visit.for_dependent:
            resident, dependent = dependent_for(resident, _(visit.relation), int(visit.birth_year))
        who, dep = resident, dependent
        consent_at = visit.consent_at
        self.ctx.ops.write(
            lambda: bookings.book(
                session_id=session_id, resident=who, dependent=dep, now=now, consent_at=consent_at
            ),
            on_done=self._done,
            on_error=self._refused,
        )

    def _done(self, booking: Booking) -> None:
        self.busy = False
        visit = self.visit
        visit.booking = booking
        visit.reschedule_of = None
        if visit.resident is not None and visit.resident.id != booking.resident_id:
            visit.resident = self.ctx.store.resident(booking.resident_id) or visit.resident
        elif visit.resident is not None:
            visit.resident = self.ctx.store.resident(visit.resident.id) or visit.resident
        self.win.show_screen("done", remember=False)

    def _refused(self, exc: BaseException) -> None:
        self.busy = False
        if not isinstance(exc, BookingRefused):
            if not isinstance(exc, (StoreError, OSError, sqlite3.Error)):
                raise exc
            self.show_message(_(SAVE_FAILED))  # everything entered stays: the resident can simply try again
            return
        if exc.reason in (Refusal.SLOT_FULL, Refusal.SESSION_CLOSED, Refusal.SESSION_STARTED):
            if exc.reason is Refusal.SLOT_FULL and self.visit.session_id:
                from kiosk.ui.screens.timeslot import record_full

                record_full(self, self.visit.session_id)
            self.visit.alternatives = tuple(s.id for s in exc.alternatives)
            self.visit.session_id = None
            self.win.back_to("time", announce=False).show_message(exc.message(), "notice")
            return
        self.duplicate = exc.reason is Refusal.DUPLICATE
        self.show_message(exc.message())
