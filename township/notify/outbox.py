"""The notification outbox: queue in the caller's transaction, send when due, at most once.

Sending is two short transactions around the provider call: the first claims due messages (`sending`, attempts + 1;
on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so several processes share the work), the second records the outcome.
A process that dies between the two leaves `sending` rows; `recover()` marks them `unknown` after `STALE` — the
provider may or may not have sent them, and a second SMS for the same thing is worse than a missing one (the console
shows them, and the village staff call list covers residents who were not reached).

Quiet hours (the township's local time, 21:00–08:00 by default) move a due message to their end; a reminder that
would then arrive after its session began is skipped instead. Retries after a provider's transient error back off
(1 min, 5 min, 30 min, 2 h), then the message is `failed`.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from cunzhan.fieldcrypto import field_ref
from cunzhan.models import BookingStatus as S
from township import db
from township.notify.messages import Kind, render
from township.notify.providers import Provider, SendFailed

log = logging.getLogger(__name__)

BACKOFF = (dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=30), dt.timedelta(hours=2))
MAX_ATTEMPTS = len(BACKOFF) + 1
STALE = dt.timedelta(minutes=10)
CLAIM_BATCH = 50
# Reminders: the day before (at this local time, or as soon after as quiet hours allow) and two hours before.
DAY_BEFORE_AT = dt.time(10, 0)
SOON_BEFORE = dt.timedelta(hours=2)
REMINDERS = (Kind.REMINDER_DAY, Kind.REMINDER_SOON)
# A message about a booking is still worth sending only while the booking is in one of these statuses.
STILL_TRUE: dict[Kind, frozenset[S]] = {
    Kind.CONFIRMED: frozenset({S.CONFIRMED}),
    Kind.REJECTED: frozenset({S.REJECTED}),
    Kind.MOVED: frozenset({S.CONFIRMED, S.PENDING_REVIEW}),
    Kind.PROMOTED: frozenset({S.CONFIRMED}),
    Kind.SESSION_CANCELLED: frozenset({S.CANCELLED}),
    Kind.SESSION_MOVED: frozenset({S.CONFIRMED, S.PENDING_REVIEW}),
    Kind.REMINDER_DAY: frozenset({S.CONFIRMED}),
    Kind.REMINDER_SOON: frozenset({S.CONFIRMED, S.CHECKED_IN}),
}

t = db.notifications


# --- queueing --------------------------------------------------------------------------------------------------------


def when_text(starts_at: dt.datetime, zone: str) -> str:
    """ "12月3日 上午9:00": how a villager says a time (the township's zone)."""
    local = db.utc(starts_at).astimezone(zoneinfo.ZoneInfo(zone))
    half = "上午" if local.hour < 12 else "下午"
    hour = local.hour if local.hour <= 12 else local.hour - 12
    return f"{local.month}月{local.day}日 {half}{hour}:{local.minute:02d}"


def _what(service: Any) -> str:
    # A clinic's speciality stays private (the phone may be a relative's); a school session may be named.
    return "远程问诊" if service.kind == "clinic" else f"远程课堂（{service.name}）"


def params_for(conn: Connection, booking: Any, *, reason: str = "") -> dict[str, str]:
    row = conn.execute(
        sa.select(db.sessions.c.starts_at, db.services.c.kind, db.services.c.name, db.townships.c.zone)
        .join(db.services, db.services.c.id == db.sessions.c.service_id)
        .join(db.townships, db.townships.c.id == db.sessions.c.township_id)
        .where(db.sessions.c.id == booking.session_id)
    ).one()
    return {
        "what": _what(row),
        "when": when_text(row.starts_at, row.zone),
        "code": str(booking.code),
        "reason": reason[:40],
    }


def may_text(booking: Any) -> bool:
    """Whether the booking's contact phone may be texted: given at a kiosk with the resident's agreement to reminders
    (`reminder_notice`, #16), or entered by staff (a booking staff made at the kiosk's desk, `assisted`, in the
    console for a resident who phoned, `phone`, or in the console, no device). A number a kiosk sent without that agreement is for staff to call, not to text."""
    staff_entered = booking.channel in ("assisted", "phone") or booking.device_id is None  # "phone": 电话预约
    return staff_entered or booking.reminder_notice is not None


def _textable() -> sa.ColumnElement[bool]:
    """`may_text` as a condition on `bookings`."""
    b = db.bookings
    return sa.or_(b.c.reminder_notice.is_not(None), b.c.channel == "assisted", b.c.device_id.is_(None))


def queue(
    conn: Connection,
    booking: Any,
    kind: Kind,
    *,
    occasion: str = "",
    reason: str = "",
    not_before: dt.datetime | None = None,
) -> bool:
    """Queue `kind` about `booking` (a bookings row) in the caller's transaction, once per booking, kind and
    `occasion` (e.g. the booking's version, or the session time a reminder is for). False when already queued, when
    the booking has no contact phone (nothing to send to) or one the resident did not agree to be texted at."""
    if booking.contact_phone_enc is None or not may_text(booking):
        return False
    now = db.naive(db.now_utc())
    key = f"{booking.id}:{kind.value}:{occasion}"[:120]
    exists = conn.execute(
        sa.select(t.c.id).where(t.c.township_id == booking.township_id, t.c.dedupe_key == key)
    ).first()
    if exists is not None:
        return False
    values = {
        "id": str(uuid.uuid4()),
        "township_id": booking.township_id,
        "booking_id": booking.id,
        "kind": kind.value,
        "dedupe_key": key,
        "params": params_for(conn, booking, reason=reason),
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": db.naive(not_before) if not_before else now,
        "created_at": now,
        "updated_at": now,
    }
    # Another process may queue the same message at the same moment (two backends' reminder passes): the unique
    # key keeps one, and the other's transaction goes on instead of failing.
    insert = postgresql.insert(t) if conn.dialect.name == "postgresql" else sqlite.insert(t)
    done = conn.execute(
        insert.values(**values).on_conflict_do_nothing(index_elements=["township_id", "dedupe_key"])
    )
    return bool(done.rowcount)


def queue_reminders(conn: Connection, *, now: dt.datetime | None = None) -> int:
    """Queue the day-before and two-hours-before reminders of confirmed bookings whose session starts within the
    next two days (once per booking and session start: a moved session gets new ones). Returns how many."""
    now = now or db.now_utc()
    b, s, tw = db.bookings, db.sessions, db.townships
    rows = conn.execute(
        sa.select(b, s.c.starts_at.label("session_starts_at"), tw.c.zone)
        .join(s, s.c.id == b.c.session_id)
        .join(tw, tw.c.id == b.c.township_id)
        .where(
            b.c.status == S.CONFIRMED,
            b.c.contact_phone_enc.is_not(None),
            _textable(),
            s.c.status == "open",
            s.c.starts_at > db.naive(now),
            s.c.starts_at <= db.naive(now + dt.timedelta(days=2)),
        )
    ).all()
    queued = 0
    for row in rows:
        starts = db.utc(row.session_starts_at)
        zone = zoneinfo.ZoneInfo(row.zone)
        local_day_before = starts.astimezone(zone).date() - dt.timedelta(days=1)
        day_before = dt.datetime.combine(local_day_before, DAY_BEFORE_AT, zone).astimezone(dt.UTC)
        occasion = starts.isoformat(timespec="minutes")
        if now < starts - dt.timedelta(hours=12):  # booked the same day: the soon reminder is enough
            queued += queue(conn, row, Kind.REMINDER_DAY, occasion=occasion, not_before=max(now, day_before))
        queued += queue(
            conn, row, Kind.REMINDER_SOON, occasion=occasion, not_before=max(now, starts - SOON_BEFORE)
        )
    return queued


# --- sending ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    provider: str  # off | tencent | http
    config: dict[str, Any]
    secret: dict[str, str]
    quiet_from: dt.time
    quiet_until: dt.time
    texts: dict[str, str]
    zone: str


def _clock(text: str) -> dt.time:
    hours, minutes = text.split(":")
    return dt.time(int(hours), int(minutes))


def load_settings(conn: Connection, township_id: str) -> Settings:
    """The township's SMS settings (provider "off" when none were saved); the credentials decrypted."""
    import json

    from township.keys import cipher_for

    zone = conn.execute(sa.select(db.townships.c.zone).where(db.townships.c.id == township_id)).scalar_one()
    row = conn.execute(
        sa.select(db.notify_settings).where(db.notify_settings.c.township_id == township_id)
    ).first()
    if row is None:
        return Settings("off", {}, {}, dt.time(21), dt.time(8), {}, zone)
    sealed = cipher_for(conn).decrypt(
        row.secret_enc, where=field_ref("notify_settings", "secret_enc", township_id)
    )
    return Settings(
        row.provider,
        dict(row.config or {}),
        json.loads(sealed) if sealed else {},
        _clock(row.quiet_from),
        _clock(row.quiet_until),
        dict(row.texts or {}),
        zone,
    )


def quiet_end(moment: dt.datetime, settings: Settings) -> dt.datetime | None:
    """When the quiet hours `moment` falls in end (UTC), or None when `moment` is not in quiet hours."""
    zone = zoneinfo.ZoneInfo(settings.zone)
    local = moment.astimezone(zone)
    start, end = settings.quiet_from, settings.quiet_until
    clock = local.time()
    if start == end:
        return None
    inside = (start <= clock or clock < end) if start > end else (start <= clock < end)
    if not inside:
        return None
    day = local.date() if clock < end else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, end, zone).astimezone(dt.UTC)


@dataclass(frozen=True)
class Claimed:
    id: str
    township_id: str
    kind: Kind
    params: dict[str, str]
    phone: str
    attempts: int


ProviderFor = Callable[[Settings], Provider | None]


def _skip(conn: Connection, ids: Sequence[str], reason: str, now: dt.datetime) -> None:
    if ids:
        conn.execute(
            sa.update(t)
            .where(t.c.id.in_(ids))
            .values(status="skipped", last_error=reason, updated_at=db.naive(now))
        )


def claim(
    database: db.Database, *, now: dt.datetime, limit: int = CLAIM_BATCH
) -> list[tuple[Claimed, Settings]]:
    """Claim due messages for sending; defer those in quiet hours; skip those no longer true or with no number."""
    from township.keys import cipher_for

    claimed: list[tuple[Claimed, Settings]] = []
    with database.write() as conn:
        query = (
            sa.select(
                t,
                db.bookings.c.status.label("booking_status"),
                db.bookings.c.contact_phone_enc,
                db.sessions.c.starts_at,
            )
            .join(db.bookings, db.bookings.c.id == t.c.booking_id)
            .join(db.sessions, db.sessions.c.id == db.bookings.c.session_id)
            .where(t.c.status == "queued", t.c.next_attempt_at <= db.naive(now))
            .order_by(t.c.next_attempt_at)
            .limit(limit)
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(of=t, skip_locked=True)
        rows = conn.execute(query).all()
        settings: dict[str, Settings] = {}
        cipher = cipher_for(conn)
        stale: list[str] = []
        untrue: list[str] = []
        no_phone: list[str] = []
        off: list[str] = []
        for row in rows:
            kind = Kind(row.kind)
            found = settings.get(row.township_id) or settings.setdefault(
                row.township_id, load_settings(conn, row.township_id)
            )
            if found.provider == "off":
                off.append(row.id)
                continue
            if row.booking_status not in STILL_TRUE[kind]:
                untrue.append(row.id)
                continue
            starts = db.utc(row.starts_at)
            if kind in REMINDERS and now >= starts:
                stale.append(row.id)
                continue
            later = quiet_end(now, found)
            if later is not None:
                if kind in REMINDERS and later >= starts:
                    stale.append(row.id)
                else:
                    conn.execute(sa.update(t).where(t.c.id == row.id).values(next_attempt_at=db.naive(later)))
                continue
            phone = cipher.decrypt(
                row.contact_phone_enc, where=field_ref("bookings", "contact_phone_enc", row.booking_id)
            )
            if not phone:  # erased since it was queued
                no_phone.append(row.id)
                continue
            conn.execute(
                sa.update(t)
                .where(t.c.id == row.id)
                .values(
                    status="sending",
                    attempts=t.c.attempts + 1,
                    provider=found.provider,
                    updated_at=db.naive(now),
                )
            )
            claimed.append(
                (Claimed(row.id, row.township_id, kind, dict(row.params), phone, row.attempts + 1), found)
            )
        _skip(conn, stale, "too_late", now)
        _skip(conn, untrue, "no_longer_true", now)
        _skip(conn, no_phone, "no_phone", now)
        _skip(conn, off, "sms_off", now)
    return claimed


def _finish(database: db.Database, message: Claimed, now: dt.datetime, **values: Any) -> None:
    with database.write() as conn:
        conn.execute(
            sa.update(t)
            .where(t.c.id == message.id, t.c.status == "sending")
            .values(updated_at=db.naive(now), **values)
        )


def send_due(
    database: db.Database, provider_for: ProviderFor, *, now: dt.datetime | None = None
) -> dict[str, int]:
    """Send what is due now; returns counts by outcome (sent, retry, failed)."""
    now = now or db.now_utc()
    outcome = {"sent": 0, "retry": 0, "failed": 0}
    for message, settings in claim(database, now=now):
        provider = provider_for(settings)
        if provider is None:
            _finish(database, message, now, status="failed", last_error="no_provider")
            outcome["failed"] += 1
            continue
        text = render(message.kind, message.params, settings.texts.get(message.kind.value))
        try:
            sent = provider.send(
                notification_id=message.id,
                phone=message.phone,
                kind=message.kind,
                params=message.params,
                text=text,
            )
        except SendFailed as exc:
            if exc.retry and message.attempts < MAX_ATTEMPTS:
                _finish(
                    database,
                    message,
                    now,
                    status="queued",
                    last_error=exc.code[:80],
                    next_attempt_at=db.naive(now + BACKOFF[message.attempts - 1]),
                )
                outcome["retry"] += 1
            else:
                _finish(database, message, now, status="failed", last_error=exc.code[:80])
                outcome["failed"] += 1
            log.info("notification %s: %s (%s)", message.id, "retry" if exc.retry else "failed", exc.code)
            continue
        _finish(
            database,
            message,
            now,
            status="sent",
            provider_message_id=sent.message_id[:80],
            sent_at=db.naive(now),
            last_error="",
        )
        outcome["sent"] += 1
    return outcome


def recover(database: db.Database, *, now: dt.datetime | None = None) -> int:
    """Mark messages left `sending` by a process that died as `unknown` (never resent). Returns how many."""
    now = now or db.now_utc()
    with database.write() as conn:
        return int(
            conn.execute(
                sa.update(t)
                .where(t.c.status == "sending", t.c.updated_at <= db.naive(now - STALE))
                .values(status="unknown", last_error="crashed_while_sending", updated_at=db.naive(now))
            ).rowcount
        )
