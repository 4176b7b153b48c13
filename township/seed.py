"""Seed the demo township (`--demo`): 青山镇 with the kiosk's demo catalogue and a two-week schedule.

Uses `cunzhan.demo` so the ids are the same stable uuid5 values the kiosk's offline demo uses. Idempotent: rows that
exist are left alone; missing days of the schedule are added (running it again tomorrow extends the schedule).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from cunzhan import demo
from township import booking as B
from township import db
from township.services import create_township


def seed_demo(database: db.Database, *, today: dt.date | None = None, days: int = 14) -> str:
    """Create or complete township `demo`; returns its id."""
    township = create_township(database, demo.TOWNSHIP_SLUG, demo.TOWNSHIP_NAME, zone=demo.ZONE.key)
    start = today or demo.today_local()
    now = db.naive(db.now_utc())
    with database.write() as conn:
        db.lock_township(conn, township)
        for name in demo.VILLAGES:
            if (
                conn.execute(
                    sa.select(db.villages.c.id).where(
                        db.villages.c.township_id == township, db.villages.c.name == name
                    )
                ).first()
                is None
            ):
                conn.execute(
                    sa.insert(db.villages).values(
                        id=demo.stable_id("village", name), township_id=township, name=name
                    )
                )
        for svc in demo.SERVICES:
            if conn.execute(sa.select(db.services.c.id).where(db.services.c.id == svc.id)).first() is None:
                conn.execute(
                    sa.insert(db.services).values(
                        id=svc.id,
                        township_id=township,
                        kind=svc.kind.value,
                        name=svc.name,
                        description=svc.description,
                        review=svc.review,
                        what_to_bring=svc.what_to_bring,
                        updated_at=now,
                    )
                )
                B.emit_service(conn, svc.id)
        for prov in demo.PROVIDERS:
            if conn.execute(sa.select(db.providers.c.id).where(db.providers.c.id == prov.id)).first() is None:
                conn.execute(
                    sa.insert(db.providers).values(
                        id=prov.id,
                        township_id=township,
                        name=prov.name,
                        title=prov.title,
                        organisation=prov.organisation,
                        updated_at=now,
                    )
                )
                B.emit_provider(conn, prov.id)
        for ses in demo.demo_sessions(start, days):
            if conn.execute(sa.select(db.sessions.c.id).where(db.sessions.c.id == ses.id)).first() is None:
                conn.execute(
                    sa.insert(db.sessions).values(
                        id=ses.id,
                        township_id=township,
                        service_id=ses.service_id,
                        provider_id=ses.provider_id,
                        starts_at=db.naive(ses.starts_at),
                        ends_at=db.naive(ses.ends_at),
                        capacity=ses.capacity,
                        room=ses.room,
                        video_url=ses.video_url,
                        status="open",
                        version=0,
                        updated_at=now,
                    )
                )
                B.emit_session(conn, ses.id)
    return township
