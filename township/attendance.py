"""Who did not come (issue 16): a booking confirmed but never checked in becomes `no_show` once its session has ended
and a grace period has passed (staff may still have been marking attendance by hand). Staff correct a mistake with
`services.mark_attendance`, which accepts `no_show` → `attended`. Each change goes through `update_booking`, so the
resident's kiosk learns it at its next pull like any other decision."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from cunzhan.i18n import gettext as _
from cunzhan.i18n import use_locale
from cunzhan.models import BookingStatus as S
from township import booking as B
from township import db
from township import messages as M

GRACE = dt.timedelta(hours=1)
CHUNK = 200  # bookings per transaction: a day's backlog never holds the township's lock for long


def mark_no_shows(
    database: db.Database, *, now: dt.datetime | None = None, grace: dt.timedelta = GRACE
) -> int:
    """Mark confirmed bookings of sessions that ended `grace` or more before `now` as `no_show`. Returns how many."""
    cutoff = db.naive((now or db.now_utc()) - grace)
    b, s = db.bookings, db.sessions
    due = (
        sa.select(b.c.id, b.c.township_id, b.c.session_id, db.townships.c.locale)
        .join(s, s.c.id == b.c.session_id)
        .join(db.townships, db.townships.c.id == b.c.township_id)
        .where(b.c.status == S.CONFIRMED, s.c.ends_at <= cutoff)
        .order_by(b.c.township_id)
        .limit(CHUNK)
    )
    marked = 0
    while True:
        with database.write() as conn:
            rows = conn.execute(due).all()
            sessions: set[str] = set()
            for township_id in sorted({r.township_id for r in rows}):
                db.lock_township(conn, township_id)
            for row in rows:
                # Re-read under the lock: a check-in may have arrived since the SELECT.
                if conn.execute(sa.select(b.c.status).where(b.c.id == row.id)).scalar_one() != S.CONFIRMED:
                    continue
                with use_locale(row.locale):
                    B.update_booking(conn, row.id, status=S.NO_SHOW, message=_(M.NO_SHOW))
                sessions.add(row.session_id)
                marked += 1
            for session_id in sorted(sessions):
                B.touch_session(conn, session_id)  # its count of seats taken changed
        if len(rows) < CHUNK:
            return marked
