"""For you: suggestions from the resident's own booking history, only when they agreed to it.

- the follow-up their chronic-disease visits imply (the next open time of that service after the last visit);
- the same class for the grandchild next week ("book again" in one touch);
- a session they are waiting for that now has a free place (one touch takes it).
Nothing here looks at anyone else's data, and nothing is suggested without consent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from functools import partial

from PySide6.QtWidgets import QVBoxLayout

from cunzhan.i18n import gettext as _
from cunzhan.models import Booking, BookingStatus, Resident, ServiceKind, Session
from kiosk.booking import BookingRefused
from kiosk.ui import widgets
from kiosk.ui.screen import Choice, Screen
from kiosk.ui.screens.confirm import SAVE_FAILED, session_words

CHRONIC_WORDS = ("慢病", "chronic")
WEEK = dt.timedelta(days=7)
USED = (
    BookingStatus.CONFIRMED,
    BookingStatus.CHECKED_IN,
    BookingStatus.ATTENDED,
    BookingStatus.REQUESTED,
    BookingStatus.PENDING_REVIEW,
)


@dataclass(frozen=True, slots=True)
class Suggestion:
    key: str
    label: str
    detail: str
    session: Session
    dependent_id: str | None = None
    replaces: str | None = None  # a waiting-list booking this one takes the place of


def suggestions(screen: Screen, resident: Resident) -> list[Suggestion]:
    """What this resident is likely to need next, from their own bookings only."""
    store, now = screen.ctx.store, screen.ctx.now()
    history = store.bookings_for_resident(resident.id)
    booked = {(b.session_id, b.dependent_id or "") for b in history if b.status.active}
    found: list[Suggestion] = []
    seen: set[tuple[str, str]] = set()

    def offer(
        key: str, label: str, session: Session | None, booking: Booking, replaces: str | None = None
    ) -> None:
        if session is None or not session.bookable or session.starts_at <= now:
            return
        ident = (session.id, booking.dependent_id or "")
        if ident in seen or (ident in booked and replaces is None):
            return
        seen.add(ident)
        w = session_words(screen, session)
        found.append(
            Suggestion(key, label, f"{w['service']}\n{w['when']}", session, booking.dependent_id, replaces)
        )

    for booking in history:
        session = store.session(booking.session_id)
        service = store.service(session.service_id) if session else None
        if session is None or service is None:
            continue
        if booking.status is BookingStatus.WAITLISTED and session.bookable:
            offer(f"seat_{booking.code}", _("A place is free now"), session, booking, replaces=booking.id)
        elif booking.status in USED and any(w in service.name.lower() for w in CHRONIC_WORDS):
            later = [
                s
                for s in store.sessions_between(
                    session.ends_at, session.ends_at + 6 * WEEK, service_id=service.id, open_only=True
                )
            ]
            offer(f"followup_{booking.code}", _("Your next check-up"), later[0] if later else None, booking)
        elif booking.status in USED and service.kind is ServiceKind.SCHOOL and booking.dependent_id:
            start = session.starts_at + WEEK
            same = store.sessions_between(
                start - dt.timedelta(hours=1),
                start + dt.timedelta(hours=1),
                service_id=service.id,
                provider_id=session.provider_id,
            )
            dependent = store.dependent(booking.dependent_id)
            who = dependent.relation if dependent else ""
            offer(
                f"again_{booking.code}",
                _("Book again for your {who}").format(who=who),
                same[0] if same else None,
                booking,
            )
    return found


class ForYouScreen(Screen):
    name = "for_you"
    columns = 1

    def title(self) -> str:
        return _("Suggestions for you")

    def _consented(self) -> bool:
        resident = self.visit.resident
        return resident is not None and resident.suggestions_consent

    def announcement(self) -> str:
        if not self._consented():
            return _(
                "We can look at your own past bookings and suggest what you may need next. "
                "Nobody else sees this. Do you agree?"
            )
        if not self._suggestions():
            return _("We have no suggestions for you right now.")
        return _("Touch a suggestion to book it in one touch.")

    def _suggestions(self) -> list[Suggestion]:
        resident = self.visit.resident
        return suggestions(self, resident) if resident is not None and self._consented() else []

    def build_body(self, box: QVBoxLayout) -> None:
        if not self._consented():
            box.addWidget(widgets.label(self.announcement(), kind="notice", name="consent_question"))

    def choices(self) -> list[Choice]:
        if not self._consented():
            return [
                Choice("agree", _("Yes, I agree"), partial(self._consent, True), phrases=("是", "同意")),
                Choice("disagree", _("No, thank you"), self.win.back, kind="secondary", phrases=("否", "不")),
            ]
        return [Choice(s.key, s.label, partial(self._book, s), detail=s.detail) for s in self._suggestions()]

    def _consent(self, agree: bool) -> None:
        resident = self.visit.resident
        if resident is None:
            return
        updated = replace(resident, suggestions_consent=agree)
        store = self.ctx.store
        self.ctx.ops.write(lambda: store.save_resident(updated), on_done=self._saved, on_error=self._failed)

    def _saved(self, resident: Resident) -> None:
        self.visit.resident = resident
        self.win.refresh(announce=True)

    def _failed(self, exc: BaseException) -> None:
        self.show_message(exc.message() if isinstance(exc, BookingRefused) else _(SAVE_FAILED))

    def _book(self, suggestion: Suggestion) -> None:
        resident = self.visit.resident
        if resident is None:
            return
        bookings, now = self.ctx.bookings, self.ctx.now()
        consent_at = self.visit.consent_at
        dependent = next((d for d in resident.dependents if d.id == suggestion.dependent_id), None)

        def book() -> Booking:
            if suggestion.replaces:
                bookings.cancel(suggestion.replaces, reason="seat_free", now=now)
            return bookings.book(
                session_id=suggestion.session.id,
                resident=resident,
                dependent=dependent,
                now=now,
                consent_at=consent_at,
            )

        self.ctx.ops.write(book, on_done=self._booked, on_error=self._failed)

    def _booked(self, booking: Booking) -> None:
        self.visit.booking = booking
        self.win.show_screen("done", remember=False)
