"""The sync protocol's server side: enrolment, device tokens, push (ops → results) and pull (change log + leases).

HTTP concerns (status codes, gzip, sizes) live in `township.app`; this module works on parsed JSON and raises
`SyncError` for whole-request failures. Business outcomes are per-op results, never exceptions.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Connection

from cunzhan import protocol as P
from cunzhan.fieldcrypto import field_ref
from cunzhan.i18n import gettext as _
from cunzhan.i18n import use_locale
from cunzhan.identity import IdCheck, check_id_number, mask_id
from cunzhan.models import ACTIVE, CHANGEABLE, CHECKED_IN_OR_LATER, FEEDBACK_REASONS, HOLDS_SEAT
from cunzhan.models import BookingStatus as S
from township import booking as B
from township import db, keys
from township import messages as M
from township.insight.unmet import record_unmet
from township.services import audit_row, hash_secret, normalise_enrollment_code

log = logging.getLogger(__name__)

LEASE_TTL = dt.timedelta(hours=6)  # how long a kiosk may confirm offline on a lease
LEASE_HORIZON = dt.timedelta(hours=48)  # leases only for sessions starting within this
LEASE_MIN_LEAD = dt.timedelta(minutes=10)  # …and not about to start
LEASE_CHECK_EVERY = dt.timedelta(seconds=60)  # grant/renew pass at most this often per device
DEMAND_WINDOW = dt.timedelta(days=14)
HIGH_DEMAND = 5  # bookings of a service in DEMAND_WINDOW that earn kiosks a second seat
MAX_LEASE_SEATS = 2


class SyncError(Exception):
    """A whole-request failure: `status` (HTTP) and `code` (protocol error code)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    township_id: str
    kiosk_number: int


# --- enrolment and auth ----------------------------------------------------------------------------------------------


def enroll(database: db.Database, request: P.EnrollRequest) -> dict[str, Any]:
    """Use a single-use enrolment code: make a device with a fresh token (only its hash is kept)."""
    if "\x00" in request.kiosk_name + request.app_version:
        raise SyncError(400, P.ERROR_MALFORMED, "text fields cannot contain NUL characters")
    code_hash = hash_secret(normalise_enrollment_code(request.enrollment_code))
    token = secrets.token_urlsafe(32)
    now = db.naive(db.now_utc())
    with database.write() as conn:
        code = conn.execute(
            sa.select(db.enrollment_codes).where(db.enrollment_codes.c.code_hash == code_hash)
        ).first()
        if code is None or code.used_at is not None or code.expires_at <= now:
            raise SyncError(403, P.ERROR_FORBIDDEN, "enrolment code unknown, used or expired")
        town = db.lock_township(conn, code.township_id)
        used = conn.execute(
            sa.update(db.enrollment_codes)
            .where(db.enrollment_codes.c.id == code.id, db.enrollment_codes.c.used_at.is_(None))
            .values(used_at=now)
        )
        if used.rowcount != 1:
            raise SyncError(403, P.ERROR_FORBIDDEN, "enrolment code unknown, used or expired")
        # Kiosk numbers are part of booking codes (2 digits): never reused within a township.
        number = int(town.next_kiosk_number)
        if number > 99:
            raise SyncError(403, P.ERROR_FORBIDDEN, "this township has no kiosk numbers left")
        conn.execute(
            sa.update(db.townships).where(db.townships.c.id == town.id).values(next_kiosk_number=number + 1)
        )
        device_id = B.new_id()
        conn.execute(
            sa.insert(db.devices).values(
                id=device_id,
                township_id=town.id,
                kiosk_number=number,
                name=request.kiosk_name,
                token_hash=hash_secret(token),
                created_at=now,
                app_version=request.app_version,
                last_sync_at=now,
            )
        )
        conn.execute(
            sa.update(db.enrollment_codes)
            .where(db.enrollment_codes.c.id == code.id)
            .values(device_id=device_id)
        )
        audit_row(conn, town.id, "system", "device_enrolled", device_id, at=now, kiosk_number=number)
        return {
            "device_id": device_id,
            "device_token": token,
            "township_id": town.slug,
            "kiosk_number": number,
            "zone": town.zone,
        }


def authenticate(database: db.Database, authorization: str | None) -> Device:
    """The device behind `Authorization: Bearer <token>`: 401 when missing or unknown, 403 when revoked."""
    if not authorization or not authorization.startswith("Bearer "):
        raise SyncError(401, P.ERROR_UNAUTHORIZED, "missing bearer token")
    token = authorization[len("Bearer ") :].strip()
    if not token:
        raise SyncError(401, P.ERROR_UNAUTHORIZED, "missing bearer token")
    with database.read() as conn:
        row = conn.execute(sa.select(db.devices).where(db.devices.c.token_hash == hash_secret(token))).first()
    if row is None:
        raise SyncError(401, P.ERROR_UNAUTHORIZED, "unknown token")
    if row.revoked_at is not None:
        raise SyncError(403, P.ERROR_FORBIDDEN, "this kiosk has been revoked")
    return Device(row.id, row.township_id, row.kiosk_number)


def _record_device(
    conn: Connection,
    device: Device,
    *,
    client_time: dt.datetime | None,
    pending_ops: int | None = None,
    app_version: str | None = None,
    set_pending: bool = False,
) -> None:
    now = db.now_utc()
    values: dict[str, Any] = {"last_sync_at": db.naive(now)}
    if client_time is not None:
        values["clock_skew_s"] = round((now - client_time).total_seconds(), 1)
    if set_pending:
        values["pending_ops"] = pending_ops
    if app_version:
        values["app_version"] = app_version.replace("\x00", "")[:64]  # PostgreSQL text cannot hold NUL
    conn.execute(sa.update(db.devices).where(db.devices.c.id == device.id).values(**values))


def _check_not_revoked(conn: Connection, device: Device) -> None:
    revoked = conn.execute(
        sa.select(db.devices.c.revoked_at).where(db.devices.c.id == device.id)
    ).scalar_one()
    if revoked is not None:
        raise SyncError(403, P.ERROR_FORBIDDEN, "this kiosk has been revoked")


# --- push ------------------------------------------------------------------------------------------------------------


def request_hash(raw: Any) -> str:
    """What "the same op" means for idempotency: the op without `created_at` (display only), canonical JSON."""
    if isinstance(raw, dict):
        raw = {k: v for k, v in raw.items() if k != "created_at"}
    text = json.dumps(raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _result(
    op_id: str,
    outcome: str,
    *,
    reason: str | None = None,
    message: str = "",
    booking: dict[str, Any] | None = None,
    alternatives: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "op_id": op_id,
        "outcome": outcome,
        "replayed": False,
        "reason": reason,
        "message": message,
        "booking": booking,
        "alternatives": alternatives or [],
    }


def _rejected(op_id: str, reason: str, message: str, **kw: Any) -> dict[str, Any]:
    return _result(op_id, "rejected", reason=reason, message=message, **kw)


def push(
    database: db.Database, device: Device, body: dict[str, Any], *, client_time: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Apply a push body (already checked to be an object with `device_id` and a list `ops`); results in op order.

    Each op is first read as far as it can be without the database (`_read_op`: validation, request hash, ID check,
    encryption), before the township lock is taken: the lock makes a township's pushes run one at a time, so the
    less it covers the more pushes a second. Then one write transaction for the batch. Ops run in `device_seq`
    order; replays return the stored result. A booking create that passes every check on what the push already
    knows (`_Memo`, `_fast_create`) runs no SQL of its own: its resident and booking rows are inserted with the
    others in one executemany each. Every other op runs in a SAVEPOINT (after those rows are written), so an op
    that fails unexpectedly is rolled back alone and answered `invalid`. Should the batched inserts ever fail, the
    whole push is done again op by op.
    """
    cipher = keys.cipher_for(database.engine)
    ready = [_read_op(raw, cipher, device) for raw in body["ops"]]
    try:
        return _push_transaction(database, device, body, client_time=client_time, fast=True, ready=ready)
    except sa.exc.IntegrityError as exc:  # nothing was committed: redo it the careful way
        log.warning(
            "push of device %s: batched inserts failed (%s at %s); applying op by op",
            device.id,
            type(exc).__name__,
            _where(exc),
        )
        return _push_transaction(database, device, body, client_time=client_time, fast=False, ready=ready)


@dataclass(frozen=True, slots=True)
class _Ready:
    """An op as far as it reads without the database (`_read_op`).

    `op`/`payload` are None when the op does not validate (answered `invalid`). For a booking create whose ID
    number checks out: its blind index, the booking's sealed fields (`_sealed_booking`), and the resident row to
    insert should the ID number be new to the township (a fresh id; unused otherwise)."""

    digest: str
    op: P.Op | None = None
    payload: Any = None
    id_check: IdCheck | None = None
    blind: str | None = None
    sealed: dict[str, Any] | None = None
    resident: dict[str, Any] | None = None


def _read_op(raw: Any, cipher: Any, device: Device) -> _Ready:
    """What `_push_one` needs of an op that depends on the op alone (pure: safe before the township lock)."""
    digest = request_hash(raw)
    try:
        op = P.Op.model_validate(raw)
        payload = P.parse_payload(op)
    except (ValidationError, ValueError, TypeError):
        return _Ready(digest)
    if not isinstance(payload, P.BookingCreate):
        return _Ready(digest, op, payload)
    check = check_id_number(payload.resident.id_number)
    if not check.ok or check.number is None:
        return _Ready(digest, op, payload, check)
    blind = cipher.lookup_hash(check.number)
    return _Ready(
        digest,
        op,
        payload,
        check,
        blind=blind,
        sealed=_sealed_booking(cipher, op, payload),
        resident=_resident_values(cipher, device, payload.resident, check.number, blind),
    )


def _push_transaction(
    database: db.Database,
    device: Device,
    body: dict[str, Any],
    *,
    client_time: dt.datetime | None,
    fast: bool,
    ready: list[_Ready] | None = None,
) -> list[dict[str, Any]]:
    raw_ops: list[Any] = body["ops"]
    if ready is None:
        cipher = keys.cipher_for(database.engine)
        ready = [_read_op(raw, cipher, device) for raw in raw_ops]
    results: list[dict[str, Any] | None] = [None] * len(raw_ops)
    order = sorted(range(len(raw_ops)), key=lambda i: (_seq_key(raw_ops[i]), i))
    with database.write() as conn:
        town = db.lock_township(conn, device.township_id)
        _check_not_revoked(conn, device)
        op_ids = [
            o["op_id"]
            for o in raw_ops
            if isinstance(o, dict) and isinstance(o.get("op_id"), str) and _is_uuid(o["op_id"])
        ]
        stored: dict[str, tuple[str, dict[str, Any]]] = {}
        for chunk in range(0, len(op_ids), 400):
            for row in conn.execute(
                sa.select(db.op_results).where(
                    db.op_results.c.device_id == device.id,
                    db.one_of(conn, db.op_results.c.op_id, op_ids[chunk : chunk + 400]),
                )
            ).all():
                stored[row.op_id] = (row.request_hash, dict(row.result))
        batch = _Batch(changes=B.buffer_changes(conn))
        if fast:
            batch.memo = _prefetch(conn, device, [(raw_ops[i], ready[i]) for i in order], stored, batch)
        with use_locale(town.locale):
            for index in order:
                results[index] = _push_one(
                    conn, device, raw_ops[index], ready[index], stored=stored, batch=batch
                )
            _write_pending(conn, batch)
            B.flush_sessions(conn, batch.seats)  # the touched sessions' changes join the same executemany
        B.write_buffered_changes(conn)
        if batch.op_rows:
            db.insert_rows(conn, db.op_results, batch.op_rows)
        _record_device(
            conn,
            device,
            client_time=client_time,
            pending_ops=body.get("pending_ops"),
            app_version=body.get("app_version"),
            set_pending=True,
        )
    return [r for r in results if r is not None]


_INSERT_BOOKING = sa.insert(db.bookings)
# Built once with bind parameters: building and cache-keying a SQLAlchemy statement costs more per op than SQLite
# takes to run it.
_FIND_BOOKING = (
    sa.select(db.bookings)
    .where(
        sa.or_(
            db.bookings.c.id == sa.bindparam("booking_id"),
            sa.and_(
                db.bookings.c.township_id == sa.bindparam("township_id"),
                db.bookings.c.code == sa.bindparam("code"),
            ),
        )
    )
    .limit(2)
)
_DUPLICATE = (
    sa.select(db.bookings.c.id)
    .where(
        db.bookings.c.session_id == sa.bindparam("session_id"),
        db.bookings.c.resident_id == sa.bindparam("resident_id"),
        db.bookings.c.dependent_key == sa.bindparam("dependent_key"),
        db.bookings.c.status.in_(ACTIVE),
    )
    .limit(1)
)
_FIND_RESIDENT = sa.select(db.residents.c.id).where(
    db.residents.c.township_id == sa.bindparam("township_id"),
    db.residents.c.id_blind == sa.bindparam("id_blind"),
)


@dataclass(slots=True)
class _Batch:
    """What one push transaction keeps in memory between its ops (never beyond the transaction).

    - `sessions`: session rows already read (and, on PostgreSQL, locked FOR UPDATE: the lock lasts until commit);
      a push changes no session column its ops read (status, times, capacity), only `version` at the end.
    - `seats`: (taken, leased) per session, counted once and then kept up to date by `_create`, the only op that
      uses it; any other op kind, and any op rolled back, forgets it (they may free seats or promote a waitlist).
    - `changes`: the change log rows not yet inserted (`booking.buffer_changes`); cut back when an op rolls back.
    - `op_rows`: `op_results` rows, inserted in one executemany before commit.
    """

    changes: list[dict[str, Any]]
    sessions: dict[str, sa.Row[Any]] = field(default_factory=dict)
    seats: dict[str, tuple[int, int]] = field(default_factory=dict)
    op_rows: list[dict[str, Any]] = field(default_factory=list)
    audit_entries: int = 0  # kiosk audit entries taken in this push (capped)
    memo: _Memo | None = None  # None: ask the database (no look-ahead, or an op made it stale)
    new_residents: list[dict[str, Any]] = field(default_factory=list)  # fast creates' rows, not yet inserted
    new_bookings: list[dict[str, Any]] = field(default_factory=list)

    def forget(self) -> None:
        self.sessions.clear()
        self.seats.clear()


@dataclass(slots=True)
class _Memo:
    """What the database holds for the push's booking creates, read with a few set-based look-ups at its start
    (issue 15: one query per op per look-up was most of a push's time on PostgreSQL), then kept up to date by the
    push's own creates. Valid only while the push holds the township lock and no other kind of op has run: any
    other op, and any op rolled back, drops it (`_Batch.memo = None`) and the rest of the push asks the database.
    Only what was looked up is known: an id, code or ID number outside the `asked_*` sets is never assumed free."""

    asked_ids: set[str]
    asked_codes: set[str]
    asked_blinds: set[str]
    ids: set[str]  # of those ids, the ones a booking has
    codes: set[str]  # of those codes, the ones taken in the township
    residents: dict[str, str]  # blind index → resident id
    active: set[
        tuple[str, str, str]
    ]  # (session, resident, dependent key) of those residents' active bookings

    def booked(self, values: dict[str, Any], *, blind: str) -> None:
        self.residents[blind] = values["resident_id"]
        self.ids.add(values["id"])
        self.codes.add(values["code"])
        if values["status"] in ACTIVE:
            self.active.add((values["session_id"], values["resident_id"], values["dependent_key"]))


_MEMO_MIN_CREATES = 2  # one create gains nothing from looking ahead


def _prefetch(
    conn: Connection,
    device: Device,
    ops: list[tuple[Any, _Ready]],
    stored: dict[str, tuple[str, dict[str, Any]]],
    batch: _Batch,
) -> _Memo | None:
    """The `_Memo` for the push's booking creates (None when there are too few to gain from it); the sessions
    they name are locked and counted into `batch` as `_create` would on its first create of each."""
    ids, codes, blinds, session_ids = _create_keys(ops, stored)
    if len(ids) < _MEMO_MIN_CREATES:
        return None
    for session_id, (session, seats) in B.lock_sessions_with_seats(
        conn, device.township_id, sorted(session_ids)
    ).items():
        batch.sessions[session_id] = session
        batch.seats[session_id] = seats
    b, r = db.bookings, db.residents
    memo = _Memo(
        asked_ids=ids,
        asked_codes=codes,
        asked_blinds=blinds,
        ids=set(),
        codes=set(),
        residents={},
        active=set(),
    )
    # Each look-up is a round trip under the township lock: ids (primary key), codes and residents (each a probe
    # of the township's unique index, `db.find_unique`), and the active bookings of the residents found.
    for part in _chunks(sorted(ids), 400):
        for hit in conn.execute(
            sa.select(b.c.id, b.c.code, b.c.township_id).where(db.one_of(conn, b.c.id, part))
        ):
            memo.ids.add(hit.id)
            if hit.township_id == device.township_id:
                memo.codes.add(hit.code)
    memo.codes.update(
        hit.code
        for hit in db.find_unique(
            conn, b.c.code, sorted(codes), township_id=device.township_id, columns=[b.c.code]
        )
    )
    for known in db.find_unique(
        conn, r.c.id_blind, sorted(blinds), township_id=device.township_id, columns=[r.c.id_blind, r.c.id]
    ):
        memo.residents[known.id_blind] = known.id
    for part in _chunks(sorted(memo.residents.values()), 400):
        for held in conn.execute(
            sa.select(b.c.session_id, b.c.resident_id, b.c.dependent_key).where(
                db.one_of(conn, b.c.resident_id, part), b.c.status.in_(ACTIVE)
            )
        ):
            memo.active.add((held.session_id, held.resident_id, held.dependent_key))
    return memo


def _create_keys(
    ops: list[tuple[Any, _Ready]], stored: dict[str, tuple[str, dict[str, Any]]]
) -> tuple[set[str], set[str], set[str], set[str]]:
    """Booking ids, codes, blind indexes and session ids of the creates not yet stored, as far as they read."""
    session_ids: set[str] = set()
    ids: set[str] = set()
    codes: set[str] = set()
    blinds: set[str] = set()
    for raw, ready in ops:
        if not (
            isinstance(raw, dict)
            and isinstance(raw.get("op_id"), str)
            and raw["op_id"] not in stored
            and isinstance(ready.payload, P.BookingCreate)
            and ready.op is not None
            and ready.blind is not None
        ):
            continue
        payload, entity_id = ready.payload, ready.op.entity_id
        # Only well-formed keys are looked up ahead (a fuzzed NUL must reach the op's own checks, which answer it
        # `invalid`, not the look-ahead's SQL).
        if not (
            _is_uuid(entity_id)
            and _is_uuid(payload.session_id)
            and 0 < len(payload.code) <= 32
            and payload.code.isprintable()
        ):
            continue
        ids.add(entity_id)
        codes.add(payload.code)
        blinds.add(ready.blind)
        session_ids.add(payload.session_id)
    return ids, codes, blinds, session_ids


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _remember(batch: _Batch, values: dict[str, Any], blind: str) -> None:
    """A booking `_create` inserted, noted in the look-ahead so that it stays true."""
    if batch.memo is not None:
        batch.memo.booked(values, blind=blind)


def _write_pending(conn: Connection, batch: _Batch) -> None:
    """Insert the fast creates' residents, then their bookings (one executemany each)."""
    if batch.new_residents:
        db.insert_rows(conn, db.residents, batch.new_residents)
        batch.new_residents.clear()
    if batch.new_bookings:
        db.insert_rows(conn, db.bookings, batch.new_bookings)
        batch.new_bookings.clear()


def _fast_create(
    conn: Connection,
    device: Device,
    op: P.Op,
    p: P.BookingCreate,
    op_id: str,
    *,
    ready: _Ready,
    batch: _Batch,
    memo: _Memo,
) -> dict[str, Any] | None:
    """A booking create decided on what the push already knows, with no SQL: the result, or None when anything is
    unknown or the create would not simply be applied from the shared pool (then `_create` decides it). Takes the
    same checks in the same order as `_create` and ends the same way; its rows are inserted by `_write_pending`."""
    if p.lease or ready.blind is None or ready.sealed is None or ready.resident is None:
        return None
    if op.entity_id not in memo.asked_ids or p.code not in memo.asked_codes:
        return None
    if op.entity_id in memo.ids or p.code in memo.codes:
        return None
    session = batch.sessions.get(p.session_id)
    seats = batch.seats.get(p.session_id)
    if session is None or seats is None or session.township_id != device.township_id:
        return None
    now = db.now_utc()
    if session.status != "open" or db.utc(session.starts_at) <= now:
        return None
    service = B.cached_service(conn, session.service_id)
    blind = ready.blind
    if service is None or blind not in memo.asked_blinds:
        return None
    taken, leased = seats
    if int(session.capacity) - taken - leased <= 0:
        return None
    resident_id = memo.residents.get(blind)
    if resident_id is not None and (session.id, resident_id, ready.sealed["dependent_key"]) in memo.active:
        return None
    review = bool(service.review)
    status = S.PENDING_REVIEW if review else S.CONFIRMED
    message = _(M.PENDING_REVIEW if review else M.CONFIRMED)
    _seats_seen(conn, session.id)
    if resident_id is None:
        batch.new_residents.append(ready.resident)
        resident_id = str(ready.resident["id"])
    values = _booking_values(
        device,
        op,
        p,
        ready.sealed,
        session_id=session.id,
        resident_id=resident_id,
        status=status,
        lease=False,
        position=None,
        message=message,
        now=now,
    )
    batch.new_bookings.append(values)
    memo.booked(values, blind=blind)
    row = SimpleNamespace(**values)
    B.log_booking(conn, row)
    batch.seats[session.id] = (taken + 1, leased)
    B.touch_session(conn, session.id)
    return _result(op_id, "applied", message=message, booking=B.booking_summary(row))


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except (ValueError, TypeError, AttributeError):
        return False
    return len(text) <= 100


def _seq_key(raw: Any) -> int:
    if (
        isinstance(raw, dict)
        and isinstance(raw.get("device_seq"), int)
        and not isinstance(raw["device_seq"], bool)
    ):
        return int(raw["device_seq"])
    return 2**62


def _push_one(
    conn: Connection,
    device: Device,
    raw: Any,
    ready: _Ready,
    *,
    stored: dict[str, tuple[str, dict[str, Any]]],
    batch: _Batch,
) -> dict[str, Any]:
    raw_id = raw.get("op_id") if isinstance(raw, dict) else None
    op_id = raw_id if isinstance(raw_id, str) else ""
    digest = ready.digest
    if op_id and op_id in stored:
        previous_hash, previous_result = stored[op_id]
        if previous_hash == digest:
            return previous_result | {"replayed": True}
        return _rejected(op_id, "op_id_reused", _(M.OP_ID_REUSED))
    op, payload = ready.op, ready.payload
    if op is None:
        result = _rejected(op_id, "invalid", _(M.INVALID))
        if _is_uuid(op_id):  # a final answer for an op we can key; other junk is just answered
            _store(batch, device, op_id, raw, digest=digest, result=result, stored=stored)
        return result
    op_id = raw_id if isinstance(raw_id, str) else op.op_id  # answer with the id exactly as the kiosk sent it
    if isinstance(payload, P.BookingCreate) and batch.memo is not None:
        logged, residents, bookings = len(batch.changes), len(batch.new_residents), len(batch.new_bookings)
        try:
            fast = _fast_create(conn, device, op, payload, op_id, ready=ready, batch=batch, memo=batch.memo)
        except (
            Exception
        ) as exc:  # nothing was written: drop what it collected and answer as the slow path would
            log.warning(
                "op %s (%s/%s) of device %s could not be applied: %s at %s",
                op_id,
                op.entity,
                op.kind,
                device.id,
                type(exc).__name__,
                _where(exc),
            )
            del batch.changes[logged:], batch.new_residents[residents:], batch.new_bookings[bookings:]
            batch.memo = None
            batch.forget()
            fast = _rejected(op_id, "invalid", _(M.INVALID))
        if fast is not None:
            _store(batch, device, op_id, raw, digest=digest, result=fast, stored=stored)
            return fast
    if not isinstance(payload, P.BookingCreate):
        batch.seats.clear()  # cancels, moves, check-ins may free seats or promote the waitlist: count afresh
        batch.memo = None  # and may end bookings the look-ahead counted active
    _write_pending(conn, batch)  # what follows reads the database
    logged = len(batch.changes)
    try:
        with conn.begin_nested():
            result = _apply(conn, device, op, payload, op_id, ready=ready, batch=batch)
    except (
        Exception
    ) as exc:  # a rejected op must never block the others: roll it back alone, answer `invalid`
        # No exception text and no traceback text: a database error quotes the values it refused (ID numbers,
        # names, phones). The type and the line are enough to find the fault.
        log.warning(
            "op %s (%s/%s) of device %s could not be applied: %s at %s",
            op_id,
            op.entity,
            op.kind,
            device.id,
            type(exc).__name__,
            _where(exc),
        )
        del batch.changes[logged:]  # its change rows were rolled back with it (their seqs stay unused: a gap)
        batch.forget()
        batch.memo = None  # it may have noted rows that were rolled back
        result = _rejected(op_id, "invalid", _(M.INVALID))
    _store(batch, device, op_id, raw, digest=digest, result=result, stored=stored)
    return result


def _where(exc: BaseException) -> str:
    """`file:line` of the innermost frame of our own code in `exc`'s traceback (no values, no message)."""
    place = "?"
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if "/township/" in name or "/kiosk/" in name:
            place = f"{name.rsplit('/', 2)[-2]}/{name.rsplit('/', 1)[-1]}:{tb.tb_lineno}"
        tb = tb.tb_next
    return place


def _store(
    batch: _Batch,
    device: Device,
    op_id: str,
    raw: Any,
    *,
    digest: str,
    result: dict[str, Any],
    stored: dict[str, tuple[str, dict[str, Any]]],
) -> None:
    seq = raw.get("device_seq") if isinstance(raw, dict) else None
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**63:
        seq = None  # only kept for the console; never let a silly number fail the batch
    values = {
        "device_id": device.id,
        "op_id": op_id,
        "device_seq": seq,
        "request_hash": digest,
        "result": result,
        "created_at": db.naive(db.now_utc()),
    }
    batch.op_rows.append(values)  # inserted with the others before commit (`push`)
    stored[op_id] = (digest, result)  # a later copy of this op in the same batch is a replay


def _apply(
    conn: Connection, device: Device, op: P.Op, payload: Any, op_id: str, *, ready: _Ready, batch: _Batch
) -> dict[str, Any]:
    if isinstance(payload, P.BookingCreate):
        return _create(conn, device, op, payload, op_id, ready=ready, batch=batch)
    if isinstance(payload, P.BookingCancel):
        return _cancel(conn, device, op, payload, op_id)
    if isinstance(payload, P.BookingReschedule):
        return _reschedule(conn, device, op, payload, op_id)
    if isinstance(payload, P.BookingCheckIn):
        result = _check_in(conn, device, op, op_id)
        _keep_queue_number(conn, device, op.entity_id, payload.queue_number)
        return result
    if isinstance(payload, P.RoomCall):
        return _room_call(conn, device, op, payload, op_id)
    if isinstance(payload, P.FeedbackSubmit):
        return _feedback(conn, device, op, payload, op_id)
    if isinstance(payload, P.AuditBatch):
        return _kiosk_audit(conn, device, payload, op_id, batch)
    if isinstance(payload, P.DemandSearch):
        return _demand(conn, device, payload, op_id)
    if isinstance(payload, P.DemandFull):
        return _demand_full(conn, device, payload, op_id)
    return _rejected(op_id, "invalid", _(M.INVALID))


def _session(
    conn: Connection, device: Device, session_id: str, batch: _Batch | None = None
) -> sa.Row[Any] | None:
    row = batch.sessions.get(session_id) if batch is not None else None
    if row is None:
        row = db.lock_session(conn, session_id)
        if row is not None and batch is not None:
            batch.sessions[session_id] = row
    if row is None or row.township_id != device.township_id:
        return None
    return row


def _seats_seen(conn: Connection, session_id: str) -> None:
    """Log a session a booking op names, whatever the op's outcome. The kiosk moved a seat in its own view when
    the resident acted (taken on a request, given back on a cancel or move); when the township refuses the op, or
    applies it without that seat moving (a create waitlisted here), only a fresh session change puts the kiosk's
    view back to the township's (invariant 4). Coalesced: a push logs each session once."""
    B.touch_session(conn, session_id)


def _own_booking(conn: Connection, device: Device, booking_id: str) -> sa.Row[Any] | None:
    """A booking this kiosk made; other kiosks' bookings do not exist for it."""
    row = B.get_booking(conn, booking_id)
    if row is None or row.device_id != device.id:
        return None
    return row


def _invited_booking(conn: Connection, device: Device, booking_id: str) -> sa.Row[Any] | None:
    """A booking of another kiosk whose resident this kiosk invited to rate it (township.ratings)."""
    row = B.get_booking(conn, booking_id)
    if row is None or row.rating_invited_device != device.id or row.township_id != device.township_id:
        return None
    return row


def _applied(op_id: str, row: sa.Row[Any]) -> dict[str, Any]:
    return _result(op_id, "applied", message=row.message, booking=B.booking_summary(row))


def _create_refusal(
    conn: Connection, device: Device, op: P.Op, p: P.BookingCreate, op_id: str, *, batch: _Batch
) -> tuple[dict[str, Any] | None, sa.Row[Any] | None, sa.Row[Any] | None]:
    """Checks before a create takes a seat: (a result that ends the op, the locked session, a usable lease)."""
    # One look-up for both "this booking id exists" and "this code is taken".
    found = conn.execute(
        _FIND_BOOKING, {"booking_id": op.entity_id, "township_id": device.township_id, "code": p.code}
    ).all()
    existing = next((r for r in found if r.id == op.entity_id), None)
    code_taken = any(r.id != op.entity_id for r in found)
    if existing is not None:
        if (
            existing.device_id == device.id
            and existing.code == p.code
            and existing.session_id == p.session_id
        ):
            return (
                _result(op_id, "applied", message=_(M.BOOKING_EXISTS), booking=B.booking_summary(existing)),
                None,
                None,
            )
        return _rejected(op_id, "invalid", _(M.INVALID)), None, None
    session = _session(conn, device, p.session_id, batch)
    if session is None:
        return _rejected(op_id, "not_found", _(M.NOT_FOUND)), None, None
    _seats_seen(conn, session.id)
    if code_taken:
        return _rejected(op_id, "invalid", _(M.CODE_TAKEN)), None, None
    if session.status == "cancelled":
        return _rejected(op_id, "session_cancelled", _(M.SESSION_CANCELLED)), None, None
    lease = _usable_lease(conn, device, session.id) if p.lease else None
    if lease is None:
        # Without a lease the backend decides now: the session must still be open and in the future.
        if session.status == "closed":
            return _rejected(op_id, "session_closed", _(M.SESSION_CLOSED)), None, None
        if db.utc(session.starts_at) <= db.now_utc():
            return _rejected(op_id, "too_late", _(M.TOO_LATE)), None, None
    return None, session, lease


def _create(
    conn: Connection,
    device: Device,
    op: P.Op,
    p: P.BookingCreate,
    op_id: str,
    *,
    ready: _Ready,
    batch: _Batch,
) -> dict[str, Any]:
    check = ready.id_check
    if check is None or ready.blind is None or ready.sealed is None or ready.resident is None:
        return _rejected(op_id, "invalid", check.message() if check is not None else _(M.INVALID))
    refusal, session, lease = _create_refusal(conn, device, op, p, op_id, batch=batch)
    if refusal is not None:
        return refusal
    assert session is not None
    now = db.now_utc()
    # Nothing is written before every check has passed: a rejected op changes nothing (not even the resident).
    resident_id = _find_resident(conn, device, ready.blind)
    key = ready.sealed["dependent_key"]
    # A resident not yet known has no booking to duplicate.
    duplicate = (
        conn.execute(
            _DUPLICATE, {"session_id": session.id, "resident_id": resident_id, "dependent_key": key}
        ).first()
        if resident_id is not None
        else None
    )
    if duplicate is not None and lease is None:
        return _rejected(op_id, "duplicate_booking", _(M.DUPLICATE))
    review = bool(B.service_of(conn, session).review)
    status = S.PENDING_REVIEW if review else S.CONFIRMED
    message = _(M.PENDING_REVIEW if review else (M.CONFIRMED_LEASE if lease is not None else M.CONFIRMED))
    position: int | None = None
    seats = batch.seats.get(session.id)
    if seats is None:
        seats = batch.seats[session.id] = B.seat_counts(conn, session.id)
    taken, leased = seats
    if lease is not None:
        # The seat was set aside for this kiosk: honoured whatever the shared pool holds now (invariant 5).
        conn.execute(
            sa.update(db.leases)
            .where(db.leases.c.id == lease.id)
            .values(used=db.leases.c.used + 1, version=db.leases.c.version + 1, updated_at=db.naive(now))
        )
        leased -= 1  # the seat moves from the lease to the booking: the shared pool is unchanged
    elif int(session.capacity) - taken - leased <= 0:
        # Unmet demand for the county's needs profile (township.insight; no personal data), undone with the op.
        record_unmet(
            conn,
            device.township_id,
            "waitlisted" if p.waitlist else "slot_full",
            village=p.resident.village,
            session=session,
        )
        if not p.waitlist:
            return _rejected(
                op_id, "slot_full", _(M.SLOT_FULL), alternatives=B.alternatives(conn, session, now=now)
            )
        status = S.WAITLISTED
        position = B.next_waitlist_position(conn, session.id)
        queued = conn.execute(
            sa.select(sa.func.count())
            .select_from(db.bookings)
            .where(db.bookings.c.session_id == session.id, db.bookings.c.status == S.WAITLISTED)
        ).scalar_one()
        message = _(M.WAITLISTED).format(position=int(queued) + 1)  # last in the queue
    if resident_id is None:
        # The push holds the township's lock (SQLite's writer lock), so no other push can insert the same ID
        # number in between. Later bookings never rewrite a resident: each keeps the contact details it was made
        # with (`bookings.contact_*`), so a kiosk cannot change what staff see for bookings made elsewhere.
        conn.execute(_INSERT_RESIDENT, ready.resident)
        resident_id = str(ready.resident["id"])
    values = _booking_values(
        device,
        op,
        p,
        ready.sealed,
        session_id=session.id,
        resident_id=resident_id,
        status=status,
        lease=lease is not None,
        position=position,
        message=message,
        now=now,
    )
    conn.execute(_INSERT_BOOKING, values)
    _remember(batch, values, ready.blind)
    row = SimpleNamespace(**values)  # what RETURNING would give back: every column is set here
    B.log_booking(conn, row)
    if duplicate is not None:
        # A lease booking is a promise the kiosk made offline: it stands, and staff are told of the other one.
        _report_lease_duplicate(conn, device, row, str(duplicate.id))
    if lease is not None and lease.state == "active":
        # Logged after the insert, so the change's `bookings` already lists this one. A returning lease was
        # already deleted at the kiosk: keep it deleted.
        B.emit_lease(conn, lease.id)
    if status != S.WAITLISTED:
        batch.seats[session.id] = (taken + 1, leased)
    if status != S.WAITLISTED and lease is None:
        B.touch_session(conn, session.id)  # the shared pool shrank
    return _result(op_id, "applied", message=message, booking=B.booking_summary(row))


def _sealed_booking(cipher: Any, op: P.Op, p: P.BookingCreate) -> dict[str, Any]:
    """A create's booking columns that are encrypted or keyed (bound to the booking id): made before the lock."""
    dep, key = sealed_dependent(
        cipher, p.for_dependent.model_dump() if p.for_dependent else None, op.entity_id
    )
    return {
        "for_dependent": dep,
        "dependent_key": key,
        # The details this booking was made with: what staff see for it, whatever other kiosks send later.
        "contact_name_enc": cipher.encrypt(
            p.resident.name, where=field_ref("bookings", "contact_name_enc", op.entity_id)
        ),
        "contact_phone_enc": cipher.encrypt(
            p.resident.phone or None, where=field_ref("bookings", "contact_phone_enc", op.entity_id)
        ),
    }


def _booking_values(
    device: Device,
    op: P.Op,
    p: P.BookingCreate,
    sealed: dict[str, Any],
    *,
    session_id: str,
    resident_id: str,
    status: str,
    lease: bool,
    position: int | None,
    message: str,
    now: dt.datetime,
) -> dict[str, Any]:
    return (
        sealed
        | {
            "id": op.entity_id,
            "township_id": device.township_id,
            "session_id": session_id,
            "resident_id": resident_id,
            "code": p.code,
            "status": status,
            "version": 1,
            "device_id": device.id,
            "kiosk_number": device.kiosk_number,
            "channel": p.channel,
            "staff_id": p.staff_id,
            "lease": lease,
            "waitlist_position": position,
            "message": message,
            "created_at": db.naive(now),
            "updated_at": db.naive(now),
            "contact_village": p.resident.village or None,
            "consent_notice": p.consent.notice if p.consent else None,
            "consent_at": _kiosk_time(p.consent.at) if p.consent else None,
        }
        | _reminder_values(p)
    )


def _reminder_values(p: P.BookingCreate) -> dict[str, Any]:
    """The SMS-reminder agreement the booking was made with (#16); none without a phone to text."""
    agreed = p.reminders if p.resident.phone else None
    return {
        "reminder_notice": agreed.notice if agreed else None,
        "reminder_at": _kiosk_time(agreed.at) if agreed else None,
        "reminder_owner": agreed.owner if agreed else None,
    }


def _report_lease_duplicate(conn: Connection, device: Device, booking: Any, other_id: str) -> None:
    """A staff-audit row (console: staff actions, and both bookings' pages): the same person now holds two active
    bookings for one session, one of them confirmed offline on a lease. Codes and ids only, no personal data."""
    other_code = conn.execute(sa.select(db.bookings.c.code).where(db.bookings.c.id == other_id)).scalar_one()
    for target, other in ((booking.code, other_code), (other_code, booking.code)):
        audit_row(
            conn,
            device.township_id,
            f"kiosk {device.kiosk_number}",
            "duplicate_lease_booking",
            target,
            booking_id=booking.id,
            other_booking_id=other_id,
            other_code=other,
        )


def _kiosk_time(text: str) -> dt.datetime | None:
    """A kiosk's ISO-8601 time as naive UTC (no zone: UTC), or None when it cannot be read."""
    try:
        parsed = dt.datetime.fromisoformat(text)
        return db.naive(parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC))
    except (ValueError, OverflowError):
        return None


def _usable_lease(conn: Connection, device: Device, session_id: str) -> sa.Row[Any] | None:
    """This device's live lease on the session with a seat still unused (active, or returning but not yet
    acknowledged: the kiosk may have confirmed on it before it learned of the expiry)."""
    return conn.execute(
        sa.select(db.leases)
        .where(
            db.leases.c.device_id == device.id,
            db.leases.c.session_id == session_id,
            db.leases.c.state.in_(B.LIVE_LEASE),
            db.leases.c.used < db.leases.c.seats,
        )
        .order_by(db.leases.c.created_at)
        .limit(1)
    ).first()


def sealed_dependent(
    cipher: Any, dep: dict[str, Any] | None, booking_id: str
) -> tuple[dict[str, Any] | None, str]:
    """Who a booking is for, as stored: the dependent's name encrypted (bound to the booking), and the duplicate
    key as a keyed hash of that name ('' for the resident themselves)."""
    if not dep:
        return None, ""
    name = B.dependent_key(dep)
    return (
        {
            "name_enc": cipher.encrypt(name, where=field_ref("bookings", "for_dependent.name", booking_id)),
            "relation": dep.get("relation"),
            "birth_year": dep.get("birth_year"),
        },
        cipher.lookup_hash(name),
    )


def _find_resident(conn: Connection, device: Device, blind: str) -> str | None:
    """The id of the township's resident with this ID number, if there is one (found by its blind index)."""
    return conn.execute(_FIND_RESIDENT, {"township_id": device.township_id, "id_blind": blind}).scalar()


_INSERT_RESIDENT = sa.insert(db.residents)


def _resident_values(
    cipher: Any, device: Device, r: P.Resident, id_number: str, blind: str
) -> dict[str, Any]:
    """A new resident's row (`blind`: the ID number's keyed hash, already made for the look-up)."""
    now = db.naive(db.now_utc())
    ident = B.new_id()
    return {
        "id": ident,
        "township_id": device.township_id,
        "id_blind": blind,
        "id_number_enc": cipher.encrypt(id_number, where=field_ref("residents", "id_number_enc", ident)),
        "id_mask": mask_id(id_number),
        "name_enc": cipher.encrypt(r.name, where=field_ref("residents", "name_enc", ident)),
        "phone_enc": cipher.encrypt(r.phone or None, where=field_ref("residents", "phone_enc", ident)),
        "village": r.village or None,
        "created_at": now,
        "updated_at": now,
    }


def _cancel(conn: Connection, device: Device, op: P.Op, p: P.BookingCancel, op_id: str) -> dict[str, Any]:
    row = _own_booking(conn, device, op.entity_id)
    if row is None:
        return _rejected(op_id, "not_found", _(M.NOT_FOUND))
    if row.status == S.CANCELLED:
        return _result(op_id, "applied", message=_(M.ALREADY_CANCELLED), booking=B.booking_summary(row))
    if row.status == S.REJECTED:
        return _result(op_id, "applied", message=_(M.NOT_ACCEPTED), booking=B.booking_summary(row))
    if row.status in CHECKED_IN_OR_LATER:
        return _rejected(op_id, "too_late", _(M.TOO_LATE), booking=B.booking_summary(row))
    session = _session(conn, device, row.session_id)
    assert session is not None
    _seats_seen(conn, session.id)
    if db.utc(session.starts_at) <= db.now_utc():
        return _rejected(op_id, "too_late", _(M.TOO_LATE), booking=B.booking_summary(row))
    return _applied(op_id, B.cancel_booking(conn, row, _(M.CANCELLED)))


def _reschedule(
    conn: Connection, device: Device, op: P.Op, p: P.BookingReschedule, op_id: str
) -> dict[str, Any]:
    row = _own_booking(conn, device, op.entity_id)
    if row is None:
        return _rejected(op_id, "not_found", _(M.NOT_FOUND))
    if row.status in CHECKED_IN_OR_LATER:
        return _rejected(op_id, "too_late", _(M.TOO_LATE), booking=B.booking_summary(row))
    if row.status not in CHANGEABLE:
        return _rejected(op_id, "invalid", _(M.NOT_ACTIVE), booking=B.booking_summary(row))
    now = db.now_utc()
    old = _session(conn, device, row.session_id)
    assert old is not None
    if db.utc(old.starts_at) <= now:
        return _rejected(op_id, "too_late", _(M.TOO_LATE), booking=B.booking_summary(row))
    if p.session_id == row.session_id:
        return _applied(op_id, row)
    new = _session(conn, device, p.session_id)
    if new is None:
        return _rejected(op_id, "not_found", _(M.NOT_FOUND), booking=B.booking_summary(row))
    _seats_seen(conn, old.id)
    _seats_seen(conn, new.id)
    if new.status == "cancelled":
        return _rejected(op_id, "session_cancelled", _(M.SESSION_CANCELLED), booking=B.booking_summary(row))
    if new.status == "closed":
        return _rejected(op_id, "session_closed", _(M.SESSION_CLOSED), booking=B.booking_summary(row))
    if db.utc(new.starts_at) <= now:
        return _rejected(op_id, "too_late", _(M.TOO_LATE), booking=B.booking_summary(row))
    if B.active_duplicate(conn, new.id, row.resident_id, row.dependent_key, exclude=row.id):
        return _rejected(op_id, "duplicate_booking", _(M.DUPLICATE), booking=B.booking_summary(row))
    if B.seats_left(conn, new) <= 0:
        return _rejected(
            op_id,
            "slot_full",
            _(M.SLOT_FULL),
            booking=B.booking_summary(row),
            alternatives=B.alternatives(conn, new, now=now),
        )
    review = bool(B.service_of(conn, new).review)
    moved = B.update_booking(
        conn,
        row.id,
        session_id=new.id,
        lease=False,
        waitlist_position=None,
        status=S.PENDING_REVIEW if review else S.CONFIRMED,
        message=_(M.RESCHEDULED) if not review else _(M.PENDING_REVIEW),
    )
    if row.status in HOLDS_SEAT:
        B.release_seat(conn, old.id)
    B.touch_session(conn, new.id)
    return _applied(op_id, moved)


def _check_in(conn: Connection, device: Device, op: P.Op, op_id: str) -> dict[str, Any]:
    # No time limit here: the op records something that happened at the kiosk, perhaps days before this push.
    row = _own_booking(conn, device, op.entity_id)
    if row is None:
        return _rejected(op_id, "not_found", _(M.NOT_FOUND))
    if row.status in (S.CHECKED_IN, S.ATTENDED):
        return _applied(op_id, row)
    session = _session(conn, device, row.session_id)
    assert session is not None
    if session.status == "cancelled":
        return _rejected(op_id, "session_cancelled", _(M.SESSION_CANCELLED), booking=B.booking_summary(row))
    if row.status != S.CONFIRMED:
        return _rejected(op_id, "invalid", _(M.NOT_CONFIRMED), booking=B.booking_summary(row))
    new = B.update_booking(conn, row.id, status=S.CHECKED_IN, message=_(M.CHECKED_IN))
    return _applied(op_id, new)


def _keep_queue_number(conn: Connection, device: Device, booking_id: str, number: int | None) -> None:
    """The waiting-room number the kiosk gave at check-in (#16), kept once the booking is checked in (or already
    past it: staff may have marked attendance before the kiosk's op arrived). The first number stays."""
    if number is None:
        return
    b = db.bookings
    conn.execute(
        sa.update(b)
        .where(
            b.c.id == booking_id,
            b.c.device_id == device.id,
            b.c.status.in_((S.CHECKED_IN, S.ATTENDED)),
            b.c.queue_number.is_(None),
        )
        .values(queue_number=number)
    )


def _room_call(conn: Connection, device: Device, op: P.Op, p: P.RoomCall, op_id: str) -> dict[str, Any]:
    """`call`/`announce`: the kiosk's staff called a number (#16); recorded for the console's roster. Only for a
    checked-in booking of this kiosk, of the session the op names. A replay returns the stored result."""
    from township.calls import record_kiosk_call

    row = _own_booking(conn, device, op.entity_id)
    if row is None or row.session_id != p.session_id:
        return _rejected(op_id, "not_found", _(M.NOT_FOUND))
    if row.status != S.CHECKED_IN:
        return _rejected(op_id, "invalid", _(M.NOT_CHECKED_IN), booking=B.booking_summary(row))
    record_kiosk_call(conn, row, p, kiosk_number=device.kiosk_number)
    return _result(op_id, "applied", booking=B.booking_summary(row))


def _feedback(conn: Connection, device: Device, op: P.Op, p: P.FeedbackSubmit, op_id: str) -> dict[str, Any]:
    if conn.execute(sa.select(db.feedback.c.id).where(db.feedback.c.id == op.entity_id)).first() is not None:
        return _rejected(op_id, "invalid", _(M.INVALID))
    # Its own booking, or one of another kiosk the resident was invited here to rate (township.ratings).
    row = _own_booking(conn, device, p.booking_id) or _invited_booking(conn, device, p.booking_id)
    if row is None:
        return _rejected(op_id, "not_found", _(M.NOT_FOUND))
    conn.execute(
        sa.insert(db.feedback).values(
            id=op.entity_id,
            township_id=device.township_id,
            booking_id=row.id,
            device_id=device.id,
            rating=p.rating,
            reasons=[r for r in dict.fromkeys(str(x) for x in p.reasons) if r in FEEDBACK_REASONS],
            comment=keys.seal_comment(conn, op.entity_id, p.comment),
            created_at=db.naive(db.now_utc()),
        )
    )
    return _result(op_id, "applied", message=_(M.FEEDBACK_THANKS))


def _demand(conn: Connection, device: Device, p: P.DemandSearch, op_id: str) -> dict[str, Any]:
    """A search at the kiosk that found no open session (#18): one `no_session` row of unmet demand, no personal
    data. A service of another township, or none, is `not_found`."""
    from township.insight.unmet import record_unmet

    service = conn.execute(
        sa.select(db.services.c.id).where(
            db.services.c.id == p.service_id, db.services.c.township_id == device.township_id
        )
    ).first()
    if service is None:
        return _rejected(op_id, "not_found", _(M.NOT_FOUND))
    wanted = _kiosk_time(p.wanted_at) if p.wanted_at else None
    record_unmet(
        conn,
        device.township_id,
        "no_session",
        village=p.village,
        service_id=str(service.id),
        wanted_at=db.utc(wanted) if wanted is not None else None,
        at=_demand_moment(p.at),
    )
    return _result(op_id, "applied")


def _demand_full(conn: Connection, device: Device, p: P.DemandFull, op_id: str) -> dict[str, Any]:
    """A full time touched at the kiosk (#18): one `slot_full` row of unmet demand for that session, no personal
    data. Counted as the resident saw it (the kiosk's seat count may lag the township's by a sync); a session of
    another township, or none, is `not_found`; a touch at or after the session's start is `invalid`."""
    from township.insight.unmet import record_unmet

    s = db.sessions
    session = conn.execute(
        sa.select(s.c.id, s.c.township_id, s.c.service_id, s.c.provider_id, s.c.starts_at).where(
            s.c.id == p.session_id, s.c.township_id == device.township_id
        )
    ).first()
    if session is None:
        return _rejected(op_id, "not_found", _(M.NOT_FOUND))
    at = _demand_moment(p.at)
    if at >= db.utc(session.starts_at):  # no kiosk offers a session that has begun: a faulty or forged op
        return _rejected(op_id, "invalid", _(M.INVALID))
    record_unmet(conn, device.township_id, "slot_full", village=p.village, session=session, at=at)
    return _result(op_id, "applied")


def _demand_moment(kiosk_at: str) -> dt.datetime:
    """When a demand op happened: the kiosk's clock, unless it is more than 30 days off the township's."""
    now = db.now_utc()
    at = _kiosk_time(kiosk_at)
    return db.utc(at) if at is not None and abs(db.utc(at) - now) < dt.timedelta(days=30) else now


def _kiosk_audit(
    conn: Connection, device: Device, p: P.AuditBatch, op_id: str, batch: _Batch
) -> dict[str, Any]:
    """Village staff actions audited on a kiosk (kiosk.staff), kept beside the township staff's own audit trail.
    Stored once: a replayed op returns its stored result without coming here again.

    The trail is sorted by when the backend received an entry (`at`); the kiosk's own clock is kept beside it
    (`client_at`, shown, never trusted). Only actions a kiosk can take are kept as such (anything else becomes
    `kiosk_other`), and a push carries at most `MAX_AUDIT_ENTRIES_PER_PUSH` entries (the rest: `invalid`)."""
    if batch.audit_entries + len(p.entries) > P.MAX_AUDIT_ENTRIES_PER_PUSH:
        return _rejected(op_id, "invalid", _(M.INVALID))
    batch.audit_entries += len(p.entries)
    now = db.naive(db.now_utc())
    rows = []
    for entry in p.entries:
        client_at: dt.datetime | None
        try:
            parsed = dt.datetime.fromisoformat(entry.at)
            client_at = db.naive(parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC))
        except (ValueError, OverflowError):
            client_at = None
        known = entry.action in P.KIOSK_AUDIT_ACTIONS
        detail: dict[str, Any] = {
            "source": "kiosk",
            "device_id": device.id,
            "seq": entry.seq,
            "detail": entry.detail,
        }
        if not known:
            detail["action"] = entry.action
        rows.append(
            {
                "township_id": device.township_id,
                "staff_id": None,
                "who": f"kiosk {device.kiosk_number}: {entry.actor}"[:64],
                "action": entry.action if known else "kiosk_other",
                "target": entry.detail[:100],
                "at": now,
                "client_at": client_at,
                "detail": detail,
            }
        )
    conn.execute(sa.insert(db.staff_audit), rows)
    return _result(op_id, "applied")


# --- pull ------------------------------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_cursor(secret: str, township_id: str, device_id: str, seq: int, floor: int = 0) -> str:
    """`base64url("township:device:seq:floor").hmac16`: opaque to the kiosk, bound to its township and device.
    `floor` is the township's `log_floor` when the cursor was made (see `pull`)."""
    body = f"{township_id}:{device_id}:{seq}:{floor}".encode()
    mac = hmac.new(secret.encode(), body, hashlib.sha256).digest()[:16]
    return f"{_b64(body)}.{_b64(mac)}"


def read_cursor(secret: str, township_id: str, device_id: str, cursor: str) -> tuple[int, int]:
    """The (seq, log floor) in a cursor; SyncError 410 when it is not ours, not this device's, or cannot be read.
    Cursors made before compaction existed have no floor: 0."""
    expired = SyncError(410, P.ERROR_CURSOR_EXPIRED, "unknown or expired cursor: pull from the start")
    try:
        body_text, mac_text = cursor.split(".", 1)
        body = _unb64(body_text)
        mac = _unb64(mac_text)
    except (ValueError, UnicodeError):
        raise expired from None
    good = hmac.new(secret.encode(), body, hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(good, mac):
        raise expired
    try:
        town, dev, seq_text, *rest = body.decode().split(":")
        seq = int(seq_text)
        floor = int(rest[0]) if len(rest) == 1 else 0
    except (ValueError, UnicodeError):
        raise expired from None
    if town != township_id or dev != device_id or seq < 0 or len(rest) > 1:
        raise expired
    return seq, floor


def pull(
    database: db.Database,
    device: Device,
    cursor: str | None,
    limit: int,
    *,
    client_time: dt.datetime | None = None,
) -> dict[str, Any]:
    """One page of this device's view of the change log, after lease upkeep for it."""
    with database.write() as conn:
        town = db.lock_township(conn, device.township_id)
        _check_not_revoked(conn, device)
        since, floor = (
            (0, town.log_floor) if not cursor else read_cursor(town.cursor_secret, town.id, device.id, cursor)
        )
        if since > town.last_seq or (since < town.log_floor and floor != town.log_floor):
            # From another database (restored backup, reset), or made before the log was compacted past it. (A
            # cursor below the floor made since the last compaction is a snapshot under way over the compacted log:
            # it has missed nothing.)
            raise SyncError(410, P.ERROR_CURSOR_EXPIRED, "unknown or expired cursor: pull from the start")
        with use_locale(town.locale):
            _lease_upkeep(conn, device, since)
            B.flush_sessions(conn)  # so this page already shows what the upkeep changed
        _record_device(conn, device, client_time=client_time)
        rows = conn.execute(
            sa.select(db.changes)
            .where(
                db.changes.c.township_id == town.id,
                db.changes.c.seq > since,
                sa.or_(db.changes.c.scope.is_(None), db.changes.c.scope == device.id),
            )
            .order_by(db.changes.c.seq)
            .limit(limit + 1)
        ).all()
        has_more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1].seq if rows else since
        secret, town_id, floor, zone = town.cursor_secret, town.id, int(town.log_floor), town.zone
        # A page with a phone booking for this kiosk tells it the key its `match` was made with (docs/sync.md).
        key = (
            B.match_key(conn, device.id)
            if any("match" in r.data for r in rows if r.entity == "booking")
            else None
        )
    changes = [
        {
            "seq": r.seq,
            "entity": r.entity,
            "entity_id": r.entity_id,
            "op": r.op,
            "version": r.version,
            "data": r.data,
        }
        for r in rows
    ]
    page: dict[str, Any] = {
        "changes": changes,
        "next_cursor": make_cursor(secret, town_id, device.id, int(last), floor),
        "has_more": has_more,
        "zone": zone,
    }
    if key is not None:
        page["match_key"] = key
    return page


def _lease_upkeep(conn: Connection, device: Device, acked_seq: int) -> None:
    """Return, expire, renew and grant this device's seat leases (docs/sync.md, "Seat leases").

    A lease's unused seats stay set aside until the kiosk has *seen* the lease's deletion (its cursor passed that
    change) with nothing left to push, so a booking it confirmed offline before expiry always finds its seat.
    """
    now = db.now_utc()
    dev = conn.execute(sa.select(db.devices).where(db.devices.c.id == device.id)).one()
    if not dev.pending_ops:
        for lease in conn.execute(
            sa.select(db.leases).where(
                db.leases.c.device_id == device.id,
                db.leases.c.state == "returning",
                db.leases.c.return_seq <= acked_seq,
            )
        ).all():
            B.return_lease(conn, lease.id)
    for lease in conn.execute(
        sa.select(db.leases).where(
            db.leases.c.device_id == device.id,
            db.leases.c.state == "active",
            db.leases.c.expires_at <= db.naive(now),
        )
    ).all():
        conn.execute(
            sa.update(db.leases)
            .where(db.leases.c.id == lease.id)
            .values(state="returning", version=db.leases.c.version + 1, updated_at=db.naive(now))
        )
        seq = B.emit_lease(conn, lease.id, delete=True)
        conn.execute(sa.update(db.leases).where(db.leases.c.id == lease.id).values(return_seq=seq))
    if dev.leases_checked_at is not None and db.utc(dev.leases_checked_at) + LEASE_CHECK_EVERY > now:
        return
    conn.execute(
        sa.update(db.devices).where(db.devices.c.id == device.id).values(leases_checked_at=db.naive(now))
    )
    _renew_and_grant(conn, device, now)


def _renew_and_grant(conn: Connection, device: Device, now: dt.datetime) -> None:
    live = {
        r.session_id: r
        for r in conn.execute(
            sa.select(db.leases).where(db.leases.c.device_id == device.id, db.leases.c.state == "active")
        ).all()
    }
    upcoming = conn.execute(
        sa.select(db.sessions, db.services.c.review)
        .join(db.services, db.services.c.id == db.sessions.c.service_id)
        .where(
            db.sessions.c.township_id == device.township_id,
            db.sessions.c.status == "open",
            db.services.c.active.is_(True),
            db.sessions.c.starts_at > db.naive(now + LEASE_MIN_LEAD),
            db.sessions.c.starts_at <= db.naive(now + LEASE_HORIZON),
        )
        .order_by(db.sessions.c.starts_at)
    ).all()
    demand: dict[str, int] = dict(
        conn.execute(
            sa.select(db.sessions.c.service_id, sa.func.count())
            .select_from(db.bookings)
            .join(db.sessions, db.sessions.c.id == db.bookings.c.session_id)
            .where(
                db.bookings.c.township_id == device.township_id,
                db.bookings.c.created_at > db.naive(now - DEMAND_WINDOW),
            )
            .group_by(db.sessions.c.service_id)
        ).all()
    )
    for session in upcoming:
        expires = min(now + LEASE_TTL, db.utc(session.starts_at))
        lease = live.get(session.id)
        if lease is not None:
            # Renew while the kiosk keeps syncing, once half the lease has run, so it never lapses online.
            if db.utc(lease.expires_at) - now < LEASE_TTL / 2 and db.utc(lease.expires_at) < expires:
                conn.execute(
                    sa.update(db.leases)
                    .where(db.leases.c.id == lease.id)
                    .values(
                        expires_at=db.naive(expires),
                        version=db.leases.c.version + 1,
                        updated_at=db.naive(now),
                    )
                )
                B.emit_lease(conn, lease.id)
            continue
        if session.review:
            continue  # reviewed services are never confirmed at the kiosk
        db.lock_session(conn, session.id)
        taken, leased = B.seat_counts(conn, session.id)
        # Keep a shared pool: all leases together hold at most half of the seats not yet taken.
        room = (int(session.capacity) - taken) // 2 - leased
        want = MAX_LEASE_SEATS if demand.get(session.service_id, 0) >= HIGH_DEMAND else 1
        seats = min(want, room)
        if seats <= 0:
            continue
        ident = B.new_id()
        conn.execute(
            sa.insert(db.leases).values(
                id=ident,
                township_id=device.township_id,
                device_id=device.id,
                session_id=session.id,
                seats=seats,
                used=0,
                expires_at=db.naive(expires),
                state="active",
                version=1,
                created_at=db.naive(now),
                updated_at=db.naive(now),
            )
        )
        B.emit_lease(conn, ident)
        B.touch_session(conn, session.id)
