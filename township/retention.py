"""Retention: residents with no session for `townships.retention_months` months (default 24) lose their personal
data, automatically (at start-up and then daily, `start_daily`; or `python -m township retention`).

What goes: the resident's encrypted ID number, name and phone, and their blind index (the record can no longer be
found by ID number); on each of their bookings the contact name and phone it was made with, who it was for (a
dependent's name and relation) and feedback comments with staff's follow-up notes on them. What stays, for reports: the booking's village, service,
session and dates, status and code, and feedback ratings and reasons. Each run that erases anything writes one
`residents_erased` row to the staff audit trail (a count, no names).

Kiosks' copies: every booking of an erased resident made at a kiosk is logged again for that kiosk alone, its
change saying `"erased": true` (and every later change of it too), so the kiosk erases its own copy of the
resident at its next pull (docs/sync.md, "Erasure"). The console's erasure on request is this same function.
"""

from __future__ import annotations

import datetime as dt
import threading

import sqlalchemy as sa

from township import booking as B
from township import db
from township.services import audit_row

ERASED = "erased:"  # id_blind of an erased resident (never a keyed hash: those are hex)


def months_before(moment: dt.datetime, months: int) -> dt.datetime:
    """The same day-of-month `months` earlier (the last day when that month is shorter)."""
    import calendar

    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    month += 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def erase_inactive(database: db.Database, *, now: dt.datetime | None = None) -> int:
    """Erase the personal data of residents with no session since their township's retention cut-off; returns how
    many residents were erased."""
    moment = now or db.now_utc()
    r, b, s = db.residents, db.bookings, db.sessions
    erased = 0
    with database.read() as conn:
        towns = conn.execute(sa.select(db.townships.c.id, db.townships.c.retention_months)).all()
    for town in towns:
        cutoff = db.naive(months_before(moment, int(town.retention_months)))
        with database.write() as conn:
            db.lock_township(conn, town.id)
            recent = (
                sa.select(b.c.resident_id)
                .join(s, s.c.id == b.c.session_id)
                .where(b.c.township_id == town.id, sa.or_(s.c.starts_at >= cutoff, b.c.created_at >= cutoff))
            )
            stale = [
                x.id
                for x in conn.execute(
                    sa.select(r.c.id).where(
                        r.c.township_id == town.id,
                        r.c.created_at < cutoff,
                        ~r.c.id_blind.startswith(ERASED),
                        r.c.id.not_in(recent),
                    )
                )
            ]
            erase_residents(conn, stale, moment)
            if stale:
                audit_row(
                    conn,
                    town.id,
                    "system",
                    "residents_erased",
                    str(len(stale)),
                    at=moment,
                    count=len(stale),
                    retention_months=int(town.retention_months),
                )
            erased += len(stale)
    return erased


def erase_residents(conn: sa.Connection, ids: list[str], moment: dt.datetime) -> None:
    """Erase these residents' personal data in the caller's write transaction (what goes and what stays: above)."""
    r, b = db.residents, db.bookings
    for chunk in range(0, len(ids), 400):
        part = ids[chunk : chunk + 400]
        booking_ids = sa.select(b.c.id).where(b.c.resident_id.in_(part)).scalar_subquery()
        conn.execute(
            sa.update(db.feedback)
            .where(db.feedback.c.booking_id.in_(booking_ids))
            .values(comment=None, follow_up_note=None)
        )
        conn.execute(
            sa.update(b)
            .where(b.c.resident_id.in_(part))
            .values(contact_name_enc=None, contact_phone_enc=None, for_dependent=None, dependent_key="")
        )
        # Each kiosk that made one of these bookings erases its own copy at its next pull: the booking's change
        # (private to that kiosk) says `erased` and carries no personal data (docs/sync.md, "Erasure").
        kiosk_bookings = conn.execute(
            sa.select(b.c.id).where(b.c.resident_id.in_(part), b.c.device_id.is_not(None)).order_by(b.c.id)
        ).scalars()
        for booking_id in list(kiosk_bookings):
            B.update_booking(conn, booking_id)
        for ident in part:
            conn.execute(
                sa.update(r)
                .where(r.c.id == ident)
                .values(
                    id_blind=ERASED + ident,
                    id_number_enc="",
                    name_enc="",
                    phone_enc=None,
                    id_mask="",
                    village=None,
                    updated_at=db.naive(moment),
                )
            )


def start_daily(database: db.Database) -> threading.Event:
    """Run `erase_inactive` now and then every day on a daemon thread, once a day between all the processes on this
    database (`township.daily`); set the returned event to stop it."""
    from township import daily

    return daily.start(database, "retention", lambda: erase_inactive(database))
