"""County and township dashboard figures, week by week, by township, village, service or provider.

Figures per local week (Monday to Sunday in the township's zone, by the session's start): `bookings` (bookings that
held a seat: pending review, confirmed, checked in, attended, no-show), `attended` (checked in or attended),
`no_show` and the no-show rate among those decided (attended + no-show), `waitlisted` (still on a waiting list),
`refused` (creates refused for lack of seats, from `unmet_demand`), and satisfaction: the mean rating with its
sample size and the count of low (1–2) ratings, from `feedback`, by the week of the rated session.

Why a rollup. A county of 20 townships holds millions of bookings; a page that groups them all on every view takes
seconds (bench/bench_console.py, `county_dashboard_plain_ms`). So weeks that are over are kept in `insight_weekly`,
one row per township × week × village × service × provider, and `insight_weeks` marks which township weeks it holds.
A page reads the marked weeks from the rollup (thousands of rows, not millions) and counts the weeks not marked (the
current one, upcoming ones, any not rolled up yet) live, with the same query (`week_facts`) the rollup is made with:
one definition of every figure, and a page is right even when the job has never run.

The job (`refresh_closed_weeks`, daily through `township.daily`: `start_daily`) rolls up each week once it has
ended plus a day (no-shows are marked an hour after a session ends), and recomputes weeks that ended within
`SETTLE` (four weeks): feedback arrives and staff correct attendance after the fact. A change older than that shows
after `refresh_week` for its week (or `refresh_closed_weeks(settle=…)` with a longer period).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from township import db
from township.insight.scope import Scope, Town, last_weeks, monday, towns, week_bounds

By = Literal["township", "village", "service", "provider"]
SETTLE = dt.timedelta(weeks=4)
CLOSE_AFTER = dt.timedelta(days=1)  # a week is rolled up this long after it ends

SEATED = ("pending_review", "confirmed", "checked_in", "attended", "no_show")
ATTENDED = ("checked_in", "attended")


@dataclass(frozen=True, slots=True)
class Figures:
    """One cell of the dashboard: counts, and the rates made from them."""

    bookings: int = 0
    attended: int = 0
    no_show: int = 0
    waitlisted: int = 0
    refused: int = 0
    ratings: int = 0
    rating_sum: int = 0
    low_ratings: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(Figures)))

    @property
    def no_show_rate(self) -> float | None:
        """No-shows among bookings decided (attended or no-show); None before any is decided."""
        decided = self.attended + self.no_show
        return self.no_show / decided if decided else None

    @property
    def rating_mean(self) -> float | None:
        """Mean rating (1–5) over `ratings` answers; None without any."""
        return self.rating_sum / self.ratings if self.ratings else None


COUNTS = tuple(f.name for f in fields(Figures))


@dataclass(frozen=True, slots=True)
class Fact:
    """Figures for one township × week × village × service × provider ('' for none)."""

    township_id: str
    week: dt.date
    village: str
    service_id: str
    provider_id: str
    figures: Figures


@dataclass(frozen=True, slots=True)
class WeekRow:
    """One row of a dashboard: a week and one township, village, service or provider (`key`, shown as `label`)."""

    week: dt.date
    township_id: str
    township: str
    key: str
    label: str
    figures: Figures


# --- the figures of a week, counted from the tables --------------------------------------------------------------


def week_facts(
    conn: Connection, township_ids: Sequence[str], week: dt.date, bounds: tuple[dt.datetime, dt.datetime]
) -> list[Fact]:
    """Figures of local week `week` (naive-UTC `bounds`) for these townships (sharing one zone), counted live."""
    if not township_ids:
        return []
    b, s, r, f, u = db.bookings, db.sessions, db.residents, db.feedback, db.unmet_demand
    lo, hi = bounds
    village = sa.func.coalesce(b.c.contact_village, r.c.village, "").label("village")
    in_week = sa.and_(s.c.township_id.in_(township_ids), s.c.starts_at >= lo, s.c.starts_at < hi)
    keys = (s.c.township_id, village, s.c.service_id, s.c.provider_id)
    cells: dict[tuple[str, str, str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0))

    def count(status: Iterable[str]) -> sa.ColumnElement[int]:
        return sa.func.sum(sa.case((b.c.status.in_(tuple(status)), 1), else_=0))

    booked = (
        sa.select(*keys, count(SEATED), count(ATTENDED), count(("no_show",)), count(("waitlisted",)))
        .select_from(s.join(b, b.c.session_id == s.c.id).outerjoin(r, r.c.id == b.c.resident_id))
        .where(in_week)
        .group_by(*keys)
    )
    for t, v, sv, p, n_booked, n_attended, n_no_show, n_waiting in conn.execute(booked):
        cell = cells[(str(t), str(v), str(sv), str(p))]
        cell["bookings"] += int(n_booked or 0)
        cell["attended"] += int(n_attended or 0)
        cell["no_show"] += int(n_no_show or 0)
        cell["waitlisted"] += int(n_waiting or 0)
    rated = (
        sa.select(
            *keys,
            sa.func.count(),
            sa.func.sum(f.c.rating),
            sa.func.sum(sa.case((f.c.rating <= 2, 1), else_=0)),
        )
        .select_from(
            s.join(b, b.c.session_id == s.c.id)
            .join(f, f.c.booking_id == b.c.id)
            .outerjoin(r, r.c.id == b.c.resident_id)
        )
        .where(in_week)
        .group_by(*keys)
    )
    for t, v, sv, p, n, total, low in conn.execute(rated):
        cell = cells[(str(t), str(v), str(sv), str(p))]
        cell["ratings"] += int(n)
        cell["rating_sum"] += int(total or 0)
        cell["low_ratings"] += int(low or 0)
    provider = sa.func.coalesce(u.c.provider_id, "")
    refused = (
        sa.select(u.c.township_id, u.c.village, u.c.service_id, provider, sa.func.count())
        .where(u.c.township_id.in_(township_ids), u.c.week == week, u.c.reason == "slot_full")
        .group_by(u.c.township_id, u.c.village, u.c.service_id, provider)
    )
    for t, v, sv, p, n in conn.execute(refused):
        cells[(str(t), str(v), str(sv), str(p))]["refused"] += int(n)
    return [Fact(k[0], week, k[1], k[2], k[3], Figures(**c)) for k, c in sorted(cells.items())]


# --- the rollup ----------------------------------------------------------------------------------------------------


def refresh_week(conn: Connection, town: Town, week: dt.date, *, now: dt.datetime | None = None) -> int:
    """Recompute one township week in the rollup (caller's write transaction); returns how many rows it holds."""
    facts = week_facts(conn, [town.id], week, week_bounds(week, town.tz))
    w, m = db.insight_weekly, db.insight_weeks
    conn.execute(sa.delete(w).where(w.c.township_id == town.id, w.c.week == week))
    if facts:
        conn.execute(
            sa.insert(w),
            [
                {
                    "township_id": x.township_id,
                    "week": x.week,
                    "village": x.village,
                    "service_id": x.service_id,
                    "provider_id": x.provider_id,
                    **{name: getattr(x.figures, name) for name in COUNTS},
                }
                for x in facts
            ],
        )
    conn.execute(sa.delete(m).where(m.c.township_id == town.id, m.c.week == week))
    conn.execute(
        sa.insert(m).values(township_id=town.id, week=week, refreshed_at=db.naive(now or db.now_utc()))
    )
    return len(facts)


def refresh_closed_weeks(
    database: db.Database, *, now: dt.datetime | None = None, settle: dt.timedelta = SETTLE
) -> int:
    """Roll up every township's weeks that are over: those never rolled up (from its first session on) and those
    that ended within `settle`. One short write transaction per township week; returns how many weeks it wrote."""
    moment = db.utc(now or db.now_utc())
    written = 0
    with database.read() as conn:
        everyone = conn.execute(
            sa.select(db.townships.c.id, db.townships.c.slug, db.townships.c.name, db.townships.c.zone)
        ).all()
        firsts = dict(
            conn.execute(
                sa.select(db.sessions.c.township_id, sa.func.min(db.sessions.c.starts_at)).group_by(
                    db.sessions.c.township_id
                )
            ).all()
        )
        marked = {
            (str(t), w)
            for t, w in conn.execute(sa.select(db.insight_weeks.c.township_id, db.insight_weeks.c.week))
        }
    for row in everyone:
        town = Town(str(row.id), str(row.slug), str(row.name), str(row.zone))
        first = firsts.get(town.id)
        if first is None:
            continue
        week = monday(db.utc(first).astimezone(town.tz).date())
        while True:
            _lo, hi = week_bounds(week, town.tz)
            ended = db.utc(hi)
            if ended + CLOSE_AFTER > moment:
                break
            if (town.id, week) not in marked or ended + settle > moment:
                with database.write() as conn:
                    refresh_week(conn, town, week, now=moment)
                written += 1
            week += dt.timedelta(weeks=1)
    return written


def start_daily(database: db.Database) -> threading.Event:
    """Run `refresh_closed_weeks` now and then daily, once a day between all processes on this database."""
    from township import daily

    return daily.start(database, "insight_rollup", lambda: refresh_closed_weeks(database))


# --- reading -------------------------------------------------------------------------------------------------------


def facts(
    conn: Connection, scope: Scope, weeks: int = 8, *, today: dt.date | None = None
) -> tuple[list[Town], list[Fact]]:
    """Every fact of the last `weeks` local weeks (up to the one holding `today`, default today in each township's
    zone) for the townships in `scope`: from the rollup where a week is marked, else counted live."""
    covered = towns(conn, scope)
    if not covered:
        return covered, []
    wanted: dict[str, list[dt.date]] = {
        t.id: last_weeks(today or db.now_utc().astimezone(t.tz).date(), weeks) for t in covered
    }
    ids = [t.id for t in covered]
    first = min(w[0] for w in wanted.values())
    last = max(w[-1] for w in wanted.values())
    m, w = db.insight_weeks, db.insight_weekly
    marked = {
        (str(t), wk)
        for t, wk in conn.execute(
            sa.select(m.c.township_id, m.c.week).where(
                m.c.township_id.in_(ids), m.c.week >= first, m.c.week <= last
            )
        )
    }
    out: list[Fact] = []
    if marked:
        query = sa.select(
            w.c.township_id, w.c.week, w.c.village, w.c.service_id, w.c.provider_id, *(w.c[n] for n in COUNTS)
        ).where(w.c.township_id.in_(ids), w.c.week >= first, w.c.week <= last)
        for row in conn.execute(query):
            if (str(row.township_id), row.week) in marked and row.week in wanted[str(row.township_id)]:
                out.append(
                    Fact(
                        str(row.township_id),
                        row.week,
                        str(row.village),
                        str(row.service_id),
                        str(row.provider_id),
                        Figures(*(int(row._mapping[n]) for n in COUNTS)),
                    )
                )
    # Weeks not rolled up, counted live: one query set per zone and week (a county's townships share one zone).
    live: dict[tuple[str, dt.date], list[Town]] = defaultdict(list)
    for town in covered:
        for week in wanted[town.id]:
            if (town.id, week) not in marked:
                live[(town.zone, week)].append(town)
    for (_zone, week), group in sorted(live.items()):
        out.extend(week_facts(conn, [t.id for t in group], week, week_bounds(week, group[0].tz)))
    return covered, out


def weekly(
    conn: Connection, scope: Scope, by: By = "township", *, weeks: int = 8, today: dt.date | None = None
) -> list[WeekRow]:
    """The dashboard: figures per week and per township, village, service or provider, for the townships in
    `scope` over the last `weeks` weeks; weeks oldest first, then by township and label."""
    covered, found = facts(conn, scope, weeks, today=today)
    return _rows(conn, covered, found, by, per_week=True)


def totals(
    conn: Connection, scope: Scope, by: By = "township", *, weeks: int = 8, today: dt.date | None = None
) -> list[WeekRow]:
    """`weekly` summed over the weeks (each row's `week` is the first of them)."""
    covered, found = facts(conn, scope, weeks, today=today)
    return _rows(conn, covered, found, by, per_week=False)


def _rows(
    conn: Connection, covered: list[Town], found: list[Fact], by: By, *, per_week: bool
) -> list[WeekRow]:
    names = {t.id: t.name for t in covered}
    first = min((x.week for x in found), default=dt.date.min)
    cells: dict[tuple[dt.date, str, str], Figures] = {}
    for x in found:
        key = {
            "township": x.township_id,
            "village": x.village,
            "service": x.service_id,
            "provider": x.provider_id,
        }[by]
        cell = (x.week if per_week else first, x.township_id, key)
        cells[cell] = cells.get(cell, Figures()) + x.figures
    labels = _labels(conn, by, {k for _w, _t, k in cells})
    rows = [
        WeekRow(week, t, names[t], key, names[t] if by == "township" else labels.get(key, key), value)
        for (week, t, key), value in cells.items()
    ]
    rows.sort(key=lambda r: (r.week, r.township, r.label, r.key))
    return rows


def _labels(conn: Connection, by: By, keys: set[str]) -> dict[str, str]:
    """Names for service or provider ids ('' → '—'); villages are their own names."""
    table = {"service": db.services, "provider": db.providers}.get(by)
    out = {"": "—"}
    if table is None or not keys:
        return out
    ids = sorted(k for k in keys if k)
    for chunk in range(0, len(ids), 500):
        out.update(
            (str(i), str(n))
            for i, n in conn.execute(
                sa.select(table.c.id, table.c.name).where(table.c.id.in_(ids[chunk : chunk + 500]))
            )
        )
    return out
