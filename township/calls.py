"""The day of the session (issue 16): the waiting-room calls and the roster they are made from.

A call ("请 3 号 到 远程诊室") is a row of `db.calls` addressed to the kiosk that checked the resident in
(`bookings.device_id`: a check-in is accepted only from the booking's own kiosk). The kiosk long-polls
`GET /v1/calls` for the calls after the last it has seen (`kiosk_calls`, the `CallBell` below wakes the held
requests). Calls come from two places:
- the console (the doctor or teacher, or township staff): `call_next`, `recall`, `skip`; `mark_seen` and
  `mark_absent` end a resident's turn through the attendance path (`services.mark_attendance`), whose booking change
  reaches the kiosk at its next pull, so they write no call;
- the kiosk's own staff mode: the `call`/`announce` op (`record_kiosk_call`, from `township.sync`), shown at once
  on the kiosk and recorded here for the roster; such calls are never sent back to the kiosk that made them.

Queue order across villages: numbers are given per session and kiosk (each village counts 1, 2, 3 …), so one
session may have a No. 1 at every village. "Next" takes the lowest number first and, between equal numbers, the
lowest kiosk number: the villages take turns (every village's No. 1, then every No. 2 …), each village's own order
is kept, and nothing depends on a kiosk's clock or on when its push arrived. A resident checked in by a kiosk from
before queue numbers (no number) comes after the numbered ones, by booking code.

Every insert into `calls` runs with the township row locked (`db.lock_township`, via `services._actor` or the push),
so a township's seqs commit in the order they are handed out: a kiosk asking "after N" never skips one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cunzhan import protocol as P
from cunzhan.i18n import N_
from cunzhan.models import BookingStatus as S
from township import db, services
from township import messages as M
from township.services import ServiceError, StaffUser

CALL, RECALL, SKIP = "call", "recall", "skip"  # protocol.CallAction
SOURCE_CONSOLE, SOURCE_KIOSK = "console", "kiosk"
# A kiosk is sent the calls of the last hour at most: an older call is history, not something to announce.
MAX_AGE = dt.timedelta(hours=1)
PAGE = 100  # calls per response; the kiosk asks again at once for the rest

ERR_NO_ONE_WAITING = N_("Nobody checked in is waiting to be called.")
ERR_NO_NUMBER = N_("This resident has no queue number.")

# A resident's place on the roster, from their booking's status and their latest call.
WAITING, CALLED, SKIPPED = "waiting", "called", "skipped"


# --- who may see and call a session ------------------------------------------------------------------------------------


# Who may run a roster; a provider only for their own sessions (`may_call`, checked before the services are asked).
ROSTER_ROLES = (services.ADMIN, services.REVIEWER, services.PROVIDER)


def may_see_all(staff: StaffUser) -> bool:
    """Township staff see every session of the township; a provider only their own."""
    return staff.role in (services.ADMIN, services.REVIEWER)


def may_call(staff: StaffUser, session: Any) -> bool:
    """Whether `staff` may run the roster of `session` (a row with `township_id` and `provider_id`)."""
    if session.township_id != staff.township_id:
        return False
    if may_see_all(staff):
        return True
    return (
        staff.role == services.PROVIDER
        and bool(staff.provider_id)
        and session.provider_id == staff.provider_id
    )


def sessions_filter(staff: StaffUser) -> sa.ColumnElement[bool]:
    """The sessions `staff` may see on the roster (a WHERE clause on `db.sessions`)."""
    s = db.sessions
    clause = s.c.township_id == staff.township_id
    if may_see_all(staff):
        return clause
    if staff.role == services.PROVIDER and staff.provider_id:
        return sa.and_(clause, s.c.provider_id == staff.provider_id)
    return sa.false()


# --- writing calls -----------------------------------------------------------------------------------------------------


def insert_call(
    conn: Connection,
    booking: Any,
    *,
    action: str,
    room: str,
    source: str,
    who: str,
    staff_id: str | None = None,
    client_at: dt.datetime | None = None,
) -> int:
    """Record one call for `booking`'s kiosk (the township is locked in this transaction); returns its seq."""
    return int(
        conn.execute(
            sa.insert(db.calls)
            .values(
                township_id=booking.township_id,
                session_id=booking.session_id,
                booking_id=booking.id,
                device_id=booking.device_id,
                queue_number=booking.queue_number,
                action=action,
                room=room[:100],
                source=source,
                who=who[:64],
                staff_id=staff_id,
                at=db.naive(db.now_utc()),
                client_at=client_at,
            )
            .returning(db.calls.c.seq)
        ).scalar_one()
    )


def record_kiosk_call(conn: Connection, booking: Any, p: P.RoomCall, *, kiosk_number: int) -> int:
    """A call the kiosk's staff made (op `call`/`announce`), already shown there: recorded for the roster.
    `booking` is the kiosk's own, checked in; the caller has checked both."""
    client_at: dt.datetime | None
    try:
        parsed = dt.datetime.fromisoformat(p.at)
        client_at = db.naive(parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC))
    except (ValueError, OverflowError):
        client_at = None
    if booking.queue_number is None:
        # A call is made by number: the kiosk's number stands in for one its check-in op did not carry.
        conn.execute(
            sa.update(db.bookings).where(db.bookings.c.id == booking.id).values(queue_number=p.queue_number)
        )
        booking = conn.execute(sa.select(db.bookings).where(db.bookings.c.id == booking.id)).one()
    return insert_call(
        conn,
        booking,
        action=p.action,
        room="",
        source=SOURCE_KIOSK,
        who=f"kiosk {kiosk_number}",
        client_at=client_at,
    )


# --- the console's actions ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Called:
    """What a console call did: the booking called and its number (for the page's confirmation)."""

    booking_id: str
    queue_number: int
    seq: int


def _queue_order() -> list[Any]:
    b, d = db.bookings, db.devices
    return [b.c.queue_number.is_(None), b.c.queue_number, d.c.kiosk_number, b.c.code]


def _latest_action() -> sa.ScalarSelect[Any]:
    """The latest call action of each booking (correlated to `db.bookings`)."""
    c = db.calls
    return (
        sa.select(c.c.action)
        .where(c.c.booking_id == db.bookings.c.id)
        .order_by(c.c.seq.desc())
        .limit(1)
        .correlate(db.bookings)
        .scalar_subquery()
    )


def _staff_session(conn: Connection, staff: StaffUser, session_id: str) -> tuple[Any, sa.Row[Any]]:
    actor, session = services._session_for(conn, session_id, staff.id, roles=ROSTER_ROLES)
    if not may_call(staff, session):
        raise ServiceError("not_found", M.ERR_NOT_FOUND)
    return actor, session


def _staff_booking(
    conn: Connection, staff: StaffUser, booking_id: str
) -> tuple[Any, sa.Row[Any], sa.Row[Any]]:
    actor, booking = services._booking_for(conn, booking_id, staff.id, roles=ROSTER_ROLES)
    session = conn.execute(sa.select(db.sessions).where(db.sessions.c.id == booking.session_id)).one()
    if not may_call(staff, session):
        raise ServiceError("not_found", M.ERR_NOT_FOUND)
    return actor, booking, session


def call_next(database: db.Database, staff: StaffUser, session_id: str) -> Called:
    """Call the next checked-in resident of the session not called yet, in queue order (module docstring)."""
    b, d = db.bookings, db.devices
    with database.write() as conn:
        actor, session = _staff_session(conn, staff, session_id)
        row = conn.execute(
            sa.select(b)
            .join(d, d.c.id == b.c.device_id)
            .where(b.c.session_id == session.id, b.c.status == S.CHECKED_IN, _latest_action().is_(None))
            .order_by(*_queue_order())
            .limit(1)
        ).first()
        if row is None:
            raise ServiceError("status", ERR_NO_ONE_WAITING)
        return _call(conn, actor, row, session, CALL)


def recall(database: db.Database, staff: StaffUser, booking_id: str) -> Called:
    """Call a resident again (重叫): one called before, or passed over (过号) and now back."""
    with database.write() as conn:
        actor, booking, session = _staff_booking(conn, staff, booking_id)
        return _call(conn, actor, booking, session, RECALL)


def skip(database: db.Database, staff: StaffUser, booking_id: str) -> Called:
    """Pass over a resident (过号): "next" no longer picks them; a recall brings them back."""
    with database.write() as conn:
        actor, booking, session = _staff_booking(conn, staff, booking_id)
        return _call(conn, actor, booking, session, SKIP)


def _call(conn: Connection, actor: Any, booking: sa.Row[Any], session: sa.Row[Any], action: str) -> Called:
    if booking.status != S.CHECKED_IN or booking.device_id is None:
        raise ServiceError("status", M.NOT_CHECKED_IN)
    if booking.queue_number is None:
        raise ServiceError("status", ERR_NO_NUMBER)  # a kiosk from before queue numbers: call it there
    seq = insert_call(
        conn,
        booking,
        action=action,
        room=session.room,
        source=SOURCE_CONSOLE,
        who=actor.who,
        staff_id=actor.staff_id,
    )
    services.audit_row(
        conn,
        actor.township_id,
        actor.who,
        f"resident_{'called' if action == CALL else 'recalled' if action == RECALL else 'skipped'}",
        booking.code,
        staff_id=actor.staff_id,
        queue_number=booking.queue_number,
        session_id=session.id,
        seq=seq,
    )
    return Called(booking.id, int(booking.queue_number), seq)


def mark_seen(database: db.Database, staff: StaffUser, booking_id: str, *, attended: bool) -> dict[str, Any]:
    """已看诊 (`attended=True`) or 未到 (`no_show`): through the attendance path, after the roster's own check."""
    with database.read() as conn:
        booking = conn.execute(sa.select(db.bookings).where(db.bookings.c.id == booking_id)).first()
        session = (
            conn.execute(sa.select(db.sessions).where(db.sessions.c.id == booking.session_id)).first()
            if booking is not None
            else None
        )
    if booking is None or session is None or not may_call(staff, session):
        raise ServiceError("not_found", M.ERR_NOT_FOUND)
    return services.mark_attendance(database, booking_id, attended, staff_id=staff.id, roles=ROSTER_ROLES)


# --- the roster ----------------------------------------------------------------------------------------------------


ROSTER_STATUSES = (S.CONFIRMED, S.CHECKED_IN, S.ATTENDED, S.NO_SHOW)


def roster_sessions(
    conn: Connection, staff: StaffUser, start: dt.datetime, end: dt.datetime
) -> list[dict[str, Any]]:
    """The sessions starting in [start, end) (naive UTC) whose roster `staff` may run, not cancelled, in time
    order, with their service's and provider's names."""
    s, sv, p = db.sessions, db.services, db.providers
    rows = conn.execute(
        sa.select(s, sv.c.name.label("service_name"), p.c.name.label("provider_name"))
        .join(sv, sv.c.id == s.c.service_id)
        .join(p, p.c.id == s.c.provider_id)
        .where(sessions_filter(staff), s.c.starts_at >= start, s.c.starts_at < end, s.c.status != "cancelled")
        .order_by(s.c.starts_at, sv.c.name)
    ).all()
    return [dict(r._mapping) for r in rows]


def roster(conn: Connection, session_id: str) -> list[dict[str, Any]]:
    """A session's residents in queue order (checked in first, then the rest by code), with their place:
    `state` is waiting / called / skipped for a checked-in resident, else the booking's status; `times_called`
    counts calls and recalls. Names stay sealed here (`r_name_enc`, `contact_name_enc`: the console opens and
    masks them); no ID number or phone is read."""
    b, d, r = db.bookings, db.devices, db.residents
    last = _latest_action().label("last_action")
    times_called = (
        sa.select(sa.func.count())
        .where(db.calls.c.booking_id == b.c.id, db.calls.c.action.in_((CALL, RECALL)))
        .correlate(b)
        .scalar_subquery()
        .label("times_called")
    )
    checked_first = sa.case((b.c.status == S.CHECKED_IN, 0), else_=1)
    rows = conn.execute(
        sa.select(
            b.c.id,
            b.c.code,
            b.c.status,
            b.c.queue_number,
            b.c.resident_id,
            b.c.contact_name_enc,
            b.c.for_dependent,
            r.c.name_enc.label("r_name_enc"),
            sa.func.coalesce(b.c.contact_village, r.c.village).label("village"),
            d.c.name.label("kiosk_name"),
            last,
            times_called,
        )
        .join(r, r.c.id == b.c.resident_id)
        .outerjoin(d, d.c.id == b.c.device_id)
        .where(b.c.session_id == session_id, b.c.status.in_(ROSTER_STATUSES))
        .order_by(checked_first, *_queue_order())
    ).all()
    out = []
    for row in rows:
        data = dict(row._mapping)
        if row.status == S.CHECKED_IN:
            data["state"] = {None: WAITING, SKIP: SKIPPED}.get(row.last_action, CALLED)
        else:
            data["state"] = str(row.status)
        out.append(data)
    return out


# --- what a kiosk long-polls for -----------------------------------------------------------------------------------


def kiosk_calls(database: db.Database, device_id: str, after: int) -> tuple[list[dict[str, Any]], int, int]:
    """(the calls for this kiosk after seq `after`, at most PAGE of them; the seq to ask after next time; the
    highest seq of the whole table, for `CallBell`). Calls made at this kiosk are not sent back to it."""
    c = db.calls
    since = db.naive(db.now_utc() - MAX_AGE)
    with database.read() as conn:
        rows = conn.execute(
            sa.select(c)
            .where(c.c.device_id == device_id, c.c.seq > after, c.c.at >= since, c.c.source == SOURCE_CONSOLE)
            .order_by(c.c.seq)
            .limit(PAGE)
        ).all()
        top = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(c.c.seq), 0))).scalar_one())
        if rows:
            last = int(rows[-1].seq)
        else:
            # Safe to move past every console call seen: a later one waits for the township lock, which the one
            # committed before this read held, so its seq is higher. (The kiosk's own calls are not counted: they
            # are never sent back, and nothing orders them against the console's.)
            mine = conn.execute(
                sa.select(sa.func.max(c.c.seq)).where(
                    c.c.device_id == device_id, c.c.source == SOURCE_CONSOLE
                )
            ).scalar_one()
            last = max(after, int(mine or 0))
    calls = [
        {
            "seq": int(r.seq),
            "session_id": r.session_id,
            "booking_id": r.booking_id,
            "queue_number": int(r.queue_number),
            "action": r.action,
            "room": r.room,
            "at": db.iso(r.at),
        }
        for r in rows
    ]
    return calls, last, top


def top_seq(database: db.Database) -> int:
    """The highest call seq so far (0: none)."""
    with database.read() as conn:
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(db.calls.c.seq), 0))).scalar_one())


class CallBell:
    """Wakes this process's held `GET /v1/calls` requests when a call may be there for them.

    One look at the newest seq every `interval` seconds, only while a request is waiting — however many kiosks
    wait, and whichever process (`serve --workers`, another host on the same PostgreSQL) made the call. A call made
    in this process rings at once (`ring`). Waiters hold no database connection and no thread while they wait.
    On PostgreSQL, two townships' calls committing out of seq order could leave a waiter unwoken for one round:
    the endpoint looks again every `RECHECK_S` seconds anyway, so a call is never later than that."""

    def __init__(self, top: Callable[[], int], *, interval: float = 0.25) -> None:
        self._read_top = top
        self.interval = interval
        self._top: int | None = None  # the newest seq the watcher last read
        self._rings = 0
        self._waiters = 0
        self._changed: asyncio.Condition | None = None
        self._task: asyncio.Task[None] | None = None

    async def ring(self) -> None:
        """A call was just committed in this process: wake its waiters now."""
        self._rings += 1
        if self._changed is not None:
            await self._notify()

    async def _notify(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    async def wait(self, seen_top: int, timeout: float) -> None:
        """Return when the newest seq is past `seen_top` (what the caller's own look saw), or a call was made in
        this process, or after `timeout` seconds, whichever is first."""
        if self._changed is None:
            self._changed = asyncio.Condition()
        changed = self._changed
        rings = self._rings
        self._waiters += 1
        try:
            if self._task is None or self._task.done():
                self._task = asyncio.ensure_future(self._watch())
            async with changed:
                await asyncio.wait_for(
                    changed.wait_for(
                        lambda: self._rings != rings or (self._top is not None and self._top > seen_top)
                    ),
                    timeout,
                )
        except TimeoutError:
            pass
        finally:
            self._waiters -= 1

    async def _watch(self) -> None:
        """Read the newest seq while anyone waits; wake the waiters when it moves."""
        from fastapi.concurrency import run_in_threadpool

        try:
            while self._waiters > 0:
                try:
                    top: int | None = await run_in_threadpool(self._read_top)
                except Exception:  # a busy or restarting database: the endpoint's own re-check still runs
                    top = self._top
                if top != self._top:
                    self._top = top
                    await self._notify()
                await asyncio.sleep(self.interval)
        finally:
            self._top = None  # stale once nobody watches: the next watcher reads afresh
