"""What the console reads: plain queries over the backend's tables, shaped for the pages.

Every write is a staff action in `township.services` (it appends to the change log and the audit trail); this
module only reads. Days and times are the staff member's township's (`zone`).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cunzhan.fieldcrypto import FieldCipher, field_ref
from cunzhan.identity import mask_phone
from cunzhan.models import HOLDS_SEAT
from cunzhan.models import BookingStatus as S
from township import booking as B
from township import db, keys
from township.services import StaffUser, staff_query, staff_user

ROW_LIMIT = 200


def staff_by_id(conn: Connection, staff_id: str) -> tuple[StaffUser, str] | None:
    """The active staff account with this id, and its township's (a county account: its county's) time zone."""
    row = conn.execute(
        staff_query().where(db.staff_users.c.id == staff_id, db.staff_users.c.disabled_at.is_(None))
    ).first()
    if row is None:
        return None
    return staff_user(row), str(row.zone)


FIRST_DAY = dt.date(2000, 1, 1)  # days the console accepts: anything else is "not a day" (no date overflow)
LAST_DAY = dt.date(2199, 12, 31)


def parse_day(text: str) -> dt.date:
    """A `YYYY-MM-DD` day from a form or a query string; ValueError when it is not one or lies outside
    FIRST_DAY…LAST_DAY (0001-01-01 and 9999-12-31 would overflow time zone and week arithmetic)."""
    day = dt.date.fromisoformat(text.strip())
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError("day out of range")
    return day


def local_day_bounds(day: dt.date, zone: zoneinfo.ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """A calendar day in the township's zone as naive-UTC [start, end) for queries."""
    start = dt.datetime(day.year, day.month, day.day, tzinfo=zone)
    end = start + dt.timedelta(days=1)
    return db.naive(start), db.naive(end)


def _counts_subquery() -> sa.Subquery:
    b = db.bookings
    return (
        sa.select(
            b.c.session_id,
            sa.func.sum(sa.case((b.c.status.in_(HOLDS_SEAT), 1), else_=0)).label("booked"),
            sa.func.sum(sa.case((b.c.status == S.CHECKED_IN, 1), else_=0)).label("checked_in"),
            sa.func.sum(sa.case((b.c.status == S.PENDING_REVIEW, 1), else_=0)).label("pending"),
            sa.func.sum(sa.case((b.c.status == S.WAITLISTED, 1), else_=0)).label("waitlisted"),
        )
        .group_by(b.c.session_id)
        .subquery()
    )


def sessions_between(
    conn: Connection, township_id: str, start: dt.datetime, end: dt.datetime, *, service_id: str | None = None
) -> list[dict[str, Any]]:
    """Sessions starting in [start, end) (naive UTC) with their booking counts, in time order."""
    s, sv, p = db.sessions, db.services, db.providers
    counts = _counts_subquery()
    query = (
        sa.select(
            s,
            sv.c.name.label("service_name"),
            p.c.name.label("provider_name"),
            sa.func.coalesce(counts.c.booked, 0).label("booked"),
            sa.func.coalesce(counts.c.checked_in, 0).label("checked_in"),
            sa.func.coalesce(counts.c.pending, 0).label("pending"),
            sa.func.coalesce(counts.c.waitlisted, 0).label("waitlisted"),
        )
        .join(sv, sv.c.id == s.c.service_id)
        .join(p, p.c.id == s.c.provider_id)
        .outerjoin(counts, counts.c.session_id == s.c.id)
        .where(s.c.township_id == township_id, s.c.starts_at >= start, s.c.starts_at < end)
        .order_by(s.c.starts_at, sv.c.name)
    )
    if service_id:
        query = query.where(s.c.service_id == service_id)
    return [_session_dict(r) for r in conn.execute(query)]


def session_detail(conn: Connection, township_id: str, session_id: str) -> dict[str, Any] | None:
    """One session with names and counts, or None when it is not this township's."""
    s, sv, p = db.sessions, db.services, db.providers
    counts = _counts_subquery()
    row = conn.execute(
        sa.select(
            s,
            sv.c.name.label("service_name"),
            p.c.name.label("provider_name"),
            sa.func.coalesce(counts.c.booked, 0).label("booked"),
            sa.func.coalesce(counts.c.checked_in, 0).label("checked_in"),
            sa.func.coalesce(counts.c.pending, 0).label("pending"),
            sa.func.coalesce(counts.c.waitlisted, 0).label("waitlisted"),
        )
        .join(sv, sv.c.id == s.c.service_id)
        .join(p, p.c.id == s.c.provider_id)
        .outerjoin(counts, counts.c.session_id == s.c.id)
        .where(s.c.id == session_id, s.c.township_id == township_id)
    ).first()
    return _session_dict(row) if row else None


def _session_dict(row: sa.Row[Any]) -> dict[str, Any]:
    data = dict(row._mapping)
    data["starts_at"] = db.utc(data["starts_at"])
    data["ends_at"] = db.utc(data["ends_at"])
    data["seats_left"] = max(0, int(data["capacity"]) - int(data["booked"]))
    return data


def open_alternatives(
    conn: Connection, township_id: str, session: dict[str, Any], *, limit: int = 20
) -> list[dict[str, Any]]:
    """Other open, future sessions of the same service with seats left (for moving a booking)."""
    now = db.naive(db.now_utc())
    rows = sessions_between(
        conn, township_id, now, now + dt.timedelta(days=120), service_id=session["service_id"]
    )
    out = []
    for row in rows:
        if row["id"] == session["id"] or row["status"] != "open":
            continue
        taken, leased = B.seat_counts(conn, row["id"])  # seats leased to kiosks are not free either
        row["seats_left"] = max(0, int(row["capacity"]) - taken - leased)
        if row["seats_left"] > 0:
            out.append(row)
    return out[:limit]


@dataclass(frozen=True, slots=True)
class BookingFilter:
    """The review queue's filters (empty string: any)."""

    village: str = ""
    kiosk: str = ""
    service: str = ""
    day: str = ""
    status: str = ""


def _booking_query() -> sa.Select[Any]:
    b, r, s, sv, p, d = db.bookings, db.residents, db.sessions, db.services, db.providers, db.devices
    # Each booking shows the contact details it was made with (a later booking elsewhere does not change them);
    # the resident's own (encrypted) fields stand in for a booking made before those were kept.
    return (
        sa.select(
            b,
            r.c.name_enc.label("r_name_enc"),
            r.c.phone_enc.label("r_phone_enc"),
            r.c.id_mask.label("id_mask"),
            sa.func.coalesce(b.c.contact_village, r.c.village).label("village"),
            s.c.starts_at,
            s.c.ends_at,
            s.c.service_id,
            s.c.provider_id,
            sv.c.name.label("service_name"),
            p.c.name.label("provider_name"),
            d.c.name.label("kiosk_name"),
        )
        .join(r, r.c.id == b.c.resident_id)
        .join(s, s.c.id == b.c.session_id)
        .join(sv, sv.c.id == s.c.service_id)
        .join(p, p.c.id == s.c.provider_id)
        .outerjoin(d, d.c.id == b.c.device_id)
    )


def _open(cipher: FieldCipher, sealed: str | None, table: str, column: str, row_id: str) -> str | None:
    """A decrypted field; None for none, and for one erased by retention (stored empty)."""
    return cipher.decrypt(sealed, where=field_ref(table, column, row_id)) if sealed else None


def dependent_name(cipher: FieldCipher, dep: Any, booking_id: str) -> str:
    """The name of the dependent a booking is for (decrypted), or ''."""
    if not isinstance(dep, dict):
        return ""
    if dep.get("name_enc"):
        return _open(cipher, dep["name_enc"], "bookings", "for_dependent.name", booking_id) or ""
    return str(dep.get("name", ""))


def contact(cipher: FieldCipher, data: dict[str, Any]) -> tuple[str, str | None]:
    """(name, phone) a booking was made with, decrypted (`data`: a booking row with `r_name_enc`, `r_phone_enc`);
    ("", None) once retention has erased them."""
    if data.get("contact_name_enc"):
        name = _open(cipher, data["contact_name_enc"], "bookings", "contact_name_enc", data["id"])
        phone = _open(cipher, data.get("contact_phone_enc"), "bookings", "contact_phone_enc", data["id"])
    else:
        rid = data["resident_id"]
        name = _open(cipher, data["r_name_enc"], "residents", "name_enc", rid)
        phone = _open(cipher, data.get("r_phone_enc"), "residents", "phone_enc", rid)
    return name or "", phone


def _booking_dict(row: sa.Row[Any], cipher: FieldCipher) -> dict[str, Any]:
    """A booking for display: names decrypted, the phone masked here; the clear numbers never leave this
    function."""
    data = dict(row._mapping)
    data["resident_name"], phone = contact(cipher, data)
    for key in ("contact_name_enc", "contact_phone_enc", "r_name_enc", "r_phone_enc"):
        data.pop(key, None)
    data["phone_masked"] = mask_phone(phone) if phone else ""
    data["id_masked"] = data.pop("id_mask")
    data["dependent_name"] = dependent_name(cipher, data.get("for_dependent"), data["id"])
    dep = data.get("for_dependent") or {}
    data["dependent_relation"] = dep.get("relation", "") if isinstance(dep, dict) else ""
    data["starts_at"] = db.utc(data["starts_at"])
    data["ends_at"] = db.utc(data["ends_at"])
    data["created_at"] = db.utc(data["created_at"])
    data["updated_at"] = db.utc(data["updated_at"])
    data["checked_in_at"] = data["updated_at"] if data["status"] == S.CHECKED_IN else None
    if not data.get("kiosk_name"):
        data["kiosk_name"] = "—"
    return data


def bookings(
    conn: Connection, township_id: str, f: BookingFilter, zone: zoneinfo.ZoneInfo, *, limit: int = ROW_LIMIT
) -> tuple[list[dict[str, Any]], bool]:
    """Bookings matching the filters, oldest first (the review queue is first come, first served)."""
    b, r, s = db.bookings, db.residents, db.sessions
    query = _booking_query().where(b.c.township_id == township_id)
    if f.village:
        query = query.where(sa.func.coalesce(b.c.contact_village, r.c.village) == f.village)
    if f.kiosk:
        query = query.where(b.c.device_id == f.kiosk)
    if f.service:
        query = query.where(s.c.service_id == f.service)
    if f.day:
        try:
            start, end = local_day_bounds(parse_day(f.day), zone)
        except ValueError:
            pass
        else:
            query = query.where(s.c.starts_at >= start, s.c.starts_at < end)
    if f.status:
        query = query.where(b.c.status == f.status)
    if f.status == S.WAITLISTED:
        query = query.order_by(s.c.starts_at, b.c.waitlist_position, b.c.created_at)
    else:
        query = query.order_by(b.c.created_at, b.c.code)
    rows = list(conn.execute(query.limit(limit + 1)))
    cipher = keys.cipher_for(conn)
    return [_booking_dict(x, cipher) for x in rows[:limit]], len(rows) > limit


def booking(conn: Connection, township_id: str, booking_id: str) -> dict[str, Any] | None:
    """One booking for display (masked), or None when it is not this township's."""
    b = db.bookings
    row = conn.execute(_booking_query().where(b.c.id == booking_id, b.c.township_id == township_id)).first()
    return _booking_dict(row, keys.cipher_for(conn)) if row else None


def session_bookings(conn: Connection, township_id: str, session_id: str) -> list[dict[str, Any]]:
    """Everyone booked on a session (all statuses), by code."""
    b = db.bookings
    query = _booking_query().where(b.c.township_id == township_id, b.c.session_id == session_id)
    order = sa.case(
        {
            S.CHECKED_IN: 0,
            S.CONFIRMED: 1,
            S.ATTENDED: 2,
            S.NO_SHOW: 3,
            S.PENDING_REVIEW: 4,
            S.WAITLISTED: 5,
        },
        value=b.c.status,
        else_=9,
    )
    cipher = keys.cipher_for(conn)
    return [_booking_dict(x, cipher) for x in conn.execute(query.order_by(order, b.c.code))]


def reveal_numbers(conn: Connection, township_id: str, booking_id: str) -> dict[str, str] | None:
    """The resident's full ID and phone number for one booking (the caller audits the reveal)."""
    b, r = db.bookings, db.residents
    row = conn.execute(
        sa.select(
            b.c.id,
            b.c.resident_id,
            b.c.contact_name_enc,
            b.c.contact_phone_enc,
            r.c.id_number_enc,
            r.c.name_enc.label("r_name_enc"),
            r.c.phone_enc.label("r_phone_enc"),
        )
        .join(r, b.c.resident_id == r.c.id)
        .where(b.c.id == booking_id, b.c.township_id == township_id)
    ).first()
    if row is None:
        return None
    cipher = keys.cipher_for(conn)
    data = dict(row._mapping)
    _name, phone = contact(cipher, data)
    number = _open(cipher, row.id_number_enc, "residents", "id_number_enc", row.resident_id)
    return {"id_number": number or "", "phone": phone or ""}


def booking_audit(conn: Connection, township_id: str, booking_id: str, code: str) -> list[dict[str, Any]]:
    """Staff actions on one booking, oldest first."""
    a = db.staff_audit
    rows = conn.execute(
        sa.select(a)
        .where(a.c.township_id == township_id, a.c.target.in_([booking_id, code]))
        .order_by(a.c.at, a.c.id)
    )
    return [{**dict(x._mapping), "at": db.utc(x.at)} for x in rows]


def services(conn: Connection, township_id: str, *, active_only: bool = False) -> list[dict[str, Any]]:
    t = db.services
    query = sa.select(t).where(t.c.township_id == township_id).order_by(t.c.kind, t.c.name)
    if active_only:
        query = query.where(t.c.active.is_(True))
    return [dict(x._mapping) for x in conn.execute(query)]


def providers(conn: Connection, township_id: str, *, active_only: bool = False) -> list[dict[str, Any]]:
    t = db.providers
    query = sa.select(t).where(t.c.township_id == township_id).order_by(t.c.name)
    if active_only:
        query = query.where(t.c.active.is_(True))
    return [dict(x._mapping) for x in conn.execute(query)]


def villages(conn: Connection, township_id: str) -> list[str]:
    """Village names known to the township, plus any residents gave."""
    v, r = db.villages, db.residents
    names = {x.name for x in conn.execute(sa.select(v.c.name).where(v.c.township_id == township_id))}
    names |= {
        x.village
        for x in conn.execute(
            sa.select(r.c.village).where(r.c.township_id == township_id, r.c.village.is_not(None)).distinct()
        )
    }
    b = db.bookings
    names |= {
        x.contact_village
        for x in conn.execute(
            sa.select(b.c.contact_village)
            .where(b.c.township_id == township_id, b.c.contact_village.is_not(None))
            .distinct()
        )
    }
    return sorted(n for n in names if n)


def kiosks(conn: Connection, township_id: str) -> list[dict[str, Any]]:
    """Enrolled devices, newest number last."""
    t = db.devices
    rows = conn.execute(
        sa.select(
            t.c.id,
            t.c.kiosk_number,
            t.c.name,
            t.c.created_at,
            t.c.revoked_at,
            t.c.last_sync_at,
            t.c.pending_ops,
            t.c.app_version,
            t.c.clock_skew_s,
        )
        .where(t.c.township_id == township_id)
        .order_by(t.c.kiosk_number)
    )
    out = []
    for x in rows:
        data = dict(x._mapping)
        for key in ("created_at", "revoked_at", "last_sync_at"):
            data[key] = db.utc(data[key]) if data[key] else None
        out.append(data)
    return out


def holidays(
    conn: Connection, township_id: str, start: dt.date | None = None, end: dt.date | None = None
) -> list[dict[str, Any]]:
    t = db.holidays
    query = sa.select(t).where(t.c.township_id == township_id).order_by(t.c.day)
    if start:
        query = query.where(t.c.day >= start)
    if end:
        query = query.where(t.c.day < end)
    return [dict(x._mapping) for x in conn.execute(query)]


def notices(conn: Connection, township_id: str) -> list[dict[str, Any]]:
    """The township's notices that kiosks show now or later (not withdrawn, not ended), newest first."""
    t = db.notices
    now = db.naive(db.now_utc())
    query = (
        sa.select(t)
        .where(
            t.c.township_id == township_id,
            t.c.active == sa.true(),
            sa.or_(t.c.ends_at.is_(None), t.c.ends_at > now),
        )
        .order_by(t.c.created_at.desc())
    )
    return [dict(x._mapping) for x in conn.execute(query)]


def status_counts(conn: Connection, township_id: str) -> dict[str, int]:
    b = db.bookings
    rows = conn.execute(
        sa.select(b.c.status, sa.func.count()).where(b.c.township_id == township_id).group_by(b.c.status)
    )
    return {str(status): int(n) for status, n in rows}


@dataclass(frozen=True, slots=True)
class ReportRow:
    """Bookings and outcomes for one service or village over a period."""

    label: str
    bookings: int
    attended: int
    no_show: int
    cancelled: int

    @property
    def decided(self) -> int:
        return self.attended + self.no_show

    @property
    def attendance_rate(self) -> float | None:
        return self.attended / self.decided if self.decided else None

    @property
    def no_show_rate(self) -> float | None:
        return self.no_show / self.decided if self.decided else None


def report(
    conn: Connection, township_id: str, start: dt.date, end: dt.date, by: str, *, zone: zoneinfo.ZoneInfo
) -> list[ReportRow]:
    """Bookings by service or village for sessions on local days [start, end]; attendance among those decided."""
    b, r, s, sv = db.bookings, db.residents, db.sessions, db.services
    lo, _ = local_day_bounds(start, zone)
    _, hi = local_day_bounds(end, zone)
    key = sv.c.name if by == "service" else sa.func.coalesce(b.c.contact_village, r.c.village, "")
    query = (
        sa.select(
            key.label("label"),
            sa.func.count().label("bookings"),
            sa.func.sum(sa.case((b.c.status == S.ATTENDED, 1), else_=0)).label("attended"),
            sa.func.sum(sa.case((b.c.status == S.NO_SHOW, 1), else_=0)).label("no_show"),
            sa.func.sum(sa.case((b.c.status.in_((S.CANCELLED, S.REJECTED)), 1), else_=0)).label("cancelled"),
        )
        .select_from(b)
        .join(r, r.c.id == b.c.resident_id)
        .join(s, s.c.id == b.c.session_id)
        .join(sv, sv.c.id == s.c.service_id)
        .where(b.c.township_id == township_id, s.c.starts_at >= lo, s.c.starts_at < hi)
        .group_by(key)
        .order_by(key)
    )
    return [
        ReportRow(
            str(x.label), int(x.bookings), int(x.attended or 0), int(x.no_show or 0), int(x.cancelled or 0)
        )
        for x in conn.execute(query)
    ]


def satisfaction(
    conn: Connection, township_id: str, start: dt.date, end: dt.date, *, zone: zoneinfo.ZoneInfo
) -> list[dict[str, Any]]:
    """Average rating and count per service, plus how often each 1–5 rating was given."""
    f, b, s, sv = db.feedback, db.bookings, db.sessions, db.services
    lo, _ = local_day_bounds(start, zone)
    _, hi = local_day_bounds(end, zone)
    rows = conn.execute(
        sa.select(sv.c.name, f.c.rating, sa.func.count().label("n"))
        .select_from(f)
        .join(b, b.c.id == f.c.booking_id)
        .join(s, s.c.id == b.c.session_id)
        .join(sv, sv.c.id == s.c.service_id)
        .where(f.c.township_id == township_id, s.c.starts_at >= lo, s.c.starts_at < hi)
        .group_by(sv.c.name, f.c.rating)
    )
    per: dict[str, list[int]] = {}
    for name, rating, n in rows:
        hist = per.setdefault(str(name), [0, 0, 0, 0, 0])
        hist[int(rating) - 1] += int(n)
    out = []
    for name, hist in sorted(per.items()):
        count = sum(hist)
        out.append(
            {
                "service": name,
                "count": count,
                "histogram": hist,
                "average": sum((i + 1) * n for i, n in enumerate(hist)) / count if count else None,
            }
        )
    return out


def feedback_reasons(
    conn: Connection, township_id: str, start: dt.date, end: dt.date, *, zone: zoneinfo.ZoneInfo
) -> list[tuple[str, int]]:
    """How often each reason was ticked with a rating (counted in Python: reasons are a JSON list)."""
    f, b, s = db.feedback, db.bookings, db.sessions
    lo, _ = local_day_bounds(start, zone)
    _, hi = local_day_bounds(end, zone)
    counts: dict[str, int] = {}
    for (reasons,) in conn.execute(
        sa.select(f.c.reasons)
        .join(b, b.c.id == f.c.booking_id)
        .join(s, s.c.id == b.c.session_id)
        .where(f.c.township_id == township_id, s.c.starts_at >= lo, s.c.starts_at < hi)
    ):
        for reason in reasons or []:
            counts[str(reason)] = counts.get(str(reason), 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def audit_rows(
    conn: Connection,
    township_id: str,
    *,
    zone: zoneinfo.ZoneInfo,
    who: str = "",
    day: str = "",
    limit: int = ROW_LIMIT,
) -> list[dict[str, Any]]:
    """The newest staff actions of the township (optionally one person's, or one local day's)."""
    a = db.staff_audit
    query = sa.select(a.c.at, a.c.who, a.c.action, a.c.target).where(a.c.township_id == township_id)
    return _newest_actions(conn, query, zone=zone, who=who, day=day, limit=limit)


def _newest_actions(
    conn: Connection, query: sa.Select[Any], *, zone: zoneinfo.ZoneInfo, who: str, day: str, limit: int
) -> list[dict[str, Any]]:
    """The staff actions `query` selects, narrowed to one person's (`who`) or one local day's (`day`, ignored when
    it is no date), newest first."""
    a = db.staff_audit
    if who:
        query = query.where(a.c.who == who)
    if day:
        try:
            start, end = local_day_bounds(parse_day(day), zone)
        except ValueError:
            pass
        else:
            query = query.where(a.c.at >= start, a.c.at < end)
    rows = conn.execute(query.order_by(a.c.at.desc(), a.c.id.desc()).limit(limit))
    return [{**dict(x._mapping), "at": db.utc(x.at)} for x in rows]


def county_audit_rows(
    conn: Connection,
    county_id: str,
    *,
    zone: zoneinfo.ZoneInfo,
    who: str = "",
    day: str = "",
    limit: int = ROW_LIMIT,
) -> list[dict[str, Any]]:
    """The newest staff actions of the county (#18): its accounts' own entries (sign-in failures, sign-outs,
    county administrators made) and what its administrators did in its townships (townships created and changed,
    their accounts made, reset, disabled…), with the township's name where there is one. Entries written before
    county actions carried the county are found by the acting account."""
    a, t, s = db.staff_audit, db.townships, db.staff_users
    county_staff = sa.select(s.c.id).where(s.c.county_id == county_id).scalar_subquery()
    query = (
        sa.select(a.c.at, a.c.who, a.c.action, a.c.target, t.c.name.label("township"))
        .select_from(a.outerjoin(t, t.c.id == a.c.township_id))
        .where(
            sa.or_(
                a.c.county_id == county_id,
                sa.and_(a.c.county_id.is_(None), a.c.staff_id.in_(county_staff)),
            )
        )
    )
    return _newest_actions(conn, query, zone=zone, who=who, day=day, limit=limit)


def target_names(
    conn: Connection, township_id: str, targets: Sequence[str], zone: zoneinfo.ZoneInfo
) -> dict[str, str]:
    """Readable names for audit targets that are kiosk or session ids ("No. 3 上坪村…", "全科门诊 12-01 09:00")."""
    wanted = sorted({t for t in targets if len(t) == 36})
    if not wanted:
        return {}
    d, s, sv = db.devices, db.sessions, db.services
    names = {
        x.id: f"{x.kiosk_number} · {x.name}"
        for x in conn.execute(
            sa.select(d.c.id, d.c.kiosk_number, d.c.name).where(
                d.c.township_id == township_id, d.c.id.in_(wanted)
            )
        )
    }
    for x in conn.execute(
        sa.select(s.c.id, s.c.starts_at, sv.c.name)
        .join(sv, sv.c.id == s.c.service_id)
        .where(s.c.township_id == township_id, s.c.id.in_(wanted))
    ):
        names[x.id] = f"{x.name} · {db.utc(x.starts_at).astimezone(zone):%m-%d %H:%M}"
    return names


# --- residents: access and erasure on request (PIPL) ------------------------------------------------------------------


def find_resident(conn: Connection, township_id: str, id_number: str) -> str | None:
    """The id of this township's resident with this ID number (through the blind index), or None."""
    blind = keys.cipher_for(conn).lookup_hash(id_number)
    r = db.residents
    return conn.execute(
        sa.select(r.c.id).where(r.c.township_id == township_id, r.c.id_blind == blind)
    ).scalar()


def _iso(value: dt.datetime | None) -> str | None:
    return db.utc(value).isoformat(timespec="seconds") if value is not None else None


def resident_record(conn: Connection, township_id: str, resident_id: str) -> dict[str, Any] | None:
    """Everything the township holds about one resident, decrypted: their record, each booking (with the details
    it was made with and its consent) and each feedback. None when not this township's."""
    cipher = keys.cipher_for(conn)
    r, b, s, sv, f = db.residents, db.bookings, db.sessions, db.services, db.feedback
    row = conn.execute(sa.select(r).where(r.c.id == resident_id, r.c.township_id == township_id)).first()
    if row is None:
        return None
    record: dict[str, Any] = {
        "id": row.id,
        "id_number": _open(cipher, row.id_number_enc, "residents", "id_number_enc", row.id) or "",
        "name": _open(cipher, row.name_enc, "residents", "name_enc", row.id) or "",
        "phone": _open(cipher, row.phone_enc, "residents", "phone_enc", row.id) or "",
        "village": row.village or "",
        "created_at": _iso(row.created_at),
        "bookings": [],
        "feedback": [],
    }
    query = (
        sa.select(
            b,
            s.c.starts_at,
            sv.c.name.label("service_name"),
            r.c.name_enc.label("r_name_enc"),
            r.c.phone_enc.label("r_phone_enc"),
        )
        .join(s, s.c.id == b.c.session_id)
        .join(sv, sv.c.id == s.c.service_id)
        .join(r, r.c.id == b.c.resident_id)
        .where(b.c.resident_id == resident_id)
        .order_by(s.c.starts_at)
    )
    for x in conn.execute(query):
        name, phone = contact(cipher, dict(x._mapping))
        record["bookings"].append(
            {
                "id": x.id,
                "code": x.code,
                "service": x.service_name,
                "starts_at": _iso(x.starts_at),
                "status": x.status,
                "name": name,
                "phone": phone or "",
                "village": x.contact_village or "",
                "for": {
                    "name": dependent_name(cipher, x.for_dependent, x.id),
                    "relation": x.for_dependent.get("relation"),
                }
                if x.for_dependent
                else None,
                "channel": x.channel,
                "consent_notice": x.consent_notice,
                "consent_at": _iso(x.consent_at),
                "created_at": _iso(x.created_at),
            }
        )
    for x in conn.execute(
        sa.select(f).join(b, b.c.id == f.c.booking_id).where(b.c.resident_id == resident_id)
    ):
        record["feedback"].append(
            {
                "booking_id": x.booking_id,
                "rating": x.rating,
                "reasons": x.reasons,
                "comment": keys.open_comment(conn, x.id, x.comment) or "",
                "created_at": _iso(x.created_at),
                # Staff's follow-up of a low rating (#18): the note may be about the resident.
                "followed_up_at": _iso(x.followed_up_at),
                "follow_up_note": keys.open_note(conn, x.id, x.follow_up_note) or "",
            }
        )
    return record


def booking_messages(conn: Connection, township_id: str, booking_id: str) -> list[dict[str, Any]]:
    """The SMS messages about one booking (township.notify), oldest first: kind, status, when, attempts, error code."""
    t = db.notifications
    rows = conn.execute(
        sa.select(t.c.kind, t.c.status, t.c.created_at, t.c.sent_at, t.c.attempts, t.c.last_error)
        .where(t.c.township_id == township_id, t.c.booking_id == booking_id)
        .order_by(t.c.created_at)
    ).all()
    return [dict(r._mapping) for r in rows]
