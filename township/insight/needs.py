"""The needs profile (需求画像): unmet demand ranked by village × service × weekday × time band, with what a
scheduler needs to add sessions in one click. Read from `unmet_demand` (no personal data; `township.insight.unmet`).

A row counts the events of the last N weeks (refused for lack of seats, waitlisted, searched and found nothing) and
in how many distinct weeks they came. The suggested capacity is the unmet demand of an affected week, on average
(rounded up): enough seats for what was refused, not a forecast.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from township import db
from township.insight.scope import BAND_START, Band, Scope, last_weeks, towns

WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
BANDS_ZH = {"morning": "上午", "afternoon": "下午", "evening": "晚上"}
BANDS_EN = {"morning": "mornings", "afternoon": "afternoons", "evening": "evenings"}


@dataclass(frozen=True, slots=True)
class Need:
    """Unmet demand for one service in one village at one weekday and time band, and a session to meet it."""

    township_id: str
    township: str
    village: str
    service_id: str
    service: str
    kind: str
    weekday: int  # 0 Monday … 6 Sunday
    band: Band
    total: int
    slot_full: int
    waitlisted: int
    no_session: int
    weeks_with_demand: int
    weeks: int  # the period looked at
    # For "create sessions": the provider most often wanted (None: none was), a start time, seats, the next date.
    provider_id: str | None
    start: dt.time
    suggested_capacity: int
    next_date: dt.date

    def describe(self, locale: str = "zh_CN") -> str:
        """ "慢病随访, 上坪村, 周二上午: 23 次未约上（4 周内）" / "…, Tuesday mornings: 23 refused in 4 weeks"."""
        village = self.village or ("未填村" if locale.startswith("zh") else "village not given")
        if locale.startswith("zh"):
            when = WEEKDAYS_ZH[self.weekday] + BANDS_ZH[self.band]
            return f"{self.service}, {village}, {when}: {self.total} 次未约上（{self.weeks} 周内）"
        when = f"{WEEKDAYS_EN[self.weekday]} {BANDS_EN[self.band]}"
        return f"{self.service}, {village}, {when}: {self.total} refused in {self.weeks} weeks"


def needs_profile(
    conn: Connection, scope: Scope, *, weeks: int = 4, today: dt.date | None = None, limit: int = 100
) -> list[Need]:
    """The ranked unmet demand of the last `weeks` weeks (the current one included) in the scope's townships."""
    covered = {t.id: t for t in towns(conn, scope)}
    if not covered:
        return []
    u, sv = db.unmet_demand, db.services
    day = today or db.now_utc().astimezone(next(iter(covered.values())).tz).date()
    first = last_weeks(day, weeks)[0]
    keys = (u.c.township_id, u.c.village, u.c.service_id, u.c.weekday, u.c.band)
    in_period = sa.and_(u.c.township_id.in_(list(covered)), u.c.week >= first)

    def of(reason: str) -> sa.ColumnElement[Any]:
        return sa.func.sum(sa.case((u.c.reason == reason, 1), else_=0))

    total = sa.func.count()
    affected = sa.func.count(sa.distinct(u.c.week))
    # Ranked in SQL: only the top `limit` rows come back, however many villages and weeks there are.
    top = conn.execute(
        sa.select(*keys, total, of("slot_full"), of("waitlisted"), of("no_session"), affected)
        .where(in_period)
        .group_by(*keys)
        .order_by(total.desc(), affected.desc(), *keys)
        .limit(limit)
    ).all()
    groups = {
        (str(r[0]), str(r[1]), str(r[2]), int(r[3]), str(r[4])): tuple(int(v or 0) for v in r[5:])
        for r in top
    }
    providers: dict[tuple[str, str, str, int, str], Counter[str]] = defaultdict(Counter)
    if groups:
        for r in conn.execute(
            sa.select(*keys, u.c.provider_id, sa.func.count())
            .where(
                in_period,
                u.c.provider_id.is_not(None),
                u.c.service_id.in_(sorted({k[2] for k in groups})),
            )
            .group_by(*keys, u.c.provider_id)
        ):
            key = (str(r[0]), str(r[1]), str(r[2]), int(r[3]), str(r[4]))
            if key in groups:
                providers[key][str(r[5])] += int(r[6])
    services = {
        str(r.id): r
        for r in conn.execute(
            sa.select(sv.c.id, sv.c.name, sv.c.kind).where(
                sv.c.id.in_(sorted({k[2] for k in groups} or {""}))
            )
        )
    }
    out = []
    for (t, village, service_id, weekday, band), (
        count,
        full,
        waiting,
        searched,
        weeks_hit,
    ) in groups.items():
        svc = services.get(service_id)
        provider = providers[(t, village, service_id, weekday, band)].most_common(1)
        out.append(
            Need(
                t,
                covered[t].name,
                village,
                service_id,
                str(svc.name) if svc else "",
                str(svc.kind) if svc else "",
                weekday,
                band,  # type: ignore[arg-type]
                count,
                full,
                waiting,
                searched,
                weeks_hit,
                weeks,
                provider[0][0] if provider else None,
                BAND_START[band],
                max(1, math.ceil(count / max(1, weeks_hit))),
                day + dt.timedelta(days=(weekday - day.weekday()) % 7 or 7),
            )
        )
    out.sort(
        key=lambda n: (-n.total, -n.weeks_with_demand, n.township, n.service, n.village, n.weekday, n.band)
    )
    return out[:limit]
