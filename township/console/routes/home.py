"""The home page: today's sessions and what is waiting for staff."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from cunzhan.i18n import N_
from cunzhan.models import BookingStatus
from township.console import queries
from township.console.deps import PREFIX, Anyone, ConsoleDep, landing
from township.console.routes.kiosks import kiosk_state
from township.console.web import tr
from township.insight import needs

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/")
def home(request: Request, console: ConsoleDep, who: Anyone) -> Response:
    if not who.staff.reads_township:  # a county or provider account starts on its own page
        return RedirectResponse(landing(who.staff), status_code=303)
    tid = who.staff.township_id
    today = who.today()
    start, end = queries.local_day_bounds(today, who.zone)
    with console.db.read() as conn:
        sessions = queries.sessions_between(conn, tid, start, end)
        counts = queries.status_counts(conn, tid)
        kiosk_rows = queries.kiosks(conn, tid)
        forwarded = len(needs.referrals(conn, [tid]))  # needs the county asks the township to meet (#18)
    warnings = sum(1 for k in kiosk_rows if kiosk_state(k)[0] != "ok" and not k["revoked_at"])
    return console.page(
        request,
        who,
        "home.html",
        {
            "today": today.isoformat(),
            "sessions": sessions,
            "counts": {
                "pending": counts.get(BookingStatus.PENDING_REVIEW, 0),
                "waitlisted": counts.get(BookingStatus.WAITLISTED, 0),
                "kiosk_warnings": warnings,
                "forwarded": forwarded,
            },
        },
        title=tr(N_("Today"), request),
        nav="home",
    )
