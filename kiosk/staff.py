"""Village staff on the kiosk: accounts with a PIN, the PIN lock-out, and the staff desk where every action is audited.

- A staff member is a `staff_id` (chosen by the service centre, e.g. `S01`), a name (encrypted at rest like every
  personal field) and a 6-digit PIN kept only as an argon2id hash (argon2-cffi, RFC 9106 parameters).
- The first staff member comes only with authority: at enrolment (after the township accepted the code), from the
  provisioning file, or at the machine's console (`python -m kiosk staff add`); see "The first staff member" below.
  After that, staff mode, adding staff and leaving full screen need a PIN.
- Wrong PINs lock the kiosk's staff entry with growing delays (3 wrong → 30 s, then doubling, at most 30 min). The
  state is in the database, so restarting the kiosk does not reset it. While locked, no PIN is even checked.
- Every staff action goes into the local `audit_log` (never with personal data in `detail`). `queue_audit` moves the
  audit rows not yet queued into ONE outbox op (`entity="audit"`, `kind="batch"`) in the same transaction as the
  cursor that remembers them, so the township receives each row exactly once through the ordinary, idempotent push
  (SYNC.md): a crash between an action and its queueing loses nothing, the rows are picked up by the next call.

Nothing here imports Qt; the staff screens (`kiosk/ui/staff/`) call into `StaffAccounts` and `StaffDesk`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import secrets
import sys
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from cunzhan.codes import format_code, is_valid_code, normalise_code
from cunzhan.fieldcrypto import field_ref
from cunzhan.i18n import N_, gettext
from cunzhan.identity import check_id_number
from cunzhan.models import Booking, Channel, Dependent, Resident, Session
from kiosk import settings as s
from kiosk.booking import Bookings
from kiosk.store import Store, from_text, new_id, to_text, utc_now

PIN_LENGTH = 6
LOCK_SCOPE = "kiosk"  # one lock for the kiosk's staff entry: the PIN alone identifies the staff member
ACTOR_UNKNOWN = "unknown"  # who typed a wrong PIN is not known
AUDIT_ENTITY = "audit"
AUDIT_KIND = "batch"
AUDIT_BATCH_MAX = 200  # rows per outbox op, far below the 1 MiB push limit
AUDIT_CURSOR_KEY = "audit_queued_upto"  # sync_state key: the last audit_log id already put in the outbox
STAFF_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,16}$")

Clock = Callable[[], dt.datetime]


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """How wrong PINs slow an attacker down: `free_tries` wrong tries, then `first_delay`, doubling up to `max_delay`.

    The cap keeps a child playing with the keypad from locking staff out for a whole day."""

    free_tries: int = 3
    first_delay: dt.timedelta = dt.timedelta(seconds=30)
    max_delay: dt.timedelta = dt.timedelta(minutes=30)

    def delay_after(self, failures: int) -> dt.timedelta:
        """The wait imposed after the `failures`-th consecutive wrong PIN (zero before `free_tries`)."""
        if failures < self.free_tries:
            return dt.timedelta(0)
        doublings = min(failures - self.free_tries, 20)  # 2**20 × 30 s is far past any cap
        delay: dt.timedelta = min(self.first_delay * (2**doublings), self.max_delay)
        return delay


class StaffError(Exception):
    """A staff request was refused; `message()` says why in the UI language."""

    TEXTS: dict[str, str] = {  # noqa: RUF012 - a constant table of message ids
        "pin_length": N_("The PIN must be exactly 6 digits."),
        "pin_simple": N_("This PIN is too easy to guess. Please avoid repeated or consecutive digits."),
        "pin_taken": N_("This PIN cannot be used. Please choose a different one."),
        "pin_mismatch": N_("The two PINs are not the same. Please type the new PIN again."),
        "staff_id": N_("The staff number may use only letters, digits, - and _ (at most 16)."),
        "staff_exists": N_("This staff number is already set up on this kiosk."),
        "name_empty": N_("Please type the staff member's name."),
        "unknown_staff": N_("This staff number is not set up on this kiosk."),
        "last_staff": N_("The last active staff member cannot be removed."),
        "setting": N_("This setting cannot be changed from staff mode."),
        "bad_value": N_("This value is not valid for this setting."),
        "bad_id": N_("This ID number is not valid. Please check it and type it again."),
        "bad_code": N_("This booking code is not valid. Please check the code on the slip."),
        "not_enrolled_first": N_("Set up the first staff member before anything else."),
        "dependent_name": N_("Please type the family member's name."),
        "dependent_relation": N_("Please choose how the family member is related to the resident."),
        "dependent_year": N_("Please type the family member's year of birth, for example 2016."),
        "first_exists": N_(
            "This kiosk already has a staff member. A staff member who is signed in can add more."
        ),
        "provision_staff": N_("The staff entry must have an id, a name and a 6-digit PIN."),
    }

    def __init__(self, kind: str, detail: str = "") -> None:
        self.kind = kind
        self.detail = detail
        super().__init__(kind)

    def message(self) -> str:
        text = gettext(self.TEXTS.get(self.kind, N_("This request was refused.")))
        return f"{text} {self.detail}".strip() if self.detail else text


@dataclass(frozen=True, slots=True)
class StaffMember:
    staff_id: str
    name: str
    active: bool = True


@dataclass(frozen=True, slots=True)
class PinResult:
    """The answer to one PIN entry: the staff member it belongs to, or why not."""

    staff: StaffMember | None
    locked_for_s: int = 0  # > 0: locked now, for this many more seconds
    tries_left: int = 0  # wrong tries left before the next wait
    no_staff: bool = False

    @property
    def ok(self) -> bool:
        return self.staff is not None

    def message(self) -> str:
        """What the PIN screen says (translated); empty when the PIN was right."""
        if self.ok:
            return ""
        if self.no_staff:
            return gettext(NO_STAFF_TEXT)
        if self.locked_for_s > 0:
            return gettext(N_("Too many wrong PINs. Please wait {wait} and try again.")).format(
                wait=wait_text(self.locked_for_s)
            )
        return gettext(N_("Wrong PIN. {n} more tries before a short wait.")).format(n=self.tries_left)


NO_STAFF_TEXT = N_(
    "No staff member is set up on this kiosk yet. To set one up, enrol the kiosk with a code "
    "from the township (touch Enrol kiosk), or ask the technician to run "
    '"python -m kiosk staff add" at the kiosk computer.'
)


def wait_text(seconds: int) -> str:
    """`75` → "2 minutes" (rounded up): how long a locked keypad waits, in plain words."""
    if seconds <= 60:
        return gettext(N_("{n} seconds")).format(n=max(1, seconds))
    return gettext(N_("{n} minutes")).format(n=-(-seconds // 60))


def check_new_pin(pin: str) -> None:
    """Refuse PINs that are the wrong length or trivially guessable (same digit, straight runs)."""
    if len(pin) != PIN_LENGTH or not pin.isdigit() or not pin.isascii():
        raise StaffError("pin_length")
    steps = {int(b) - int(a) for a, b in pairwise(pin)}
    if steps in ({0}, {1}, {-1}):
        raise StaffError("pin_simple")


def default_hasher() -> PasswordHasher:
    """argon2id with argon2-cffi's defaults (RFC 9106 "low memory": t=3, m=64 MiB, p=4): ~50–100 ms per check."""
    return PasswordHasher()


class StaffAccounts:
    """Staff accounts and PIN checks over one store. `clock` is injectable so tests never sleep."""

    def __init__(
        self,
        store: Store,
        *,
        hasher: PasswordHasher | None = None,
        clock: Clock | None = None,
        policy: LockoutPolicy | None = None,
    ) -> None:
        self.store = store
        self.hasher = hasher or default_hasher()
        self.clock: Clock = clock or utc_now
        self.policy = policy or LockoutPolicy()

    # --- accounts ---------------------------------------------------------------------------------------------------

    def has_staff(self) -> bool:
        return bool(self.store.query("SELECT 1 FROM staff WHERE active = 1 LIMIT 1"))

    def members(self) -> list[StaffMember]:
        rows = self.store.query("SELECT staff_id, name_enc, active FROM staff ORDER BY staff_id")
        return [StaffMember(r["staff_id"], self._name(r) or "", bool(r["active"])) for r in rows]

    def _name(self, row: Any) -> str | None:
        return self.store.cipher.decrypt(
            row["name_enc"], where=field_ref("staff", "name_enc", row["staff_id"])
        )

    def member(self, staff_id: str) -> StaffMember | None:
        return next((m for m in self.members() if m.staff_id == staff_id), None)

    def add(self, staff_id: str, name: str, pin: str, *, actor: str) -> StaffMember:
        """Set up a staff member. `actor` is the staff id doing it, or `enrolment` for the first one."""
        staff_id = staff_id.strip()
        name = name.strip()
        if not STAFF_ID_RE.match(staff_id):
            raise StaffError("staff_id")
        if not name:
            raise StaffError("name_empty")
        check_new_pin(pin)
        if self.store.query("SELECT 1 FROM staff WHERE staff_id = ?", (staff_id,)):
            raise StaffError("staff_exists")
        self._refuse_shared_pin(pin, except_id=None)
        pin_hash = self.hasher.hash(pin)
        now = to_text(self.clock())
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO staff (staff_id, name_enc, pin_hash, active, created_at, updated_at) "
                "VALUES (?, ?, ?, 1, ?, ?)",
                (
                    staff_id,
                    self.store.cipher.encrypt(name, where=field_ref("staff", "name_enc", staff_id)),
                    pin_hash,
                    now,
                    now,
                ),
            )
            self.store._audit(conn, actor, "staff_added", staff_id)
        return StaffMember(staff_id, name)

    def change_pin(self, staff_id: str, new_pin: str, *, actor: str) -> None:
        """Give `staff_id` a new PIN (the caller has already checked who is asking)."""
        if not self.store.query("SELECT 1 FROM staff WHERE staff_id = ?", (staff_id,)):
            raise StaffError("unknown_staff")
        check_new_pin(new_pin)
        # The console's reset path is how a locked keypad is cleared: the lock does not stop it.
        self._refuse_shared_pin(new_pin, except_id=staff_id, guard=False)
        with self.store.transaction() as conn:
            conn.execute(
                "UPDATE staff SET pin_hash = ?, updated_at = ? WHERE staff_id = ?",
                (self.hasher.hash(new_pin), to_text(self.clock()), staff_id),
            )
            self.store._audit(conn, actor, "staff_pin_changed", staff_id)

    def deactivate(self, staff_id: str, *, actor: str) -> None:
        """Stop a staff member's PIN from working (their audit history stays)."""
        active = [m for m in self.members() if m.active]
        if not any(m.staff_id == staff_id for m in active):
            raise StaffError("unknown_staff")
        if len(active) == 1:
            raise StaffError("last_staff")
        with self.store.transaction() as conn:
            conn.execute(
                "UPDATE staff SET active = 0, updated_at = ? WHERE staff_id = ?",
                (to_text(self.clock()), staff_id),
            )
            self.store._audit(conn, actor, "staff_deactivated", staff_id)

    def _refuse_shared_pin(self, pin: str, *, except_id: str | None, guard: bool = True) -> None:
        """The PIN alone identifies the staff member at the keypad, so two members may not share one. A refusal
        would tell whoever typed it a colleague's PIN, so it (a) says only that the PIN cannot be used, (b) counts
        as a wrong PIN at the keypad (the same lock-out, so PINs cannot be probed this way) and (c) stops the
        colleague's PIN from working (it is known now; audited `staff_pin_revoked`, set a new one with
        `python -m kiosk staff reset-pin`)."""
        if guard and self.locked_for() > 0:  # PIN probing at the keypad's lock-out: no answer while locked
            raise StaffError("pin_taken")
        for row in self.store.query("SELECT staff_id, pin_hash FROM staff WHERE active = 1"):
            if row["staff_id"] != except_id and self._matches(row["pin_hash"], pin):
                with self.store.transaction() as conn:
                    conn.execute(
                        "UPDATE staff SET pin_hash = ?, updated_at = ? WHERE staff_id = ?",
                        (self.hasher.hash(secrets.token_hex(16)), to_text(self.clock()), row["staff_id"]),
                    )
                    self.store._audit(conn, ACTOR_UNKNOWN, "staff_pin_revoked", row["staff_id"])
                self._wrong()
                raise StaffError("pin_taken")

    def _matches(self, pin_hash: str, pin: str) -> bool:
        try:
            return bool(self.hasher.verify(pin_hash, pin))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    # --- PIN entry and lock-out -------------------------------------------------------------------------------------

    def locked_for(self) -> int:
        """Seconds the staff keypad stays locked from now (0 when not locked)."""
        rows = self.store.query("SELECT locked_until FROM staff_lockout WHERE scope = ?", (LOCK_SCOPE,))
        if not rows or not rows[0]["locked_until"]:
            return 0
        left = (from_text(rows[0]["locked_until"]) - self.clock()).total_seconds()
        return max(0, int(-(-left // 1)))  # round up: never say 0 s while still locked

    def failures(self) -> int:
        rows = self.store.query("SELECT failures FROM staff_lockout WHERE scope = ?", (LOCK_SCOPE,))
        return int(rows[0]["failures"]) if rows else 0

    def verify_pin(self, pin: str) -> PinResult:
        """Check a PIN typed at the keypad. Right: the staff member, and the wrong-try count is reset. Wrong: one more
        failure (audited), maybe a lock-out. Locked: refused without checking the PIN at all."""
        locked = self.locked_for()
        if locked > 0:
            return PinResult(None, locked_for_s=locked)
        rows = self.store.query(
            "SELECT staff_id, name_enc, pin_hash FROM staff WHERE active = 1 ORDER BY staff_id"
        )
        if not rows:
            return PinResult(None, no_staff=True)
        for row in rows:
            if self._matches(row["pin_hash"], pin):
                member = StaffMember(row["staff_id"], self._name(row) or "")
                with self.store.transaction() as conn:
                    conn.execute("DELETE FROM staff_lockout WHERE scope = ?", (LOCK_SCOPE,))
                    if self.hasher.check_needs_rehash(row["pin_hash"]):
                        conn.execute(
                            "UPDATE staff SET pin_hash = ? WHERE staff_id = ?",
                            (self.hasher.hash(pin), member.staff_id),
                        )
                    self.store._audit(conn, member.staff_id, "staff_signed_in")
                return PinResult(member)
        return self._wrong()

    def _wrong(self) -> PinResult:
        now = self.clock()
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO staff_lockout (scope, failures) VALUES (?, 0) ON CONFLICT(scope) DO NOTHING",
                (LOCK_SCOPE,),
            )
            conn.execute("UPDATE staff_lockout SET failures = failures + 1 WHERE scope = ?", (LOCK_SCOPE,))
            failures = int(
                conn.execute("SELECT failures FROM staff_lockout WHERE scope = ?", (LOCK_SCOPE,)).fetchone()[
                    0
                ]
            )
            delay = self.policy.delay_after(failures)
            if delay:
                conn.execute(
                    "UPDATE staff_lockout SET locked_until = ? WHERE scope = ?",
                    (to_text(now + delay), LOCK_SCOPE),
                )
                self.store._audit(conn, ACTOR_UNKNOWN, "staff_pin_locked", f"{int(delay.total_seconds())}s")
            else:
                self.store._audit(conn, ACTOR_UNKNOWN, "staff_pin_wrong")
        if delay:
            return PinResult(None, locked_for_s=int(delay.total_seconds()))
        return PinResult(None, tries_left=self.policy.free_tries - failures)


def verify_pin(store: Store, pin: str, *, clock: Clock | None = None) -> PinResult:
    """Check a staff PIN (the UI's exit seam: leaving full screen needs one). See `StaffAccounts.verify_pin`.

    In practice mode `store` may be the practice store: the PIN is checked against the kiosk's real staff."""
    from kiosk.practice import kiosk_store

    return StaffAccounts(kiosk_store(store), clock=clock).verify_pin(pin)


def verify_exit_pin(store: Store, pin: str) -> bool:
    """The seam `kiosk.ui.lockdown.verify_exit_pin` calls: True when `pin` is an active staff member's PIN (with the
    lock-out and audit of `verify_pin`). Screens that can show why a PIN failed use `verify_pin(...).message()`."""
    return verify_pin(store, pin).ok


# ---------------------------------------------------------------------------------------------------------------------
# Audit to the township


def queue_audit(store: Store, *, exclude_actors: tuple[str, ...] = ("resident",)) -> int:
    """Put the audit rows not yet queued into outbox ops (≤ 200 rows each) and move the cursor, in one transaction.

    Residents' own actions are left out: the township already receives them as booking ops. Returns how many rows
    were queued."""
    queued = 0
    with store.transaction() as conn:
        row = conn.execute("SELECT value FROM sync_state WHERE key = ?", (AUDIT_CURSOR_KEY,)).fetchone()
        cursor = int(row[0]) if row else 0
        marks = ",".join("?" * len(exclude_actors)) or "''"
        rows = conn.execute(
            f"SELECT id, at, actor, action, detail FROM audit_log WHERE id > ? AND actor NOT IN ({marks}) "
            "ORDER BY id",
            (cursor, *exclude_actors),
        ).fetchall()
        last = conn.execute("SELECT coalesce(max(id), 0) FROM audit_log").fetchone()[0]
        for start in range(0, len(rows), AUDIT_BATCH_MAX):
            chunk = rows[start : start + AUDIT_BATCH_MAX]
            # Sizes as the wire model (protocol.AuditEntry) allows; audit rows are short by design anyway.
            entries = [
                {
                    "seq": r[0],
                    "at": r[1],
                    "actor": str(r[2])[:64] or ACTOR_UNKNOWN,
                    "action": str(r[3])[:64],
                    "detail": str(r[4] or "")[:200],
                }
                for r in chunk
            ]
            store.enqueue(
                conn, entity=AUDIT_ENTITY, entity_id=new_id(), kind=AUDIT_KIND, payload={"entries": entries}
            )
            queued += len(chunk)
        if last > cursor:
            store.set_state(AUDIT_CURSOR_KEY, str(last), conn)
    return queued


# ---------------------------------------------------------------------------------------------------------------------
# The staff desk: what a signed-in staff member can do


STAFF_SETTINGS: tuple[s.Setting, ...] = (
    s.PROFILE_DEFAULT,
    s.VOLUME,
    s.IDLE_SCALE,
    s.PRIVATE_AUDIO,
    s.VOICE_MODEL_PATH,
    s.PRINTER,
    s.TOWNSHIP_URL,
)


def mask_name(name: str) -> str:
    """`张桂兰` → `张*兰`, `王芳` → `王*`: enough for staff to recognise a resident, not enough to read out."""
    name = name.strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def validate_setting(setting: s.Setting, raw: str) -> str:
    """Check a value typed or chosen in staff settings; returns the text to store. Raises `StaffError`."""
    if setting not in STAFF_SETTINGS:
        raise StaffError("setting")
    text = raw.strip()
    try:
        value: Any = s.parse(setting, text)
    except (ValueError, TypeError) as exc:
        raise StaffError("bad_value") from exc
    if setting is s.VOLUME and not 0.0 <= value <= 1.0:
        raise StaffError("bad_value", gettext(N_("Use a number from 0 to 1.")))
    if setting is s.IDLE_SCALE and not 0.5 <= value <= 5.0:
        raise StaffError("bad_value", gettext(N_("Use a number from 0.5 to 5.")))
    if setting is s.PROFILE_DEFAULT:
        from kiosk.accessibility.profiles import profile

        try:
            if not text:
                raise ValueError("empty profile")
            profile(text)
        except (KeyError, ValueError) as exc:
            raise StaffError("bad_value") from exc
    if setting is s.TOWNSHIP_URL and text:
        parts = urlsplit(text)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise StaffError("bad_value", gettext(N_("Type the address like https://township.example:8700")))
    return s.render(setting, value)


@dataclass(frozen=True, slots=True)
class SessionDay:
    """One of today's sessions for the staff list: how many are booked and how many have checked in."""

    session: Session
    service_name: str
    provider_name: str
    booked: int
    checked_in: int


@dataclass(frozen=True, slots=True)
class BookingLine:
    """A booking as staff see it: personal details masked."""

    booking: Booking
    code: str  # formatted, e.g. 07-0042-3
    masked_name: str
    masked_id: str
    for_dependent: str | None  # the dependent's relation (e.g. 孙女), never their name
    service_name: str
    starts_at: dt.datetime | None
    status_label: str
    assisted: bool


@dataclass(frozen=True, slots=True)
class Lookup:
    """A resident found by ID number, or the resident behind a booking code, with their bookings."""

    resident_id: str
    masked_name: str
    masked_id: str
    masked_phone: str
    bookings: tuple[BookingLine, ...]


class StaffDesk:
    """The actions of one signed-in staff member. Each one is audited with the staff id and queued for the township.

    `store` is where residents' bookings live: the kiosk's own store, or a practice store in practice mode (then the
    assisted bookings and look-ups of a trainee vanish with it). `kiosk_store` (default: `store`) is always the real
    one: settings, practice on/off and signing out are kiosk actions and are audited there."""

    def __init__(
        self,
        store: Store,
        staff: StaffMember,
        *,
        kiosk_store: Store | None = None,
        bookings: Bookings | None = None,
        zone: str = "Asia/Shanghai",
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.kiosk_store = kiosk_store or store
        self.staff = staff
        self.bookings = bookings or Bookings(store)
        self.zone = zoneinfo.ZoneInfo(zone)
        self.clock: Clock = clock or utc_now

    @property
    def actor(self) -> str:
        return self.staff.staff_id

    def record(self, action: str, detail: str = "", *, kiosk: bool = False) -> None:
        """Audit a staff action (no personal data in `detail`) and queue it for the township. `kiosk=True` records
        it in the kiosk's own store even in practice mode."""
        target = self.kiosk_store if kiosk else self.store
        target.audit(self.actor, action, detail)
        queue_audit(target)

    def _flush(self) -> None:
        queue_audit(self.store)

    # --- assisted booking -------------------------------------------------------------------------------------------

    def book_for(
        self,
        session_id: str,
        resident: Resident,
        dependent: Dependent | None = None,
        *,
        consent_at: dt.datetime | None = None,
    ) -> Booking:
        """Book on a resident's behalf: recorded with channel `assisted` and this staff id (booking + outbox op).
        `consent_at`: when staff confirmed the resident was told the personal-data notice and agreed (the staff
        desk's notice step, `kiosk.ui.staff.book`), sent with the booking like a resident's own consent."""
        booking = self.bookings.book(
            session_id=session_id,
            resident=resident,
            dependent=dependent,
            channel=Channel.ASSISTED,
            staff_id=self.actor,
            now=self.clock(),
            consent_at=consent_at,
        )
        self._flush()
        return booking

    def check_in_for(self, booking_id: str) -> Booking:
        booking = self.bookings.check_in(booking_id, actor=self.actor, now=self.clock())
        self._flush()
        return booking

    def dependent_for(
        self, resident: Resident, name: str, relation: str, birth_year: int | str
    ) -> tuple[Resident, Dependent]:
        """The resident's family member (e.g. a grandchild) staff book for: an existing one with the same name,
        relation and birth year, or a new one added to the resident. Raises `StaffError` for a missing name or
        relation or an impossible birth year."""
        name, relation = name.strip(), relation.strip()
        if not name:
            raise StaffError("dependent_name")
        if not relation:
            raise StaffError("dependent_relation")
        this_year = self.clock().astimezone(self.zone).year
        try:
            year = int(str(birth_year).strip())
        except ValueError:
            raise StaffError("dependent_year") from None
        if not this_year - 120 <= year <= this_year:
            raise StaffError("dependent_year")
        for dep in resident.dependents:
            if dep.name == name and dep.relation == relation and dep.birth_year == year:
                return resident, dep
        dep = Dependent(new_id(), resident.id, name, relation, year)
        return replace(resident, dependents=(*resident.dependents, dep)), dep

    def cancel_for(self, booking_id: str) -> Booking:
        """Cancel a booking on a resident's behalf.

        Decision: staff may cancel ANY active booking whose session has not started, also inside the residents'
        cancellation window (`BookingRules.cancel_window`). The window is there so a resident alone at the kiosk
        does not drop a seat at the last minute by mistake; a staff member at the desk is talking to the person
        (or took their call) and can free the seat for someone waiting. The township applies the same rule (a
        cancel op is refused only once the session started). A cancellation inside the window is audited as
        `staff_cancel_late` on top of the usual `booking_cancelled`."""
        now = self.clock()
        before = self.store.booking(booking_id)
        session = self.store.session(before.session_id) if before else None
        booking = self.bookings.cancel(
            booking_id, reason="cancelled by village staff", actor=self.actor, now=now, override_window=True
        )
        if session is not None and session.starts_at - now < self.bookings.rules.cancel_window:
            self.store.audit(self.actor, "staff_cancel_late", booking.code)
        self._flush()
        return booking

    # --- today and look-up ------------------------------------------------------------------------------------------

    def todays_sessions(self) -> list[SessionDay]:
        """Today's sessions (in the kiosk's zone), with booked and checked-in counts."""
        local = self.clock().astimezone(self.zone)
        start = dt.datetime(local.year, local.month, local.day, tzinfo=self.zone)
        end = start + dt.timedelta(days=1)
        sessions = self.store.sessions_between(start.astimezone(dt.UTC), end.astimezone(dt.UTC))
        counts = {
            r["session_id"]: r
            for r in self.store.query(
                "SELECT session_id, sum(status IN ('requested','pending_review','confirmed','checked_in','attended')) "
                "AS booked, sum(status IN ('checked_in','attended')) AS checked_in FROM bookings "
                "WHERE session_id IN (SELECT id FROM sessions WHERE starts_at >= ? AND starts_at < ?) "
                "GROUP BY session_id",
                (to_text(start), to_text(end)),
            )
        }
        out = []
        for sess in sessions:
            service = self.store.service(sess.service_id)
            provider = self.store.provider(sess.provider_id)
            c = counts.get(sess.id, {})
            out.append(
                SessionDay(
                    sess,
                    service.name if service else "",
                    provider.name if provider else "",
                    int(c.get("booked") or 0),
                    int(c.get("checked_in") or 0),
                )
            )
        return out

    def help_calls_today(self) -> tuple[int, dt.datetime | None]:
        """How often residents touched 「呼叫工作人员」 today (kiosk's zone), and when last."""
        local = self.clock().astimezone(self.zone)
        start = dt.datetime(local.year, local.month, local.day, tzinfo=self.zone)
        rows = self.kiosk_store.query(
            "SELECT count(*) AS n, max(at) AS last FROM audit_log WHERE action = 'staff_called' AND at >= ?",
            (to_text(start),),
        )
        last = rows[0]["last"]
        return int(rows[0]["n"] or 0), from_text(last) if last else None

    def session_bookings(self, session_id: str) -> list[BookingLine]:
        """The bookings of one session, masked, for checking people in."""
        self.record("session_bookings_viewed", session_id)
        return [self._line(b) for b in self.store.bookings_for_session(session_id)]

    def lookup_by_id(self, id_number: str) -> Lookup | None:
        """Find a resident by ID number (typed by staff). Audited without the number."""
        check = check_id_number(id_number)
        if not check.ok or check.number is None:
            raise StaffError("bad_id")
        resident = self.store.find_resident(check.number)
        self.record("resident_lookup", "by=id found=" + ("yes" if resident else "no"))
        return self.resident_bookings(resident.id) if resident else None

    def lookup_by_code(self, code: str) -> Lookup | None:
        """Find the resident behind a booking code. Audited with the code (not personal data)."""
        digits = normalise_code(code)
        if not is_valid_code(digits):
            raise StaffError("bad_code")
        booking = self.store.booking_by_code(digits)
        self.record("resident_lookup", f"by=code {digits} found=" + ("yes" if booking else "no"))
        return self.resident_bookings(booking.resident_id) if booking else None

    def resident_bookings(self, resident_id: str) -> Lookup | None:
        """A resident already found (by look-up) with their bookings, refreshed from the store (not audited again)."""
        resident = self.store.resident(resident_id)
        if resident is None:
            return None
        from cunzhan.identity import mask_phone

        lines = tuple(self._line(b) for b in self.store.bookings_for_resident(resident_id))
        return Lookup(
            resident.id,
            mask_name(resident.name),
            self.store.resident_masked_id(resident.id),
            mask_phone(resident.phone) if resident.phone else "",
            lines,
        )

    def _line(self, booking: Booking) -> BookingLine:
        session = self.store.session(booking.session_id)
        service = self.store.service(session.service_id) if session else None
        resident = self.store.resident(booking.resident_id)
        dependent = self.store.dependent(booking.dependent_id) if booking.dependent_id else None
        return BookingLine(
            booking,
            format_code(booking.code),
            mask_name(resident.name) if resident else "",
            self.store.resident_masked_id(booking.resident_id),
            dependent.relation if dependent else None,
            service.name if service else "",
            session.starts_at if session else None,
            booking.status.label(),
            booking.channel is Channel.ASSISTED,
        )

    # --- settings and kiosk ---------------------------------------------------------------------------------------

    def change_setting(self, setting: s.Setting, raw: str) -> str:
        """Validate and store a kiosk setting with this staff member as the actor (audited by the store)."""
        value = validate_setting(setting, raw)
        self.kiosk_store.set_setting(setting.key, value, actor=self.actor)
        queue_audit(self.kiosk_store)
        return value

    def settings(self) -> s.Settings:
        return s.Settings(self.kiosk_store.stored_settings())

    def set_practice(self, on: bool) -> None:
        """Switch practice mode, remembered across restarts (a training kiosk stays in practice)."""
        self.kiosk_store.set_setting(s.PRACTICE_MODE.key, s.render(s.PRACTICE_MODE, on), actor=self.actor)
        self.record("practice_on" if on else "practice_off", kiosk=True)

    def sign_out(self) -> None:
        self.record("staff_signed_out", kiosk=True)


# ---------------------------------------------------------------------------------------------------------------------
# The first staff member: only with authority (enrolment code, provisioning file, the machine's console)
#
# A kiosk with no staff must not let whoever walks up make themselves staff. The first member therefore comes from:
# (a) the enrolment screen, right after the township accepted an enrolment code (the code proves authority);
# (b) the provisioning file, in the kiosk's data directory (writing there needs the machine), applied once its
#     enrolment code was accepted; its PIN is hashed the moment the file is read;
# (c) the console: `python -m kiosk staff add|reset-pin` — physical or console access is the trust boundary.
# The offline demo (`run --demo`) gets a demo member from `ensure_demo_staff`, with a fresh PIN each start.

ACTOR_ENROLMENT = "enrolment"
ACTOR_PROVISIONING = "provisioning"
ACTOR_CONSOLE = "console"
ACTOR_DEMO = "demo"
DEMO_STAFF_ID = "DEMO"
DEMO_STAFF_NAME = "演示工作人员"


def add_first_staff(
    store: Store,
    staff_id: str,
    name: str,
    pin: str,
    *,
    actor: str = ACTOR_ENROLMENT,
    hasher: PasswordHasher | None = None,
) -> StaffMember:
    """Set up the kiosk's FIRST staff member (after the township accepted an enrolment code). Refused with
    `staff_exists` once any active member exists: later members are added by a signed-in member."""
    accounts = StaffAccounts(store, hasher=hasher)
    if accounts.has_staff():
        raise StaffError("first_exists")
    return accounts.add(staff_id, name, pin, actor=actor)


def _reset_lockout(store: Store, actor: str) -> None:
    with store.transaction() as conn:
        if conn.execute("DELETE FROM staff_lockout WHERE scope = ?", (LOCK_SCOPE,)).rowcount:
            store._audit(conn, actor, "staff_lockout_cleared")


def ensure_demo_staff(store: Store) -> tuple[str, str] | None:
    """For the offline demo: make sure a demo staff member exists and give it a fresh random PIN, returned as
    `(staff_id, pin)` for the demo to print. Returns None (and changes nothing) on a kiosk that has real staff: a
    demo never adds a PIN to a real kiosk. Audited (actor `demo`)."""
    import secrets

    accounts = StaffAccounts(store)
    others = [m for m in accounts.members() if m.active and m.staff_id != DEMO_STAFF_ID]
    if others:
        return None
    while True:  # a random PIN the rules accept (retry the rare too-simple one)
        pin = f"{secrets.randbelow(10**PIN_LENGTH):0{PIN_LENGTH}d}"
        try:
            check_new_pin(pin)
            break
        except StaffError:
            continue
    if accounts.member(DEMO_STAFF_ID) is None:
        accounts.add(DEMO_STAFF_ID, DEMO_STAFF_NAME, pin, actor=ACTOR_DEMO)
    else:
        with store.transaction() as conn:
            conn.execute("UPDATE staff SET active = 1 WHERE staff_id = ?", (DEMO_STAFF_ID,))
        accounts.change_pin(DEMO_STAFF_ID, pin, actor=ACTOR_DEMO)
        _reset_lockout(store, ACTOR_DEMO)
    return DEMO_STAFF_ID, pin


@dataclass(frozen=True, slots=True)
class ProvisionedStaff:
    """A staff member from the provisioning file, its PIN already hashed."""

    staff_id: str
    name: str
    pin_hash: str


def read_provisioned_staff(path: Path, raw: Any, *, hasher: PasswordHasher | None = None) -> ProvisionedStaff:
    """Check the provisioning file's `staff` entry `{"id", "name", "pin"}` and hash the PIN at once: the file at
    `path` is rewritten with `pin_hash` in place of `pin`, so no clear PIN stays on disk while enrolment waits for
    the township (the file is kept until it can enrol). A file already rewritten carries `pin_hash`, which must be
    an argon2id hash. Raises `StaffError`."""
    ph = hasher or default_hasher()
    if not isinstance(raw, dict) or set(raw) - {"id", "name", "pin", "pin_hash"}:
        raise StaffError("provision_staff")
    staff_id = str(raw.get("id") or "").strip()
    name = str(raw.get("name") or "").strip()
    if not STAFF_ID_RE.match(staff_id):
        raise StaffError("staff_id")
    if not name:
        raise StaffError("name_empty")
    pin = raw.get("pin")
    if pin is not None:
        check_new_pin(str(pin))
        pin_hash = ph.hash(str(pin))
        data = json.loads(path.read_text(encoding="utf-8"))
        data["staff"] = {"id": staff_id, "name": name, "pin_hash": pin_hash}
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)  # atomic: the clear PIN is gone from the file in one step
        return ProvisionedStaff(staff_id, name, pin_hash)
    pin_hash = str(raw.get("pin_hash") or "")
    try:
        if extract_parameters(pin_hash).type is not Type.ID:
            raise StaffError("provision_staff")
    except InvalidHashError:
        raise StaffError("provision_staff") from None
    return ProvisionedStaff(staff_id, name, pin_hash)


def apply_provisioned_staff(store: Store, staff: ProvisionedStaff) -> StaffMember | None:
    """Set up the provisioning file's staff member once its enrolment code was accepted. A staff number already
    set up is left as it is (audited as skipped): a provisioning file never replaces a PIN."""
    now = utc_now()
    with store.transaction() as conn:
        if conn.execute("SELECT 1 FROM staff WHERE staff_id = ?", (staff.staff_id,)).fetchone():
            store._audit(conn, ACTOR_PROVISIONING, "staff_provision_skipped", staff.staff_id)
            added = None
        else:
            conn.execute(
                "INSERT INTO staff (staff_id, name_enc, pin_hash, active, created_at, updated_at) "
                "VALUES (?, ?, ?, 1, ?, ?)",
                (
                    staff.staff_id,
                    store.cipher.encrypt(staff.name, where=field_ref("staff", "name_enc", staff.staff_id)),
                    staff.pin_hash,
                    to_text(now),
                    to_text(now),
                ),
            )
            store._audit(conn, ACTOR_PROVISIONING, "staff_added", staff.staff_id)
            added = StaffMember(staff.staff_id, staff.name)
    queue_audit(store)
    return added


# --- the console: `python -m kiosk staff ...` ------------------------------------------------------------------------

from kiosk.staff_cli import STAFF_CLI_HELP, add_staff_parser  # noqa: E402,F401 - re-exported for callers


def _read_pin_twice(stdin: TextIO) -> str:
    """The new PIN, typed twice: hidden from the screen at a terminal, two lines when piped."""
    if stdin.isatty():
        import getpass

        first = getpass.getpass(gettext(N_("New PIN (6 digits): ")))
        second = getpass.getpass(gettext(N_("Type the PIN again: ")))
    else:
        first, second = stdin.readline().strip(), stdin.readline().strip()
    check_new_pin(first)
    if first != second:
        raise StaffError("pin_mismatch")
    return first


def staff_command(args: argparse.Namespace, *, stdin: TextIO | None = None) -> int:
    """`python -m kiosk staff add|reset-pin|list`: console staff management, audited with actor `console`."""
    from cunzhan.i18n import set_default_locale
    from kiosk.crypto import KeyringUnavailable
    from kiosk.store import StoreError

    set_default_locale(str(s.Settings().get(s.LOCALE)))
    try:
        store = Store.open()
    except (StoreError, KeyringUnavailable) as exc:
        print(exc.message(), file=sys.stderr)
        return 1
    set_default_locale(str(s.Settings(store.stored_settings()).get(s.LOCALE)))
    try:
        accounts = StaffAccounts(store)
        action = args.staff_action
        if action == "list":
            for member in accounts.members():
                state = gettext(N_("active")) if member.active else gettext(N_("not active"))
                print(f"{member.staff_id}\t{state}")
            return 0
        try:
            if action == "add":
                if accounts.member(args.staff_id.strip()) is not None:
                    raise StaffError("staff_exists")
                pin = _read_pin_twice(stdin or sys.stdin)
                member = accounts.add(args.staff_id, args.name, pin, actor=ACTOR_CONSOLE)
                print(gettext(N_("Staff member {staff_id} is set up.")).format(staff_id=member.staff_id))
            else:
                staff_id = args.staff_id.strip()
                if accounts.member(staff_id) is None:
                    raise StaffError("unknown_staff")
                pin = _read_pin_twice(stdin or sys.stdin)
                accounts.change_pin(staff_id, pin, actor=ACTOR_CONSOLE)
                _reset_lockout(store, ACTOR_CONSOLE)  # a forgotten PIN usually came with a locked keypad
                print(gettext(N_("Staff member {staff_id} has a new PIN.")).format(staff_id=staff_id))
        except StaffError as exc:
            print(exc.message(), file=sys.stderr)
            return 1
        queue_audit(store)
        return 0
    finally:
        store.close()
