"""Unmet demand: what residents tried to book and could not have, with no personal data.

One row per event: a create refused for lack of seats or a full time touched at a kiosk (`slot_full`), a create put
on the waiting list (`waitlisted`), or a search that found no session (`no_session`). What is kept: township, village (as the kiosk
gave it), service, the wanted session (if any) and its provider, the local week, weekday and time band of what was
wanted, the reason, and when (to the hour). Never the resident, the booking, the kiosk or the exact time, so the rows
cannot be joined back to a person. The needs profile (`township.insight.needs`) and the dashboard's refusals read it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from township import db
from township.insight.scope import band_of, local, monday

Reason = Literal["slot_full", "waitlisted", "no_session"]
REASONS: tuple[Reason, ...] = ("slot_full", "waitlisted", "no_session")


def record_unmet(
    conn: Connection,
    township_id: str,
    reason: Reason,
    *,
    village: str | None,
    session: Any | None = None,
    service_id: str | None = None,
    wanted_at: dt.datetime | None = None,
    at: dt.datetime | None = None,
) -> str:
    """Record one unmet-demand event in the caller's transaction; returns its id.

    `session`: the wanted session's row (it needs `id`, `township_id`, `service_id`, `provider_id`, `starts_at`),
    for `slot_full` and `waitlisted`. Without one (`no_session`), `service_id` and `wanted_at` (the day and time
    looked for; default `at`) say what was wanted. ValueError for an unknown reason, a session of another township
    or a missing service.
    """
    if reason not in REASONS:
        raise ValueError(f"unknown reason {reason!r}")
    moment = at or db.now_utc()
    provider_id: str | None = None
    session_id: str | None = None
    if session is not None:
        if session.township_id != township_id:
            raise ValueError("the session is not this township's")
        session_id, service_id, provider_id = (
            str(session.id),
            str(session.service_id),
            str(session.provider_id),
        )
        wanted = session.starts_at
    else:
        wanted = wanted_at or moment
    if service_id is None:
        raise ValueError("a service or a session is needed")
    zone = conn.execute(sa.select(db.townships.c.zone).where(db.townships.c.id == township_id)).scalar_one()
    when = local(wanted, ZoneInfo(str(zone)))
    event_id = str(uuid.uuid4())
    conn.execute(
        sa.insert(db.unmet_demand).values(
            id=event_id,
            township_id=township_id,
            village=(village or "").strip()[:100],
            service_id=service_id,
            session_id=session_id,
            provider_id=provider_id,
            week=monday(when.date()),
            weekday=when.weekday(),
            band=band_of(when),
            reason=reason,
            at=db.naive(moment).replace(minute=0, second=0, microsecond=0),
        )
    )
    return event_id
