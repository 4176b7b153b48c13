"""Seats, bookings and the change log: the rules both the sync API and the staff console go through.

Every function here runs inside a `Database.write()` transaction whose caller has already called
`db.lock_township()`; capacity is always checked and taken in that same transaction, after the session row is locked
(`db.lock_session`). Nothing here commits.

Seat accounting (docs/sync.md, "Capacity"):
- `taken`: bookings in `pending_review`, `confirmed`, `checked_in` or `attended` — a booking awaiting review holds its
  seat, so staff can never confirm beyond capacity;
- `leased`: seats set aside for kiosks in live leases and not yet used;
- `seats_left = capacity - taken - leased` is the shared pool that kiosks see.
`taken` of `confirmed + checked_in + attended` therefore never exceeds capacity.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cunzhan.fieldcrypto import field_ref, match_hash
from cunzhan.i18n import gettext as _
from cunzhan.models import ACTIVE, HOLDS_SEAT
from cunzhan.models import BookingStatus as S
from township import db, keys
from township import messages as M
from township.notify import outbox as notify
from township.notify.messages import Kind

LIVE_LEASE = ("active", "returning")
STAFF_SCOPE = "staff"  # scope of changes about bookings no kiosk made: no device sees them
PHONE_CHANNEL = "phone"  # `bookings.channel` of a booking staff made in the console for a resident who phoned
MAX_ALTERNATIVES = 3


def new_id() -> str:
    return str(uuid.uuid4())


# --- change log ------------------------------------------------------------------------------------------------------


def append_change(
    conn: Connection,
    township_id: str,
    entity: str,
    entity_id: str,
    op: str,
    *,
    version: int,
    data: dict[str, Any],
    scope: str | None = None,
) -> int:
    """Append one change with the township's next `server_seq` and return that seq."""
    seq = db.next_seq(conn, township_id)
    if seq is None:  # not locked in this transaction: the UPDATE takes the row lock itself
        seq = int(
            conn.execute(
                sa.update(db.townships)
                .where(db.townships.c.id == township_id)
                .values(last_seq=db.townships.c.last_seq + 1)
                .returning(db.townships.c.last_seq)
            ).scalar_one()
        )
    values = {
        "township_id": township_id,
        "seq": seq,
        "entity": entity,
        "entity_id": entity_id,
        "op": op,
        "version": version,
        "data": data,
        "scope": scope,
        "created_at": db.naive(db.now_utc()),
    }
    buffer: list[dict[str, Any]] | None = conn.info.get(_CHANGE_BUFFER)
    if buffer is not None:
        buffer.append(values)  # written in one executemany by `write_buffered_changes`, before commit
    else:
        conn.execute(_INSERT_CHANGE, values)
    return seq


LOG_HORIZON = dt.timedelta(days=30)  # changes older than this keep only each entity's latest version


def compact_changes(
    database: db.Database, *, horizon: dt.timedelta = LOG_HORIZON, now: dt.datetime | None = None
) -> dict[str, int]:
    """Compact every township's change log: of the changes made before `now − horizon`, drop each one that a later
    change of the same entity supersedes, and raise the township's `log_floor` to the newest such change. A cursor
    below the floor is then answered 410 `cursor_expired` and its kiosk takes a fresh snapshot, which still finds
    every entity (its latest change is kept, deletions included). Cursors at or above the floor lose nothing.
    Returns the rows removed per township id. One write transaction per township (its lock held)."""
    cutoff = db.naive((now or db.now_utc()) - horizon)
    removed: dict[str, int] = {}
    with database.read() as conn:
        township_ids = list(conn.execute(sa.select(db.townships.c.id)).scalars())
    c = db.changes
    for township_id in township_ids:
        with database.write() as conn:
            town = db.lock_township(conn, township_id)
            floor = conn.execute(
                sa.select(sa.func.max(c.c.seq)).where(c.c.township_id == township_id, c.c.created_at < cutoff)
            ).scalar()
            if floor is None or floor <= town.log_floor:
                continue
            latest = (
                sa.select(sa.func.max(c.c.seq))
                .where(c.c.township_id == township_id)
                .group_by(c.c.entity, c.c.entity_id)
            )
            gone = conn.execute(
                sa.delete(c).where(c.c.township_id == township_id, c.c.seq <= floor, c.c.seq.not_in(latest))
            ).rowcount
            conn.execute(
                sa.update(db.townships).where(db.townships.c.id == township_id).values(log_floor=floor)
            )
            removed[township_id] = int(gone)
    return removed


_CHANGE_BUFFER = "cunzhan_change_buffer"
_INSERT_CHANGE = sa.insert(db.changes)  # built once: statement construction costs more than SQLite's insert


def buffer_changes(conn: Connection) -> list[dict[str, Any]]:
    """From now on collect this transaction's changes in memory (a push batch: one executemany instead of one
    INSERT per booking). The caller must call `write_buffered_changes` before anything reads the log, and may cut
    the list back to an earlier length when a savepoint rolls back. Seqs are still handed out at append time."""
    buffer: list[dict[str, Any]] = conn.info.setdefault(_CHANGE_BUFFER, [])
    return buffer


def write_buffered_changes(conn: Connection) -> None:
    """Insert the collected changes and stop collecting (later changes are inserted at once again)."""
    buffer: list[dict[str, Any]] | None = conn.info.pop(_CHANGE_BUFFER, None)
    if buffer:
        db.insert_rows(conn, db.changes, buffer)


# --- seats -----------------------------------------------------------------------------------------------------------


def _seat_counts_statement() -> sa.Select[Any]:
    session_id: sa.BindParameter[str] = sa.bindparam("session_id", type_=sa.String())
    taken = (
        sa.select(sa.func.count())
        .select_from(db.bookings)
        .where(db.bookings.c.session_id == session_id, db.bookings.c.status.in_(HOLDS_SEAT))
        .scalar_subquery()
    )
    leased = (
        sa.select(sa.func.coalesce(sa.func.sum(db.leases.c.seats - db.leases.c.used), 0))
        .where(db.leases.c.session_id == session_id, db.leases.c.state.in_(LIVE_LEASE))
        .scalar_subquery()
    )
    return sa.select(taken, leased)


_SEAT_COUNTS = _seat_counts_statement()  # built once: building it cost more than running it


def seat_counts(conn: Connection, session_id: str) -> tuple[int, int]:
    """(taken, leased) for a session: seats held by bookings, unused seats in live leases (one round trip)."""
    row = conn.execute(_SEAT_COUNTS, {"session_id": session_id}).one()
    return int(row[0]), int(row[1])


def seats_left(conn: Connection, session: sa.Row[Any], counts: tuple[int, int] | None = None) -> int:
    """The shared pool of a session: what any kiosk may still book without a lease. `counts`: (taken, leased)
    already counted in this transaction and still true (a push batch keeps them), else they are counted now."""
    taken, leased = counts if counts is not None else seat_counts(conn, session.id)
    return max(0, int(session.capacity) - taken - leased)


def session_data(
    conn: Connection, session: sa.Row[Any], counts: tuple[int, int] | None = None
) -> dict[str, Any]:
    """A session as a change's `data`."""
    return {
        "service_id": session.service_id,
        "provider_id": session.provider_id,
        "starts_at": db.iso(session.starts_at),
        "ends_at": db.iso(session.ends_at),
        "capacity": session.capacity,
        "seats_left": seats_left(conn, session, counts),
        "room": session.room,
        "video_url": session.video_url,
        "status": session.status,
    }


_BUMP_SESSION = (
    sa.update(db.sessions)
    .where(db.sessions.c.id == sa.bindparam("session_id"))
    .values(version=db.sessions.c.version + 1, updated_at=sa.bindparam("now"))
    .returning(*db.sessions.c)
)


def emit_session(conn: Connection, session_id: str, counts: tuple[int, int] | None = None) -> None:
    """Bump a session's version and log it (its status or seats_left changed)."""
    row = conn.execute(_BUMP_SESSION, {"session_id": session_id, "now": db.naive(db.now_utc())}).one()
    append_change(
        conn,
        row.township_id,
        "session",
        row.id,
        "upsert",
        version=row.version,
        data=session_data(conn, row, counts),
    )


_TOUCHED = "cunzhan_touched_sessions"
_SERVICES = "cunzhan_services"


def touch_session(conn: Connection, session_id: str) -> None:
    """Note that a session's seats or status changed; its change is logged once, before the transaction commits
    (a batch of 200 bookings for one session logs it once, not 200 times)."""
    touched: dict[str, None] = conn.info.setdefault(_TOUCHED, {})
    touched[session_id] = None
    db.before_commit(conn, "sessions", flush_sessions)


def flush_sessions(conn: Connection, counts: dict[str, tuple[int, int]] | None = None) -> None:
    """Log every touched session now (pull calls it before reading the log). `counts`: (taken, leased) per session
    that the caller knows to be current (see `seats_left`)."""
    touched: dict[str, None] = conn.info.pop(_TOUCHED, {})
    if not touched:
        return
    # One UPDATE for all of them (a push touching ten sessions ran ten, each a round trip under the township lock).
    bumped = conn.execute(
        sa.update(db.sessions)
        .where(db.one_of(conn, db.sessions.c.id, list(touched)))
        .values(version=db.sessions.c.version + 1, updated_at=db.naive(db.now_utc()))
        .returning(*db.sessions.c)
    )
    rows = {row.id: row for row in bumped}
    for session_id in touched:  # logged in the order touched
        row = rows[session_id]
        data = session_data(conn, row, (counts or {}).get(session_id))
        append_change(conn, row.township_id, "session", row.id, "upsert", version=row.version, data=data)


def emit_service(conn: Connection, service_id: str) -> None:
    """Log a service's current state (catalogue, whole township)."""
    row = conn.execute(sa.select(db.services).where(db.services.c.id == service_id)).one()
    op = "upsert" if row.active else "delete"
    append_change(
        conn,
        row.township_id,
        "service",
        row.id,
        op,
        version=row.version,
        data={
            "kind": row.kind,
            "name": row.name,
            "description": row.description,
            "review": bool(row.review),
            "what_to_bring": row.what_to_bring,
            "queue_order": row.queue_order,
        },
    )


def emit_provider(conn: Connection, provider_id: str) -> None:
    """Log a provider's current state (catalogue, whole township)."""
    row = conn.execute(sa.select(db.providers).where(db.providers.c.id == provider_id)).one()
    op = "upsert" if row.active else "delete"
    append_change(
        conn,
        row.township_id,
        "provider",
        row.id,
        op,
        version=row.version,
        data={"name": row.name, "title": row.title, "organisation": row.organisation},
    )


def emit_notice(conn: Connection, notice_id: str) -> None:
    """Log a notice (whole township)."""
    row = conn.execute(sa.select(db.notices).where(db.notices.c.id == notice_id)).one()
    op = "upsert" if row.active else "delete"
    append_change(
        conn,
        row.township_id,
        "notice",
        row.id,
        op,
        version=row.version,
        data={
            "title": row.title,
            "body": row.body,
            "starts_at": db.iso(row.starts_at),
            "ends_at": db.iso(row.ends_at),
        },
    )


# --- bookings --------------------------------------------------------------------------------------------------------


def booking_summary(row: Any) -> dict[str, Any]:
    """The Result's `booking` object."""
    return {
        "id": row.id,
        "status": row.status,
        "code": row.code,
        "session_id": row.session_id,
        "version": row.version,
    }


def get_booking(conn: Connection, booking_id: str) -> sa.Row[Any] | None:
    return conn.execute(sa.select(db.bookings).where(db.bookings.c.id == booking_id)).first()


def match_key(conn: Connection, device_id: str) -> str:
    """A kiosk's match key (64 hex digits): derived from the township's data key, which lives outside the database,
    and the device id, so only that kiosk (told it in its pull) can compute the `match` of an ID number."""
    return keys.cipher_for(conn).lookup_hash("phone-match:" + device_id)


def phone_match(conn: Connection, row: Any) -> str | None:
    """The `match` a phone booking's change carries: its resident's ID number hashed under its kiosk's match key,
    so the kiosk recognises the resident when they type their number there (docs/sync.md, "Phone bookings").
    None for any other booking, and once the resident's data is erased."""
    if row.channel != PHONE_CHANNEL or row.device_id is None or row.contact_name_enc is None:
        return None
    sealed = conn.execute(
        sa.select(db.residents.c.id_number_enc).where(db.residents.c.id == row.resident_id)
    ).scalar()
    cipher = keys.cipher_for(conn)
    number = cipher.decrypt(sealed, where=field_ref("residents", "id_number_enc", row.resident_id))
    return match_hash(match_key(conn, row.device_id), number) if number else None


def log_booking(conn: Connection, row: Any) -> None:
    """Append the change for a booking row already in hand (a Row, or any object with the same attributes)."""
    data = booking_summary(row) | {"message": row.message}
    if row.device_id is not None and row.contact_name_enc is None:
        # Its resident's personal data was erased (on request or by retention, township.retention): its kiosk
        # erases its own copy. Kept on every later change of the booking, so compaction never loses it.
        data["erased"] = True
    match = phone_match(conn, row)
    if match is not None:
        data["match"] = match  # on every change of it: a kiosk taking a fresh snapshot still recognises them
    append_change(
        conn,
        row.township_id,
        "booking",
        row.id,
        "upsert",
        version=row.version,
        data=data,
        scope=row.device_id or STAFF_SCOPE,
    )


def update_booking(conn: Connection, booking_id: str, **values: Any) -> sa.Row[Any]:
    """Change a booking, bump its version, log it; returns the new row."""
    row = conn.execute(
        sa.update(db.bookings)
        .where(db.bookings.c.id == booking_id)
        .values(version=db.bookings.c.version + 1, updated_at=db.naive(db.now_utc()), **values)
        .returning(*db.bookings.c)
    ).one()
    log_booking(conn, row)
    return row


def cancel_booking(conn: Connection, row: sa.Row[Any], message: str, **values: Any) -> sa.Row[Any]:
    """Cancel a booking (its kiosk's cancel op, or staff at the resident's request) with `message` for the resident;
    a seat it held goes to the waiting list, a waiting-list place only re-ranks the queue. Returns the new row."""
    new = update_booking(conn, row.id, status=S.CANCELLED, message=message, waitlist_position=None, **values)
    if row.status in HOLDS_SEAT:
        release_seat(conn, row.session_id)
    elif row.status == S.WAITLISTED:
        promote_waitlist(conn, row.session_id)
    return new


def service_of(conn: Connection, session: sa.Row[Any]) -> sa.Row[Any]:
    """The session's service (cached for the rest of the transaction: a batch books the same few services)."""
    cache: dict[str, sa.Row[Any]] = conn.info.setdefault(_SERVICES, {})
    found = cache.get(session.service_id)
    if found is None:
        found = conn.execute(sa.select(db.services).where(db.services.c.id == session.service_id)).one()
        cache[session.service_id] = found
        db.before_commit(conn, "forget_services", lambda c: c.info.pop(_SERVICES, None))
    return found


def lock_sessions_with_seats(
    conn: Connection, township_id: str, session_ids: list[str]
) -> dict[str, tuple[sa.Row[Any], tuple[int, int]]]:
    """The township's sessions among `session_ids`, locked FOR UPDATE on PostgreSQL (in id order), each with its
    (taken, leased) as `seat_counts` gives them, and their services cached for `service_of`: a few statements for a
    whole push instead of two per session."""
    s, b, le = db.sessions, db.bookings, db.leases
    found: dict[str, sa.Row[Any]] = {}
    for start in range(0, len(session_ids), 400):
        query = sa.select(s).where(
            db.one_of(conn, s.c.id, session_ids[start : start + 400]), s.c.township_id == township_id
        )
        if conn.dialect.name == "postgresql":
            query = query.order_by(s.c.id).with_for_update()
        found.update((row.id, row) for row in conn.execute(query))
    if not found:
        return {}
    ids = sorted(found)
    taken: dict[str, int] = {}
    leased: dict[str, int] = {}
    for start in range(0, len(ids), 400):
        part = ids[start : start + 400]
        taken.update(
            (r[0], int(r[1]))
            for r in conn.execute(
                sa.select(b.c.session_id, sa.func.count())
                .where(db.one_of(conn, b.c.session_id, part), b.c.status.in_(HOLDS_SEAT))
                .group_by(b.c.session_id)
            )
        )
        leased.update(
            (r[0], int(r[1] or 0))
            for r in conn.execute(
                sa.select(le.c.session_id, sa.func.sum(le.c.seats - le.c.used))
                .where(db.one_of(conn, le.c.session_id, part), le.c.state.in_(LIVE_LEASE))
                .group_by(le.c.session_id)
            )
        )
    cache: dict[str, sa.Row[Any]] = conn.info.setdefault(_SERVICES, {})
    wanted = sorted({row.service_id for row in found.values()} - set(cache))
    if wanted:
        cache.update(
            (row.id, row)
            for row in conn.execute(sa.select(db.services).where(db.one_of(conn, db.services.c.id, wanted)))
        )
        db.before_commit(conn, "forget_services", lambda c: c.info.pop(_SERVICES, None))
    return {i: (found[i], (taken.get(i, 0), leased.get(i, 0))) for i in ids}


def cached_service(conn: Connection, service_id: str) -> sa.Row[Any] | None:
    """The service if `service_of` already read it in this transaction, else None (no query)."""
    cache: dict[str, sa.Row[Any]] = conn.info.get(_SERVICES, {})
    return cache.get(service_id)


def next_waitlist_position(conn: Connection, session_id: str) -> int:
    top = conn.execute(
        sa.select(sa.func.max(db.bookings.c.waitlist_position)).where(db.bookings.c.session_id == session_id)
    ).scalar_one()
    return int(top or 0) + 1


def waitlist_rank(conn: Connection, booking: sa.Row[Any]) -> int:
    """1-based place in the queue of a waitlisted booking."""
    ahead = conn.execute(
        sa.select(sa.func.count())
        .select_from(db.bookings)
        .where(
            db.bookings.c.session_id == booking.session_id,
            db.bookings.c.status == S.WAITLISTED,
            db.bookings.c.waitlist_position < booking.waitlist_position,
        )
    ).scalar_one()
    return int(ahead) + 1


def promote_waitlist(conn: Connection, session_id: str) -> list[str]:
    """Give freed seats of an open session to waitlisted bookings, first come first served. Returns their ids."""
    session = db.lock_session(conn, session_id)
    if session is None or session.status != "open" or db.utc(session.ends_at) <= db.now_utc():
        return []  # nobody can use a seat of a cancelled, closed or finished session
    review = bool(service_of(conn, session).review)
    promoted: list[str] = []
    while seats_left(conn, session) > 0:
        nxt = conn.execute(
            sa.select(db.bookings)
            .where(db.bookings.c.session_id == session_id, db.bookings.c.status == S.WAITLISTED)
            .order_by(db.bookings.c.waitlist_position, db.bookings.c.created_at)
            .limit(1)
        ).first()
        if nxt is None:
            break
        promoted_row = update_booking(
            conn,
            nxt.id,
            status=S.PENDING_REVIEW if review else S.CONFIRMED,
            waitlist_position=None,
            message=_(M.PROMOTED_REVIEW if review else M.PROMOTED),
        )
        if not review:  # a promotion that still awaits review is told when staff decide
            notify.queue(conn, promoted_row, Kind.PROMOTED, occasion=f"v{promoted_row.version}")
        promoted.append(nxt.id)
    if promoted:
        # Tell the others their new place in the queue.
        for row in conn.execute(
            sa.select(db.bookings).where(
                db.bookings.c.session_id == session_id, db.bookings.c.status == S.WAITLISTED
            )
        ).all():
            message = _(M.WAITLISTED).format(position=waitlist_rank(conn, row))
            if message != row.message:
                update_booking(conn, row.id, message=message)
    return promoted


def release_seat(conn: Connection, session_id: str) -> None:
    """After a seat was given back (cancel, reject, move, lease return): promote the waitlist, log the session."""
    promote_waitlist(conn, session_id)
    touch_session(conn, session_id)


def alternatives(
    conn: Connection, session: sa.Row[Any], *, now: dt.datetime, limit: int = MAX_ALTERNATIVES
) -> list[dict[str, Any]]:
    """Up to `limit` open sessions of the same service with seats left, nearest in time to `session`."""
    rows = list(
        conn.execute(
            sa.select(db.sessions)
            .where(
                db.sessions.c.township_id == session.township_id,
                db.sessions.c.service_id == session.service_id,
                db.sessions.c.id != session.id,
                db.sessions.c.status == "open",
                db.sessions.c.starts_at > db.naive(now),
            )
            .order_by(db.sessions.c.starts_at)
            .limit(200)
        ).all()
    )
    target = db.utc(session.starts_at)
    rows.sort(key=lambda r: (abs((db.utc(r.starts_at) - target).total_seconds()), r.starts_at))
    found: list[dict[str, Any]] = []
    for row in rows:
        left = seats_left(conn, row)
        if left > 0:
            found.append({"session_id": row.id, "starts_at": db.iso(row.starts_at), "seats_left": left})
            if len(found) >= limit:
                break
    return found


def active_duplicate(
    conn: Connection, session_id: str, resident_id: str, dependent_key: str, exclude: str | None = None
) -> bool:
    """Whether this resident (or the same dependent of theirs) already holds an active booking for the session."""
    query = sa.select(db.bookings.c.id).where(
        db.bookings.c.session_id == session_id,
        db.bookings.c.resident_id == resident_id,
        db.bookings.c.dependent_key == dependent_key,
        db.bookings.c.status.in_(ACTIVE),
    )
    if exclude is not None:
        query = query.where(db.bookings.c.id != exclude)
    return conn.execute(query.limit(1)).first() is not None


def dependent_key(for_dependent: dict[str, Any] | None) -> str:
    """Who a booking is for, beside the resident: '' for themselves, else the dependent's name."""
    if not for_dependent:
        return ""
    return str(for_dependent.get("name", "")).strip()[:64]


# --- leases ----------------------------------------------------------------------------------------------------------


def lease_data(row: sa.Row[Any], counted: list[str] | None = None) -> dict[str, Any]:
    """A lease as a change's `data`; `seats` is what the kiosk may still confirm offline (granted minus used), and
    `bookings` the ids of the device's lease-backed bookings for the session that the backend had received when
    this change was made (docs/sync.md, "Seat leases": the kiosk subtracts its lease bookings *not* in it)."""
    return {
        "session_id": row.session_id,
        "seats": max(0, row.seats - row.used),
        "granted": row.seats,
        "used": row.used,
        "expires_at": db.iso(row.expires_at),
        "bookings": counted or [],
    }


_LEASE_BOOKINGS = (
    sa.select(db.bookings.c.id)
    .where(
        db.bookings.c.device_id == sa.bindparam("device_id"),
        db.bookings.c.session_id == sa.bindparam("session_id"),
        db.bookings.c.lease.is_(True),
    )
    .order_by(db.bookings.c.id)
)


def emit_lease(conn: Connection, lease_id: str, *, delete: bool = False) -> int:
    """Log a lease for its own kiosk only, with the lease-backed bookings counted so far (see `lease_data`)."""
    row = conn.execute(sa.select(db.leases).where(db.leases.c.id == lease_id)).one()
    counted = [
        str(b)
        for b in conn.execute(
            _LEASE_BOOKINGS, {"device_id": row.device_id, "session_id": row.session_id}
        ).scalars()
    ]
    return append_change(
        conn,
        row.township_id,
        "lease",
        row.id,
        "delete" if delete else "upsert",
        version=row.version,
        data=lease_data(row, counted),
        scope=row.device_id,
    )


def return_lease(conn: Connection, lease_id: str) -> None:
    """Give a lease's unused seats back to the shared pool (and to the waitlist)."""
    row = conn.execute(sa.select(db.leases).where(db.leases.c.id == lease_id)).one()
    if row.state == "returned":
        return
    if row.state == "active":
        conn.execute(
            sa.update(db.leases).where(db.leases.c.id == lease_id).values(version=db.leases.c.version + 1)
        )
        emit_lease(conn, lease_id, delete=True)
    conn.execute(
        sa.update(db.leases)
        .where(db.leases.c.id == lease_id)
        .values(state="returned", updated_at=db.naive(db.now_utc()))
    )
    if row.seats > row.used:
        release_seat(conn, row.session_id)
