"""The needs profile (需求画像): unmet demand ranked by village × service × weekday × time band, with what a
scheduler needs to add sessions in one click. Read from `unmet_demand` (no personal data; `township.insight.unmet`).

A row counts the events of the last N weeks (refused for lack of seats, waitlisted, searched and found nothing) and
in how many distinct weeks they came. The suggested capacity is the unmet demand of an affected week, on average
(rounded up): enough seats for what was refused, not a forecast.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cunzhan.i18n import N_
from township import db
from township.insight.scope import BAND_START, Band, Scope, last_weeks, towns
from township.services import StaffUser, audit_row

WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
BANDS_ZH = {"morning": "上午", "afternoon": "下午", "evening": "晚上"}
BANDS_EN = {"morning": "mornings", "afternoon": "afternoons", "evening": "evenings"}


Key = tuple[str, str, str, int, str]  # township, village, service, weekday, band: what names a need


class _NeedNamed:
    """What names a need and says it in words: for a need, and for a need as the county forwarded it."""

    __slots__ = ()
    township_id: str
    village: str
    service_id: str
    service: str
    weekday: int
    band: str
    total: int
    weeks: int

    @property
    def key(self) -> Key:
        return (self.township_id, self.village, self.service_id, self.weekday, self.band)

    def describe(self, locale: str = "zh_CN") -> str:
        """ "慢病随访, 上坪村, 周二上午: 23 次未约上（4 周内）" / "…, Tuesday mornings: 23 refused in 4 weeks"."""
        return describe(
            self.service,
            self.village,
            weekday=self.weekday,
            band=self.band,
            total=self.total,
            weeks=self.weeks,
            locale=locale,
        )


@dataclass(frozen=True, slots=True)
class Need(_NeedNamed):
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


def describe(
    service: str, village: str, *, weekday: int, band: str, total: int, weeks: int, locale: str
) -> str:
    """A need in words, in the staff member's language (`Need.describe`)."""
    village = village or ("未填村" if locale.startswith("zh") else "village not given")
    if locale.startswith("zh"):
        when = WEEKDAYS_ZH[weekday] + BANDS_ZH.get(band, band)
        return f"{service}, {village}, {when}: {total} 次未约上（{weeks} 周内）"
    when = f"{WEEKDAYS_EN[weekday]} {BANDS_EN.get(band, band)}"
    return f"{service}, {village}, {when}: {total} refused in {weeks} weeks"


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


# --- a county forwards a need to its township (#18) -------------------------------------------------------------------
#
# The schedule is the township's: a county administrator does not create a township's sessions (docs/console.md,
# "Levels and roles"), it forwards the need, and the township's administrators see it on their needs page (and a
# tile on their start page) with "Create sessions" until one of them marks it handled.


class ReferralError(LookupError):
    """A forward or a "handled" the caller may not make, or about nothing there; `msgid` says why."""

    def __init__(self, msgid: str) -> None:
        super().__init__(msgid)
        self.msgid = msgid


ERR_ALREADY_FORWARDED = N_("This need was already forwarded to its township and is not handled yet.")
ERR_NO_REFERRAL = N_("This forwarded need does not exist or is not your township's.")


@dataclass(frozen=True, slots=True)
class Referral(_NeedNamed):
    """A need forwarded by the county: what it was when forwarded, by whom and when, and whether it is handled."""

    id: str
    township_id: str
    township: str
    village: str
    service_id: str
    service: str
    weekday: int
    band: str
    weeks: int
    total: int
    sent_by: str
    sent_at: dt.datetime
    handled_by: str | None
    handled_at: dt.datetime | None


def forward_need(conn: Connection, staff: StaffUser, need: Need, *, now: dt.datetime | None = None) -> str:
    """Forward `need` (of one of the county's townships) to that township's administrators, in the caller's write
    transaction, audited in the township as `need_forwarded`; returns the referral's id. Only a county
    administrator, only for a township of its county; not twice while the first is open."""
    county_towns = {t.id for t in towns(conn, Scope.county(staff.county_id))} if staff.county_id else set()
    if not staff.is_county_admin or need.township_id not in county_towns:
        raise ReferralError(ERR_NO_REFERRAL)
    if any(r.key == need.key for r in referrals(conn, [need.township_id])):
        raise ReferralError(ERR_ALREADY_FORWARDED)
    ident = str(uuid.uuid4())
    moment = db.naive(now or db.now_utc())
    conn.execute(
        sa.insert(db.need_referrals).values(
            id=ident,
            township_id=need.township_id,
            county_id=staff.county_id,
            village=need.village,
            service_id=need.service_id,
            weekday=need.weekday,
            band=need.band,
            weeks=need.weeks,
            total=need.total,
            sent_by=staff.username,
            sent_at=moment,
        )
    )
    audit_row(
        conn,
        need.township_id,
        staff.username,
        "need_forwarded",
        ident,
        staff_id=staff.id,
        county_id=staff.county_id,
        at=moment,
        service=need.service,
        village=need.village,
        weekday=need.weekday,
        band=need.band,
        total=need.total,
        weeks=need.weeks,
    )
    return ident


def referrals(conn: Connection, township_ids: list[str], *, handled: bool = False) -> list[Referral]:
    """The needs forwarded to these townships, newest first: those not yet handled (`handled`: those handled)."""
    if not township_ids:
        return []
    n, sv, t = db.need_referrals, db.services, db.townships
    query = (
        sa.select(n, sv.c.name.label("service"), t.c.name.label("township"))
        .select_from(n.join(sv, sv.c.id == n.c.service_id).join(t, t.c.id == n.c.township_id))
        .where(
            n.c.township_id.in_(township_ids),
            n.c.handled_at.is_not(None) if handled else n.c.handled_at.is_(None),
        )
        .order_by(n.c.sent_at.desc(), n.c.id)
        .limit(200)
    )
    return [
        Referral(
            str(r.id),
            str(r.township_id),
            str(r.township),
            str(r.village),
            str(r.service_id),
            str(r.service),
            int(r.weekday),
            str(r.band),
            int(r.weeks),
            int(r.total),
            str(r.sent_by),
            db.utc(r.sent_at),
            r.handled_by,
            None if r.handled_at is None else db.utc(r.handled_at),
        )
        for r in conn.execute(query)
    ]


def handle_referral(
    conn: Connection, staff: StaffUser, referral_id: str, *, now: dt.datetime | None = None
) -> None:
    """Mark a forwarded need handled (sessions created, or decided against), by an administrator of its township,
    in the caller's write transaction, audited as `need_referral_handled`."""
    n = db.need_referrals
    moment = db.naive(now or db.now_utc())
    done = conn.execute(
        sa.update(n)
        .where(n.c.id == referral_id, n.c.township_id == staff.township_id, n.c.handled_at.is_(None))
        .values(handled_by=staff.username, handled_at=moment)
    ).rowcount
    if not staff.is_admin or done != 1:
        raise ReferralError(ERR_NO_REFERRAL)
    audit_row(
        conn,
        staff.township_id,
        staff.username,
        "need_referral_handled",
        referral_id,
        staff_id=staff.id,
        at=moment,
    )


def referral_need(referral: Referral, today: dt.date) -> Need:
    """A forwarded need as the create form takes it, when the needs profile no longer shows it: its service, the
    next such weekday, the band's start and the seats it lacked in an affected week (at most the whole)."""
    band: Band = referral.band if referral.band in BAND_START else "morning"  # type: ignore[assignment]
    return Need(
        referral.township_id,
        referral.township,
        referral.village,
        referral.service_id,
        referral.service,
        "",
        referral.weekday,
        band,
        referral.total,
        0,
        0,
        0,
        referral.weeks,
        referral.weeks,
        None,
        BAND_START[band],
        max(1, math.ceil(referral.total / max(1, referral.weeks))),
        today + dt.timedelta(days=(referral.weekday - today.weekday()) % 7 or 7),
    )
