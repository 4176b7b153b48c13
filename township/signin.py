"""Staff sign-in: the argon2id password check, throttling and lock-out, without stalling anyone else.

- **No lock while hashing.** The password check (argon2id, ~0.1 s of CPU, the same work for unknown users) runs
  outside any transaction and any writer lock: reads first (throttle rows, the account), then the hash, then one
  short write (the outcome). At most `HASH_SLOTS` checks run at once per process, so a crowd of sign-ins queues
  instead of taking every core from the kiosks' sync; a check that cannot start within `HASH_WAIT_S` is refused
  as busy (try again shortly).
- **Lock-out per client address and account.** `LOCKOUT_AFTER` wrong passwords in a row from one address for one
  user name lock that pair for `LOCKOUT_FOR`, whether the account exists or not (so the answer tells nobody which
  user names exist), and the same user signs in from another computer meanwhile.
- **Throttles.** More than `ADDRESS_LIMIT` failures from one address, or `ACCOUNT_LIMIT` failures for one user name
  from all addresses together, within `WINDOW`, are refused until the window ends, without checking the password.
- Every refusal says when to try again (`retry_after`, seconds; the console sends it as `Retry-After`).

The counters live in the database (`signin_throttle`), keyed by a keyed hash (the console's signing key) of the
address, the township and user name, or both: never the address or user name in clear, and shared by every backend
process.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import threading
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from township import db, keys
from township.services import StaffUser, _hasher, audit_row, staff_query, staff_user

LOCKOUT_AFTER = 5  # wrong passwords in a row, one address and one user name
LOCKOUT_FOR = dt.timedelta(minutes=15)
WINDOW = dt.timedelta(minutes=10)
ADDRESS_LIMIT = 30  # failures from one address (any user names) per window
ACCOUNT_LIMIT = 50  # failures for one user name (any addresses) per window
HASH_SLOTS = 2
HASH_WAIT_S = 10.0
RETRY_BUSY_S = 5

_slots = threading.BoundedSemaphore(HASH_SLOTS)
_dummy_hash: list[
    str
] = []  # a real argon2 hash of a random password: unknown users cost the same as known ones


@dataclass(frozen=True, slots=True)
class Outcome:
    """`staff` when signed in; else why not: `locked` (this address + user name), `throttled` (too many tries
    from this address or for this user name), `busy`, or a wrong user name or password (all False)."""

    staff: StaffUser | None
    retry_after: int | None = None
    locked: bool = False
    throttled: bool = False
    busy: bool = False


def _keys(secret: str, slug: str, username: str, address: str) -> tuple[str, str, str]:
    def mac(kind: str, text: str) -> str:
        return (
            kind + ":" + hmac.new(secret.encode(), f"{kind}\x00{text}".encode(), hashlib.sha256).hexdigest()
        )

    account = f"{slug}\x00{username}"
    return mac("pair", f"{address}\x00{account}"), mac("addr", address), mac("acct", account)


def _seconds_until(moment: dt.datetime, now: dt.datetime) -> int:
    return max(1, int((moment - now).total_seconds()) + 1)


def _refusal(rows: dict[str, Any], pair: str, addr: str, acct: str, now: dt.datetime) -> Outcome | None:
    row = rows.get(pair)
    if row is not None and row.locked_until is not None and row.locked_until > now:
        return Outcome(None, retry_after=_seconds_until(row.locked_until, now), locked=True)
    for key, limit in ((addr, ADDRESS_LIMIT), (acct, ACCOUNT_LIMIT)):
        row = rows.get(key)
        if row is not None and row.window_start + WINDOW > now and row.failures >= limit:
            return Outcome(None, retry_after=_seconds_until(row.window_start + WINDOW, now), throttled=True)
    return None


def _check_password(stored: str | None, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    if not _dummy_hash:
        _dummy_hash.append(_hasher().hash(hashlib.sha256(str(id(_slots)).encode()).hexdigest()))
    try:
        return bool(_hasher().verify(stored or _dummy_hash[0], password)) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def sign_in(database: db.Database, township_slug: str, username: str, password: str, address: str) -> Outcome:
    """Check a password for `username` in the township `township_slug` (or, for a county account, the county with
    that slug), asked from client `address`."""
    username = username.strip()
    secret = keys.console_secret(database.url)
    pair, addr, acct = _keys(secret, township_slug, username, address)
    t = db.signin_throttle
    now = db.naive(db.now_utc())
    with database.read() as conn:
        rows = {r.key: r for r in conn.execute(sa.select(t).where(t.c.key.in_([pair, addr, acct])))}
        refusal = _refusal(rows, pair, addr, acct, now)
        if refusal is not None:
            return refusal
        # The slug names a township or, for a county account, a county (they share one name space).
        found = conn.execute(
            staff_query().where(
                sa.or_(db.townships.c.slug == township_slug, db.counties.c.slug == township_slug),
                db.staff_users.c.username == username,
            )
        ).first()
    staff = found if found is not None and found.disabled_at is None else None
    # The slow part: no transaction is open and no lock is held.
    if not _slots.acquire(timeout=HASH_WAIT_S):
        return Outcome(None, retry_after=RETRY_BUSY_S, busy=True)
    try:
        ok = _check_password(staff.password_hash if staff is not None else None, password)
    finally:
        _slots.release()
    now = db.naive(db.now_utc())
    with database.write() as conn:
        rows = _locked_rows(conn, [pair, addr, acct], now)
        if ok and staff is not None:
            refusal = _refusal(rows, pair, addr, acct, now)  # another attempt may have locked it meanwhile
            if refusal is not None:
                return refusal
            conn.execute(sa.delete(t).where(t.c.key == pair))
            return Outcome(staff_user(staff))
        locked = False
        for key in (pair, addr, acct):
            row = rows[key]
            values: dict[str, Any] = {"failures": int(row.failures) + 1}
            if row.window_start + WINDOW <= now and (row.locked_until is None or row.locked_until <= now):
                values = {"failures": 1, "window_start": now, "locked_until": None}  # a new window
            if key == pair and values["failures"] >= LOCKOUT_AFTER:
                values = {"failures": 0, "window_start": now, "locked_until": now + LOCKOUT_FOR}
                locked = True
            conn.execute(sa.update(t).where(t.c.key == key).values(**values))
        if staff is not None:
            action = "login_locked" if locked else "login_failed"
            audit_row(
                conn,
                staff.township_id,
                staff.username,
                action,
                staff.username,
                staff_id=staff.id,
                county_id=staff.county_id,
            )
    if locked:
        return Outcome(None, retry_after=int(LOCKOUT_FOR.total_seconds()), locked=True)
    return Outcome(None)


def _locked_rows(conn: sa.Connection, wanted: list[str], now: dt.datetime) -> dict[str, Any]:
    """The throttle rows for `wanted`, created when missing and locked for this transaction (PostgreSQL)."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    t = db.signin_throttle
    # Rows whose window and lock are both over say nothing any more: drop them (the table stays small).
    conn.execute(
        sa.delete(t).where(
            t.c.window_start < now - WINDOW - LOCKOUT_FOR,
            t.c.key.not_in(wanted),
            sa.or_(t.c.locked_until.is_(None), t.c.locked_until < now),
        )
    )
    insert = pg_insert(t) if conn.dialect.name == "postgresql" else sqlite_insert(t)
    conn.execute(
        insert.on_conflict_do_nothing(index_elements=[t.c.key]),
        [{"key": key, "failures": 0, "window_start": now, "locked_until": None} for key in wanted],
    )
    query = sa.select(t).where(t.c.key.in_(wanted)).order_by(t.c.key)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return {r.key: r for r in conn.execute(query)}
