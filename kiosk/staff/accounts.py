"""Staff accounts and the PIN lock-out: who may use staff mode, checked by a 6-digit PIN.

- A staff member is a `staff_id` (chosen by the service centre, e.g. `S01`), a name (encrypted at rest like every
  personal field) and a 6-digit PIN kept only as an argon2id hash (argon2-cffi, RFC 9106 parameters).
- The first staff member comes only with authority (kiosk/staff/provisioning.py). After that, staff mode, adding
  staff and leaving full screen need a PIN.
- Wrong PINs lock the kiosk's staff entry with growing delays (3 wrong → 30 s, then doubling, at most 30 min). The
  state is in the database, so restarting the kiosk does not reset it. While locked, no PIN is even checked.

Nothing here imports Qt; the staff screens (`kiosk/ui/staff/`) call into `StaffAccounts`.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from cunzhan.i18n import N_, gettext
from kiosk.store import Store, utc_now
from kiosk.sync.audit import ACTOR_UNKNOWN

PIN_LENGTH = 6
LOCK_SCOPE = "kiosk"  # one lock for the kiosk's staff entry: the PIN alone identifies the staff member
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
        return self.store.has_active_staff()

    def members(self) -> list[StaffMember]:
        return [StaffMember(r.staff_id, r.name, r.active) for r in self.store.staff_rows()]

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
        if self.store.staff_exists(staff_id):
            raise StaffError("staff_exists")
        self._refuse_shared_pin(pin, except_id=None)
        self.store.add_staff(staff_id, name, self.hasher.hash(pin), actor=actor, now=self.clock())
        return StaffMember(staff_id, name)

    def change_pin(self, staff_id: str, new_pin: str, *, actor: str) -> None:
        """Give `staff_id` a new PIN (the caller has already checked who is asking)."""
        if not self.store.staff_exists(staff_id):
            raise StaffError("unknown_staff")
        check_new_pin(new_pin)
        # The console's reset path is how a locked keypad is cleared: the lock does not stop it.
        self._refuse_shared_pin(new_pin, except_id=staff_id, guard=False)
        self.store.set_staff_pin(staff_id, self.hasher.hash(new_pin), actor=actor, now=self.clock())

    def deactivate(self, staff_id: str, *, actor: str) -> None:
        """Stop a staff member's PIN from working (their audit history stays)."""
        active = [m for m in self.members() if m.active]
        if not any(m.staff_id == staff_id for m in active):
            raise StaffError("unknown_staff")
        if len(active) == 1:
            raise StaffError("last_staff")
        self.store.deactivate_staff(staff_id, actor=actor, now=self.clock())

    def _refuse_shared_pin(self, pin: str, *, except_id: str | None, guard: bool = True) -> None:
        """The PIN alone identifies the staff member at the keypad, so two members may not share one. A refusal
        would tell whoever typed it a colleague's PIN, so it (a) says only that the PIN cannot be used, (b) counts
        as a wrong PIN at the keypad (the same lock-out, so PINs cannot be probed this way) and (c) stops the
        colleague's PIN from working (it is known now; audited `staff_pin_revoked`, set a new one with
        `python -m kiosk staff reset-pin`)."""
        if guard and self.locked_for() > 0:  # PIN probing at the keypad's lock-out: no answer while locked
            raise StaffError("pin_taken")
        for staff_id, pin_hash in self.store.staff_pins():
            if staff_id != except_id and self._matches(pin_hash, pin):
                self.store.set_staff_pin(
                    staff_id,
                    self.hasher.hash(secrets.token_hex(16)),
                    actor=ACTOR_UNKNOWN,
                    now=self.clock(),
                    action="staff_pin_revoked",
                )
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
        until = self.store.lockout(LOCK_SCOPE).locked_until
        if until is None:
            return 0
        left = (until - self.clock()).total_seconds()
        return max(0, int(-(-left // 1)))  # round up: never say 0 s while still locked

    def failures(self) -> int:
        return self.store.lockout(LOCK_SCOPE).failures

    def verify_pin(self, pin: str) -> PinResult:
        """Check a PIN typed at the keypad. Right: the staff member, and the wrong-try count is reset. Wrong: one more
        failure (audited), maybe a lock-out. Locked: refused without checking the PIN at all."""
        locked = self.locked_for()
        if locked > 0:
            return PinResult(None, locked_for_s=locked)
        pins = self.store.staff_pins()
        if not pins:
            return PinResult(None, no_staff=True)
        for staff_id, pin_hash in pins:
            if self._matches(pin_hash, pin):
                member = self.member(staff_id) or StaffMember(staff_id, "")
                rehashed = self.hasher.hash(pin) if self.hasher.check_needs_rehash(pin_hash) else None
                self.store.staff_signed_in(LOCK_SCOPE, staff_id, new_pin_hash=rehashed)
                return PinResult(member)
        return self._wrong()

    def _wrong(self) -> PinResult:
        failures, delay = self.store.count_wrong_pin(
            LOCK_SCOPE, actor=ACTOR_UNKNOWN, now=self.clock(), delay_after=self.policy.delay_after
        )
        if delay:
            return PinResult(None, locked_for_s=int(delay.total_seconds()))
        return PinResult(None, tries_left=self.policy.free_tries - failures)

    def clear_lockout(self, *, actor: str) -> None:
        """Unlock the keypad (a forgotten PIN usually came with a locked one); audited when it was locked."""
        self.store.clear_lockout(LOCK_SCOPE, actor=actor)


def verify_pin(store: Store, pin: str, *, clock: Clock | None = None) -> PinResult:
    """Check a staff PIN (the UI's exit seam: leaving full screen needs one). See `StaffAccounts.verify_pin`.

    In practice mode `store` may be the practice store: the PIN is checked against the kiosk's real staff."""
    from kiosk.practice import kiosk_store

    return StaffAccounts(kiosk_store(store), clock=clock).verify_pin(pin)
