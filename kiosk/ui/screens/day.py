"""Book, step 3: which day (days with sessions in the next two weeks; full days say so)."""

from __future__ import annotations

import datetime as dt
from functools import partial

from cunzhan.i18n import gettext as _
from cunzhan.models import Session
from kiosk.ui.screen import Choice, Screen
from kiosk.ui.words import day_words

DAYS_AHEAD = 15


def upcoming_sessions(screen: Screen) -> list[Session]:
    """Sessions of the chosen service (and provider) from now on, soonest first."""
    ctx, visit = screen.ctx, screen.visit
    now = ctx.now()
    return [
        s
        for s in ctx.store.sessions_between(
            now,
            now + dt.timedelta(days=DAYS_AHEAD),
            service_id=visit.service_id,
            provider_id=visit.provider_id,
        )
        if s.status.value == "open"
    ]


class DayScreen(Screen):
    name = "day"

    def title(self) -> str:
        return _("Which day?")

    def announcement(self) -> str:
        return _("Touch a day. Days that are full say so.")

    def choices(self) -> list[Choice]:
        by_day: dict[dt.date, list[Session]] = {}
        for session in upcoming_sessions(self):
            by_day.setdefault(self.ctx.local(session.starts_at).date(), []).append(session)
        today = self.ctx.today()
        result = []
        for day, sessions in sorted(by_day.items()):
            seats = sum(max(0, s.seats_left) for s in sessions)
            if seats:
                detail = _("{n} places free").format(n=seats)
            else:
                detail = _("Full")
            result.append(
                Choice(
                    day.isoformat(),
                    day_words(day, today),
                    partial(self._choose, day),
                    detail=detail,
                    kind="primary" if seats else "full",
                )
            )
        return result

    def on_enter(self) -> None:
        if not self.choices():
            self.message = _("Sorry, there are no times in the next two weeks. Please ask the staff.")
            self.message_kind = "notice"
            self._record_no_session()

    def _record_no_session(self) -> None:
        """Count the search as unmet demand (no personal data; kiosk.demand), once per service in a visit."""
        visit, ctx = self.visit, self.ctx
        service_id = visit.service_id
        if service_id is None or service_id in visit.no_session_for:
            return
        visit.no_session_for = (*visit.no_session_for, service_id)
        from kiosk import settings as S
        from kiosk.demand import record_no_session

        store, village, now = ctx.store, str(ctx.settings.get(S.VILLAGE)) or None, ctx.now()
        ctx.ops.write(
            lambda: record_no_session(store, service_id=service_id, village=village, now=now),
            on_done=lambda _id: None,
        )

    def _choose(self, day: dt.date) -> None:
        if self.visit.day != day:
            self.visit.session_id = None
        self.visit.day = day
        self.visit.alternatives = ()
        self.go("time")
