"""Levels: a county above its townships, and the scope every insight query takes.

A `Scope` is what an account may see: one township, or every township of one county. Queries resolve it once to
the list of township ids (`township_ids`) and filter every table on `township_id IN (…)`; a township asked for
by id outside the scope is refused (`narrow`), never silently widened.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from township import db


class OutOfScope(LookupError):
    """A township (or county) the account's scope does not cover, or that does not exist."""


@dataclass(frozen=True, slots=True)
class Scope:
    """One township (`Scope.township(id)`) or one county and all its townships (`Scope.county(id)`)."""

    level: Literal["county", "township"]
    id: str

    @classmethod
    def county(cls, county_id: str) -> Scope:
        return cls("county", county_id)

    @classmethod
    def township(cls, township_id: str) -> Scope:
        return cls("township", township_id)


@dataclass(frozen=True, slots=True)
class Town:
    """A township as the insight queries need it."""

    id: str
    slug: str
    name: str
    zone: str

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)


def towns(conn: Connection, scope: Scope) -> list[Town]:
    """The townships `scope` covers, by name; OutOfScope when its county or township does not exist."""
    t = db.townships
    query = sa.select(t.c.id, t.c.slug, t.c.name, t.c.zone).order_by(t.c.name, t.c.id)
    if scope.level == "township":
        rows = conn.execute(query.where(t.c.id == scope.id)).all()
        if not rows:
            raise OutOfScope(scope.id)
    else:
        if conn.execute(sa.select(db.counties.c.id).where(db.counties.c.id == scope.id)).first() is None:
            raise OutOfScope(scope.id)
        rows = conn.execute(query.where(t.c.county_id == scope.id)).all()
    return [Town(str(r.id), str(r.slug), str(r.name), str(r.zone)) for r in rows]


def township_ids(conn: Connection, scope: Scope) -> list[str]:
    """The ids of the townships `scope` covers."""
    return [town.id for town in towns(conn, scope)]


def narrow(conn: Connection, scope: Scope, township_id: str | None) -> Scope:
    """`scope` limited to one of its townships (None: `scope` itself); OutOfScope when it is not one of them."""
    if township_id is None:
        return scope
    if township_id not in township_ids(conn, scope):
        raise OutOfScope(township_id)
    return Scope.township(township_id)


def create_county(
    conn: Connection, slug: str, name: str, *, zone: str = "Asia/Shanghai", locale: str = "zh_CN"
) -> str:
    """A new county (in the caller's write transaction); returns its id. ValueError for an unknown time zone."""
    ZoneInfo(zone)  # raises for a zone that does not exist
    county_id = str(uuid.uuid4())
    conn.execute(
        sa.insert(db.counties).values(
            id=county_id, slug=slug, name=name, zone=zone, locale=locale, created_at=db.naive(db.now_utc())
        )
    )
    return county_id


def assign_township(conn: Connection, township_id: str, county_id: str | None) -> None:
    """Put a township under a county (None: under none), in the caller's write transaction."""
    done = conn.execute(
        sa.update(db.townships).where(db.townships.c.id == township_id).values(county_id=county_id)
    )
    if done.rowcount != 1:
        raise OutOfScope(township_id)


# --- local time: weeks, weekdays, time bands ---------------------------------------------------------------------

Band = Literal["morning", "afternoon", "evening"]
BAND_START = {"morning": dt.time(9, 0), "afternoon": dt.time(14, 0), "evening": dt.time(19, 0)}  # suggested


def band_of(local: dt.datetime) -> Band:
    """Morning before 12:00, afternoon before 18:00, evening after (local time)."""
    if local.hour < 12:
        return "morning"
    return "afternoon" if local.hour < 18 else "evening"


def monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def local(moment: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """A stored naive-UTC (or aware) time in the township's zone."""
    return db.utc(moment).astimezone(tz)


def week_bounds(week: dt.date, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The local week starting Monday `week` as naive-UTC [start, end) for queries."""
    start = dt.datetime(week.year, week.month, week.day, tzinfo=tz)
    end_day = week + dt.timedelta(days=7)
    end = dt.datetime(end_day.year, end_day.month, end_day.day, tzinfo=tz)
    return db.naive(start), db.naive(end)


def last_weeks(today: dt.date, count: int) -> list[dt.date]:
    """The Mondays of the `count` weeks ending with the one holding `today`, oldest first."""
    last = monday(today)
    return [last - dt.timedelta(weeks=n) for n in range(count - 1, -1, -1)]
