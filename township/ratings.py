"""Rating at the next visit to any kiosk of the township (#16).

A kiosk invites a resident to rate their last attended session at their next visit; it knows the bookings made at it
(`kiosk.store.Bookings.booking_to_rate`). For a session booked at another kiosk of the township, the kiosk asks here
when the resident identifies and the link is up (`POST /v1/ratings/ask` with the typed ID number): the resident's
latest attended booking of the last `INVITE_WITHIN`, made at another kiosk, neither rated nor invited yet. Asked
once, township-wide: the ask marks the booking invited by that kiosk (`rating_invited_at`, `rating_invited_device`),
and only that kiosk may then send its rating (`township.sync._feedback`). So the answer never says twice that a
person attended a session: probing ID numbers with a kiosk's token uses up invitations, it does not list them, and
the answer names only the service and the day (no provider, booking code, or who booked). A kiosk gets at most
`INVITES_PER_HOUR` invitations an hour (more is 429: a kiosk serves a few residents an hour, a stolen token probing a
list of ID numbers many), and each one given is in the staff-actions trail (`rating_invited`, the kiosk and the
booking), so staff can see what a kiosk was told.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from cunzhan.models import BookingStatus
from township import db, keys
from township.services import audit_row
from township.sync import Device

INVITE_WITHIN = dt.timedelta(days=30)  # a session longer ago than this is not asked about
INVITES_PER_HOUR = 30  # invitations one kiosk may be given in an hour


class TooManyInvitations(Exception):
    """This kiosk was given `INVITES_PER_HOUR` invitations in the last hour (→ 429)."""


def invite(database: db.Database, device: Device, id_number: str) -> dict[str, Any] | None:
    """The invitation for the resident with this ID number at `device`, marked given; None when there is none."""
    now = db.now_utc()
    b, s, v, r, f = db.bookings, db.sessions, db.services, db.residents, db.feedback
    with database.write() as conn:
        given = conn.execute(
            sa.select(sa.func.count())
            .select_from(b)
            .where(
                b.c.rating_invited_device == device.id,
                b.c.rating_invited_at >= db.naive(now - dt.timedelta(hours=1)),
            )
        ).scalar_one()
        if given >= INVITES_PER_HOUR:
            raise TooManyInvitations(device.id)
        cipher = keys.cipher_for(conn)
        resident = conn.execute(
            sa.select(r.c.id).where(
                r.c.township_id == device.township_id, r.c.id_blind == cipher.lookup_hash(id_number)
            )
        ).first()
        if resident is None:
            return None
        row = conn.execute(
            sa.select(b.c.id, s.c.starts_at, v.c.name)
            .join(s, s.c.id == b.c.session_id)
            .join(v, v.c.id == s.c.service_id)
            .where(
                b.c.township_id == device.township_id,
                b.c.resident_id == resident.id,
                b.c.status == BookingStatus.ATTENDED.value,
                sa.or_(b.c.device_id.is_(None), b.c.device_id != device.id),
                b.c.rating_invited_at.is_(None),
                s.c.starts_at >= db.naive(now - INVITE_WITHIN),
                ~sa.exists().where(f.c.booking_id == b.c.id),
            )
            .order_by(s.c.starts_at.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        marked = conn.execute(
            sa.update(b)
            .where(b.c.id == row.id, b.c.rating_invited_at.is_(None))
            .values(rating_invited_at=db.naive(now), rating_invited_device=device.id)
        )
        if marked.rowcount != 1:  # another kiosk asked at the same moment: it invites
            return None
        audit_row(conn, device.township_id, f"kiosk {device.kiosk_number}", "rating_invited", row.id, at=now)
    return {"booking_id": row.id, "service": row.name, "starts_at": db.utc(row.starts_at).isoformat()}
