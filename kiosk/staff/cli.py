"""The `python -m kiosk staff` command line's parser, kept apart from the command (kiosk/staff/console.py) so building
it stays cheap (the kiosk's start-up parses its command line before anything else)."""

from __future__ import annotations

from typing import Any

from cunzhan.i18n import N_

STAFF_CLI_HELP = N_(
    "Set up village staff at the kiosk's own console. Anyone who can run this on the machine can add staff or "
    "reset a PIN: physical or console access to the kiosk computer is the trust boundary, so keep the machine's "
    "keyboard port and login locked away. Every use is recorded in the audit log and sent to the township."
)


def add_staff_parser(sub: Any) -> None:
    """Add the `staff` subcommand (add, reset-pin, list) to `python -m kiosk`'s subparsers."""
    staff = sub.add_parser(
        "staff",
        help="add village staff or reset a forgotten PIN, at the kiosk's console",
        description=STAFF_CLI_HELP,
    )
    actions = staff.add_subparsers(dest="staff_action", required=True)
    add = actions.add_parser(
        "add",
        help="set up a staff member (PIN read from the keyboard or stdin, twice)",
        description=STAFF_CLI_HELP,
    )
    add.add_argument("--id", required=True, dest="staff_id", help="staff number, e.g. S01")
    add.add_argument("--name", required=True, help="staff member's name")
    reset = actions.add_parser(
        "reset-pin", help="give a staff member a new PIN (the forgotten-PIN path)", description=STAFF_CLI_HELP
    )
    reset.add_argument("--id", required=True, dest="staff_id", help="staff number, e.g. S01")
    actions.add_parser("list", help="list staff numbers and whether each is active (no names)")
