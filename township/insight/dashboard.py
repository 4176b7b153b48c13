"""County and township dashboard figures, week by week, by township, village, service or provider.

Figures per local week (Monday to Sunday in the township's zone, by the session's start): `bookings` (bookings that
held a seat: pending review, confirmed, checked in, attended, no-show), `attended` (checked in or attended),
`no_show` and the no-show rate among those decided (attended + no-show), `waitlisted` (still on a waiting list),
`refused` (creates refused for lack of seats and full times touched at a kiosk, from `unmet_demand`), and satisfaction: the mean rating with its
sample size and the count of low (1–2) ratings, from `feedback`, by the week of the rated session.

Why a rollup. A county of 20 townships holds millions of bookings; counting a page's eight weeks from them takes
seconds, and so does counting even the current week alone (about 40,000 bookings a week; bench/bench_console.py,
`county_dashboard_plain_ms`). So the figures are kept in `insight_weekly`, one row per township × week × village ×
service × provider, and `insight_weeks` marks which township weeks it holds and when each was made. A page sums the
marked weeks in SQL (hundreds of rows come back, not millions) and counts any week not marked live, with the same
query (`week_facts`) the rollup is made with: one definition of every figure, and a page is right even when no job
has run (only slower).

Two jobs keep it (`start_jobs`, each run by one process between all those on the database, `township.daily`):
- `refresh_open_weeks` every `OPEN_EVERY` (5 minutes): the weeks not yet over, from last week until it closes to
  `OPEN_AHEAD` ahead. The page shows them as of then (`WeekRow.as_of`), not to the second: that is the price of a
  page under 300 ms. One query set per time zone and week covers all townships (a county shares one zone).
- `refresh_closed_weeks` daily: each week once it has ended plus a day (no-shows are marked an hour after a session
  ends), again while it ended within `SETTLE` (four weeks; feedback arrives and staff correct attendance after the
  fact), and every week never rolled up (the first run back-fills the history). A change older than that shows
  after `refresh_week` for its week (or `refresh_closed_weeks(settle=…)` with a longer period). The back-fill goes
  newest week first, so after a first start the weeks the pages show come from the rollup within seconds.
Incremental upkeep at each write (a trigger, or the sync path adding ±1) was not chosen: it would put work and lock
contention on every booking write, the hot path, for a page read a few times a day.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, fields
from operator import add, attrgetter
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cunzhan.models import CHECKED_IN_OR_LATER, HOLDS_SEAT, BookingStatus
from township import db
from township.insight.scope import Scope, Town, last_weeks, monday, towns, week_bounds

By = Literal["township", "village", "service", "provider"]
SETTLE = dt.timedelta(weeks=4)
CLOSE_AFTER = dt.timedelta(days=1)  # a week is rolled up for good this long after it ends
OPEN_EVERY = dt.timedelta(minutes=5)  # weeks not over are rolled up again this often
OPEN_AHEAD = dt.timedelta(weeks=4)  # … up to this far ahead (bookings for coming sessions)

# Bookings that held a seat (a no-show held one until the session ended), and those where the resident came.
SEATED = tuple(sorted(HOLDS_SEAT | {BookingStatus.NO_SHOW}))
ATTENDED = tuple(sorted(CHECKED_IN_OR_LATER - {BookingStatus.NO_SHOW}))


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
        return Figures(*(a + b for a, b in zip(self.counts(), other.counts(), strict=True)))

    def counts(self) -> tuple[int, ...]:
        """The counts in field order (spelled out: a page adds thousands of these)."""
        return (
            self.bookings,
            self.attended,
            self.no_show,
            self.waitlisted,
            self.refused,
            self.ratings,
            self.rating_sum,
            self.low_ratings,
        )

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
    as_of: dt.datetime | None = None  # when its rollup was made (the oldest, for totals); None: counted now


# --- the figures of a week, counted from the tables --------------------------------------------------------------


DIMENSIONS = ("village", "service", "provider")


def week_facts(
    conn: Connection,
    township_ids: Sequence[str],
    week: dt.date,
    bounds: tuple[dt.datetime, dt.datetime],
    by: By | None = None,
) -> list[Fact]:
    """Figures of local week `week` (naive-UTC `bounds`) for these townships (sharing one zone), counted live: per
    village × service × provider, or only per `by` (the other keys left '')."""
    if not township_ids:
        return []
    b, s, r, f, u = db.bookings, db.sessions, db.residents, db.feedback, db.unmet_demand
    lo, hi = bounds
    wanted = DIMENSIONS if by is None else tuple(d for d in DIMENSIONS if d == by)
    # The village a booking was made from; the resident's record only when the booking has none (made by staff).
    village = sa.func.coalesce(
        b.c.contact_village,
        sa.select(r.c.village).where(r.c.id == b.c.resident_id).scalar_subquery(),
        "",
    )
    in_week = sa.and_(s.c.township_id.in_(township_ids), s.c.starts_at >= lo, s.c.starts_at < hi)
    columns = {"village": village, "service": s.c.service_id, "provider": s.c.provider_id}
    keys = [s.c.township_id.label("t"), *(columns[d].label(d) for d in wanted)]
    cells: dict[tuple[str, str, str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0))

    def cell(row: sa.Row[Any]) -> dict[str, int]:
        m = row._mapping
        return cells[(str(m["t"]), *(str(m[d]) if d in wanted else "" for d in DIMENSIONS))]  # type: ignore[index]

    def grouped(*figures: sa.ColumnElement[Any], joined: Any) -> sa.Select[Any]:
        inner = sa.select(*keys, *figures).select_from(joined).where(in_week).subquery()
        names = [c.name for c in keys]
        return sa.select(
            *(inner.c[n] for n in names), *(sa.func.sum(c) for c in list(inner.c)[len(names) :])
        ).group_by(*(inner.c[n] for n in names))

    seated = s.join(b, b.c.session_id == s.c.id)
    one = sa.literal(1)
    booked = grouped(
        sa.case((b.c.status.in_(SEATED), one), else_=0).label("n_seated"),
        sa.case((b.c.status.in_(ATTENDED), one), else_=0).label("n_attended"),
        sa.case((b.c.status == BookingStatus.NO_SHOW, one), else_=0).label("n_no_show"),
        sa.case((b.c.status == BookingStatus.WAITLISTED, one), else_=0).label("n_waiting"),
        joined=seated,
    )
    for row in conn.execute(booked):
        c = cell(row)
        for name, value in zip(("bookings", "attended", "no_show", "waitlisted"), row[-4:], strict=True):
            c[name] += int(value or 0)
    rated = grouped(
        one.label("n"),
        f.c.rating.label("total"),
        sa.case((f.c.rating <= 2, one), else_=0).label("low"),
        joined=seated.join(f, f.c.booking_id == b.c.id),
    )
    for row in conn.execute(rated):
        c = cell(row)
        for name, value in zip(("ratings", "rating_sum", "low_ratings"), row[-3:], strict=True):
            c[name] += int(value or 0)
    unmet = {
        "village": u.c.village,
        "service": u.c.service_id,
        "provider": sa.func.coalesce(u.c.provider_id, ""),
    }
    unmet_keys = [u.c.township_id.label("t"), *(unmet[d].label(d) for d in wanted)]
    refused = (
        sa.select(*unmet_keys, sa.func.count())
        .where(u.c.township_id.in_(township_ids), u.c.week == week, u.c.reason == "slot_full")
        .group_by(*unmet_keys)
    )
    for row in conn.execute(refused):
        cell(row)["refused"] += int(row[-1])
    return [Fact(k[0], week, k[1], k[2], k[3], Figures(**c)) for k, c in sorted(cells.items())]


# --- the rollup ----------------------------------------------------------------------------------------------------


def refresh_week(conn: Connection, town: Town, week: dt.date, *, now: dt.datetime | None = None) -> int:
    """Recompute one township week in the rollup (caller's write transaction); returns how many rows it holds."""
    return refresh_weeks(conn, [town], week, now=now)


def refresh_weeks(
    conn: Connection, group: Sequence[Town], week: dt.date, *, now: dt.datetime | None = None
) -> int:
    """Recompute week `week` of these townships (one time zone) in the rollup, counted with one query set, in the
    caller's write transaction; returns how many rows they hold."""
    if not group:
        return 0
    ids = [t.id for t in group]
    facts = week_facts(conn, ids, week, week_bounds(week, group[0].tz))
    w, m = db.insight_weekly, db.insight_weeks
    conn.execute(sa.delete(w).where(w.c.township_id.in_(ids), w.c.week == week))
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
                    **dict(zip(COUNTS, x.figures.counts(), strict=True)),
                }
                for x in facts
            ],
        )
    conn.execute(sa.delete(m).where(m.c.township_id.in_(ids), m.c.week == week))
    moment = db.naive(now or db.now_utc())
    conn.execute(sa.insert(m), [{"township_id": t, "week": week, "refreshed_at": moment} for t in ids])
    return len(facts)


def refresh_open_weeks(
    database: db.Database, *, now: dt.datetime | None = None, ahead: dt.timedelta = OPEN_AHEAD
) -> int:
    """Roll up the weeks not yet over (the last one until it closes, the current one, and those up to `ahead`),
    one write transaction per time zone and week; returns how many township weeks it wrote. Run every few minutes
    (`start_jobs`): the page shows them as of then (`WeekRow.as_of`)."""
    moment = db.utc(now or db.now_utc())
    with database.read() as conn:
        everyone = _all_towns(conn)
    zones: dict[str, list[Town]] = defaultdict(list)
    for town in everyone:
        zones[town.zone].append(town)
    written = 0
    for group in zones.values():
        tz = group[0].tz
        week = monday(moment.astimezone(tz).date()) - dt.timedelta(weeks=1)
        while db.utc(week_bounds(week, tz)[0]) <= moment + ahead:
            if db.utc(week_bounds(week, tz)[1]) + CLOSE_AFTER > moment:
                with database.write() as conn:
                    refresh_weeks(conn, group, week, now=moment)
                written += len(group)
            week += dt.timedelta(weeks=1)
    return written


def _all_towns(conn: Connection) -> list[Town]:
    t = db.townships
    return [
        Town(str(r.id), str(r.slug), str(r.name), str(r.zone))
        for r in conn.execute(sa.select(t.c.id, t.c.slug, t.c.name, t.c.zone).order_by(t.c.id))
    ]


def refresh_closed_weeks(
    database: db.Database, *, now: dt.datetime | None = None, settle: dt.timedelta = SETTLE
) -> int:
    """Roll up every township's weeks that are over: those never rolled up (from its first session on) and those
    that ended within `settle`. One short write transaction per township week, the newest weeks first (the pages
    show the last 4 to 26: after a first start they are served from the rollup within seconds, not once the whole
    history is done); returns how many weeks it wrote."""
    moment = db.utc(now or db.now_utc())
    written = 0
    with database.read() as conn:
        everyone = _all_towns(conn)
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
    due: list[tuple[dt.date, str, Town]] = []
    for town in everyone:
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
                due.append((week, town.id, town))
            week += dt.timedelta(weeks=1)
    for week, _id, town in sorted(due, key=lambda d: (d[0], d[1]), reverse=True):
        with database.write() as conn:
            refresh_week(conn, town, week, now=moment)
        written += 1
    return written


def start_jobs(database: db.Database) -> list[threading.Event]:
    """Keep the rollup current while serving: `refresh_closed_weeks` daily and `refresh_open_weeks` every
    `OPEN_EVERY`, each run by one process between all those on this database (`township.daily`'s claim). Set the
    returned events to stop them."""
    from township import daily

    return [
        daily.start(database, "insight_rollup", lambda: refresh_closed_weeks(database)),
        daily.start(
            database,
            "insight_open_weeks",
            lambda: refresh_open_weeks(database),
            every=OPEN_EVERY,
            check_s=OPEN_EVERY.total_seconds() / 5,
        ),
    ]


# --- reading -------------------------------------------------------------------------------------------------------


def _rolled_up(
    conn: Connection,
    wanted: dict[str, list[dt.date]],
    marked: dict[tuple[str, dt.date], dt.datetime | None],
    by: By | None,
    *,
    per_week: bool,
) -> list[Fact]:
    """`facts` from the rollup: the marked ones of the wanted township weeks."""
    w = db.insight_weekly
    ids = list(wanted)
    first = min(ws[0] for ws in wanted.values())
    last = max(ws[-1] for ws in wanted.values())
    out: list[Fact] = []
    dims = DIMENSIONS if by is None else tuple(d for d in DIMENSIONS if d == by)  # "township": none
    columns = {"village": w.c.village, "service": w.c.service_id, "provider": w.c.provider_id}
    # Always the three keys, '' for those not grouped by: every row is read the same way, in one pass (a county
    # by village over 26 weeks reads 10,400 rows).
    named = [columns[d] if d in dims else sa.literal_column("''") for d in DIMENSIONS]
    grouped = [columns[d] for d in dims]
    sums = [sa.cast(sa.func.sum(w.c[n]), sa.BigInteger) for n in COUNTS]
    in_range = [w.c.township_id.in_(ids), w.c.week >= first, w.c.week <= last]
    if per_week:
        query = (
            sa.select(w.c.township_id, w.c.week, *named, *sums)
            .where(*in_range)
            .group_by(w.c.township_id, w.c.week, *grouped)
        )
        wanted_sets = {t: set(ws) for t, ws in wanted.items()}
        for row in conn.execute(query).all():
            tid, week = row[0], row[1]
            if (tid, week) in marked and week in wanted_sets[tid]:
                out.append(Fact(tid, week, row[2], row[3], row[4], Figures(*row[5:])))
    else:
        # The townships by the weeks of theirs that are rolled up (usually one group: all of them, every week).
        alike: dict[tuple[dt.date, ...], list[str]] = defaultdict(list)
        for t, ws in wanted.items():
            alike[tuple(wk for wk in ws if (t, wk) in marked)].append(t)
        rolled = [sa.and_(w.c.township_id.in_(ts), w.c.week.in_(ws)) for ws, ts in alike.items() if ws]
        query = (
            sa.select(w.c.township_id, *named, *sums)
            .where(*in_range, sa.or_(*rolled))
            .group_by(w.c.township_id, *grouped)
        )
        for row in conn.execute(query).all() if rolled else ():
            tid = row[0]
            out.append(Fact(tid, wanted[tid][0], row[1], row[2], row[3], Figures(*row[4:])))
    return out


def facts(
    conn: Connection,
    scope: Scope,
    weeks: int = 8,
    *,
    by: By | None = None,
    today: dt.date | None = None,
    per_week: bool = True,
) -> tuple[list[Town], list[Fact], dict[tuple[str, dt.date], dt.datetime | None]]:
    """The facts of the last `weeks` local weeks (up to the one holding `today`, default today in each township's
    zone) for the townships in `scope`, per village × service × provider or only per `by`: from the rollup where a
    township week is marked, else counted live. Summed in SQL: a page reads hundreds of rows, not the rollup's.

    With `per_week=False` (`totals`) the rolled-up weeks are summed in SQL too: one fact per township and key, dated
    its township's first week (weeks counted live still come one a week), and the marks returned are one per
    township, on that first week: the oldest of its weeks' marks, None when one of its weeks was counted live."""
    covered = towns(conn, scope)
    if not covered:
        return covered, [], {}
    wanted: dict[str, list[dt.date]] = {
        t.id: last_weeks(today or db.now_utc().astimezone(t.tz).date(), weeks) for t in covered
    }
    ids = [t.id for t in covered]
    first = min(w[0] for w in wanted.values())
    last = max(w[-1] for w in wanted.values())
    m = db.insight_weeks
    marked: dict[tuple[str, dt.date], dt.datetime | None] = {
        (str(t), wk): db.utc(at)
        for t, wk, at in conn.execute(
            sa.select(m.c.township_id, m.c.week, m.c.refreshed_at).where(
                m.c.township_id.in_(ids), m.c.week >= first, m.c.week <= last
            )
        )
    }
    out = _rolled_up(conn, wanted, marked, by, per_week=per_week) if marked else []
    # Weeks not rolled up, counted live: one query set per zone and week (a county's townships share one zone).
    live: dict[tuple[str, dt.date], list[Town]] = defaultdict(list)
    for town in covered:
        for week in wanted[town.id]:
            if (town.id, week) not in marked:
                live[(town.zone, week)].append(town)
    for (_zone, week), group in sorted(live.items()):
        out.extend(week_facts(conn, [t.id for t in group], week, week_bounds(week, group[0].tz), by))
    if not per_week:
        made = {t: [marked.get((t, wk)) for wk in ws] for t, ws in wanted.items()}
        marked = {
            (t, wanted[t][0]): None if None in marks else min(m for m in marks if m is not None)
            for t, marks in made.items()
        }
    return covered, out, marked


def weekly(
    conn: Connection, scope: Scope, by: By = "township", *, weeks: int = 8, today: dt.date | None = None
) -> list[WeekRow]:
    """The dashboard: figures per week and per township, village, service or provider, for the townships in
    `scope` over the last `weeks` weeks; weeks oldest first, then by township and label."""
    covered, found, marked = facts(conn, scope, weeks, by=by, today=today)
    return _rows(conn, covered, found, marked, by, per_week=True)


def totals(
    conn: Connection, scope: Scope, by: By = "township", *, weeks: int = 8, today: dt.date | None = None
) -> list[WeekRow]:
    """`weekly` summed over the weeks (each row's `week` is the first of them)."""
    covered, found, marked = facts(conn, scope, weeks, by=by, today=today, per_week=False)
    return _rows(conn, covered, found, marked, by, per_week=False)


def _rows(
    conn: Connection,
    covered: list[Town],
    found: list[Fact],
    marked: dict[tuple[str, dt.date], dt.datetime | None],
    by: By,
    *,
    per_week: bool,
) -> list[WeekRow]:
    names = {t.id: t.name for t in covered}
    first = min((x.week for x in found), default=dt.date.min)
    field = {
        "township": "township_id",
        "village": "village",
        "service": "service_id",
        "provider": "provider_id",
    }[by]
    # One pass over the facts: a fact that is a cell of its own (the usual case for a week by village, service or
    # provider: the rollup's query has already summed it) keeps its Figures; only cells made of several are added up.
    pick = attrgetter(field)
    cells: dict[tuple[dt.date, str, str], Figures] = {}
    sums: dict[tuple[dt.date, str, str], list[int]] = {}
    as_of: dict[tuple[dt.date, str, str], dt.datetime | None] = {}
    for x in found:
        cell = (x.week if per_week else first, x.township_id, pick(x))
        made = marked.get((x.township_id, x.week))
        other = cells.get(cell)
        if other is None:
            cells[cell] = x.figures
            as_of[cell] = made
            continue
        seen = as_of[cell]
        as_of[cell] = None if made is None or seen is None else min(made, seen)
        total = sums.get(cell)
        sums[cell] = list(map(add, total or other.counts(), x.figures.counts()))
    for cell, total in sums.items():
        cells[cell] = Figures(*total)
    labels = _labels(conn, by, {k for _w, _t, k in cells})
    township = by == "township"
    ordered = sorted(
        (week, names[t], names[t] if township else labels.get(key, key), key, t) for week, t, key in cells
    )
    rows = [
        WeekRow(week, t, name, key, label, cells[(week, t, key)], as_of[(week, t, key)])
        for week, name, label, key, t in ordered
    ]
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
