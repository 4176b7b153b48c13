"""The console: `python -m kiosk staff add|reset-pin|list`, staff management at the machine itself, audited with
actor `console` (the parser is in kiosk/staff/cli.py, cheap to build at start-up)."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TextIO

from cunzhan.i18n import N_, gettext, set_default_locale
from kiosk import settings as s
from kiosk.crypto import KeyringUnavailable
from kiosk.staff.accounts import StaffAccounts, StaffError, check_new_pin
from kiosk.store import Store, StoreError
from kiosk.sync.audit import queue_audit

ACTOR_CONSOLE = "console"


def _read_pin_twice(stdin: TextIO) -> str:
    """The new PIN, typed twice: hidden from the screen at a terminal, two lines when piped."""
    if stdin.isatty():
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
                # A forgotten PIN usually came with a locked keypad.
                accounts.clear_lockout(actor=ACTOR_CONSOLE)
                print(gettext(N_("Staff member {staff_id} has a new PIN.")).format(staff_id=staff_id))
        except StaffError as exc:
            print(exc.message(), file=sys.stderr)
            return 1
        queue_audit(store)
        return 0
    finally:
        store.close()
