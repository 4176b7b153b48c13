"""Book, step 4: which time on the chosen day. A full time is shown as full; touching it offers the nearest times
that still have places (the same offer appears when a time fills up while the resident was choosing)."""

from __future__ import annotations

from functools import partial

from cunzhan.i18n import gettext as _
from cunzhan.models import Session
from kiosk.ui.screen import Choice, Screen
from kiosk.ui.screens.day import upcoming_sessions
from kiosk.ui.words import time_words, when_words


class TimeScreen(Screen):
    name = "time"

    def title(self) -> str:
        if self.visit.alternatives:
            return _("Other times with free places")
        return _("Which time?")

    def announcement(self) -> str:
        if self.visit.alternatives:
            return _("Touch one of these times, or go back to see the whole day.")
        return _("Touch a time. Times that are full say so.")

    def _provider_name(self, session: Session) -> str:
        from kiosk.ui.screens.confirm import called

        provider = self.ctx.store.provider(session.provider_id)
        service = self.ctx.store.service(session.service_id)
        return called(provider.name, service.kind if service else None) if provider else ""

    def choices(self) -> list[Choice]:
        if self.visit.alternatives:
            found = [self.ctx.store.session(sid) for sid in self.visit.alternatives]
            alternatives = [s for s in found if s is not None]
            today = self.ctx.today()
            return [
                Choice(
                    s.id,
                    when_words(self.ctx.local(s.starts_at), today),
                    partial(self._choose, s),
                    detail=self._detail(s),
                )
                for s in alternatives
            ] + [Choice("whole_day", _("See all times of the day"), self._whole_day, kind="secondary")]
        day = self.visit.day
        sessions = [s for s in upcoming_sessions(self) if self.ctx.local(s.starts_at).date() == day]
        return [
            Choice(
                s.id,
                time_words(self.ctx.local(s.starts_at)),
                partial(self._choose, s),
                detail=self._detail(s),
                kind="primary" if s.bookable else "full",
            )
            for s in sessions
        ]

    def _detail(self, session: Session) -> str:
        seats = _("{n} places free").format(n=session.seats_left) if session.bookable else _("Full")
        return _("{provider}, {seats}").format(provider=self._provider_name(session), seats=seats)

    def _whole_day(self) -> None:
        self.visit.alternatives = ()
        self.message = ""
        self.page = 0
        self.win.refresh(announce=True)

    def _choose(self, session: Session) -> None:
        fresh = self.ctx.store.session(session.id) or session
        if not fresh.bookable:
            record_full(self, fresh.id)
            self.offer_alternatives(fresh)
            return
        self.visit.session_id = fresh.id
        self.visit.day = self.ctx.local(fresh.starts_at).date()
        if self.visit.reschedule_of:
            self.go("confirm")  # moving a booking: the resident is already known
        else:
            self.go("who")

    def offer_alternatives(self, full: Session, message: str = "") -> None:
        """Show the nearest times with places instead of a full one."""
        nearest = self.ctx.store.nearest_open_sessions(full, limit=3)
        self.visit.alternatives = tuple(s.id for s in nearest)
        self.page = 0
        if nearest:
            text = message or _("Sorry, this time is full. Here are the nearest times with free places.")
            self.show_message(text, "notice")
        else:
            self.show_message(
                _("Sorry, this time is full and there are no other free times soon. Please ask the staff."),
                "notice",
            )


def record_full(screen: Screen, session_id: str) -> None:
    """Count a full time the resident wanted as unmet demand (no personal data; kiosk.demand), once per session in
    a visit: touched while shown full here, or filled up while the resident was choosing (screens/confirm)."""
    visit, ctx = screen.visit, screen.ctx
    if session_id in visit.full_for:
        return
    visit.full_for = (*visit.full_for, session_id)
    from kiosk import settings as S
    from kiosk.demand import record_slot_full

    store, village, now = ctx.store, str(ctx.settings.get(S.VILLAGE)) or None, ctx.now()
    ctx.ops.write(
        lambda: record_slot_full(store, session_id=session_id, village=village, now=now),
        on_done=lambda _id: None,
    )
