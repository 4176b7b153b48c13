"""The first staff member, only with authority (enrolment code, provisioning file, the machine's console), and the
demo staff member.

A kiosk with no staff must not let whoever walks up make themselves staff. The first member therefore comes from:
(a) the enrolment screen, right after the township accepted an enrolment code (the code proves authority):
    `add_first_staff`;
(b) the provisioning file, in the kiosk's data directory (writing there needs the machine), applied once its
    enrolment code was accepted; its PIN is hashed the moment the file is read: `read_provisioned_staff`,
    `apply_provisioned_staff`;
(c) the console: `python -m kiosk staff add|reset-pin` (kiosk/staff/console.py) — physical or console access is the
    trust boundary.
The offline demo (`run --demo`) gets a demo member from `ensure_demo_staff`, with a fresh PIN each start.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError

from kiosk.staff.accounts import (
    PIN_LENGTH,
    STAFF_ID_RE,
    StaffAccounts,
    StaffError,
    StaffMember,
    check_new_pin,
    default_hasher,
)
from kiosk.store import Store, utc_now
from kiosk.sync.audit import queue_audit

ACTOR_ENROLMENT = "enrolment"
ACTOR_PROVISIONING = "provisioning"
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


def ensure_demo_staff(store: Store) -> tuple[str, str] | None:
    """For the offline demo: make sure a demo staff member exists and give it a fresh random PIN, returned as
    `(staff_id, pin)` for the demo to print. Returns None (and changes nothing) on a kiosk that has real staff: a
    demo never adds a PIN to a real kiosk. Audited (actor `demo`)."""
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
        store.reactivate_staff_quietly(DEMO_STAFF_ID)
        accounts.change_pin(DEMO_STAFF_ID, pin, actor=ACTOR_DEMO)
        accounts.clear_lockout(actor=ACTOR_DEMO)
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
    added = store.add_staff(
        staff.staff_id,
        staff.name,
        staff.pin_hash,
        actor=ACTOR_PROVISIONING,
        now=utc_now(),
        skip_existing=True,
    )
    queue_audit(store)
    return StaffMember(staff.staff_id, staff.name) if added else None
