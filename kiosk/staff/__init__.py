"""Village staff on the kiosk, one module per concern (nothing here imports Qt; the screens are kiosk/ui/staff/):

- `accounts`: staff accounts, PIN checks and the PIN lock-out (`StaffAccounts`, `verify_pin`);
- `desk`: what a signed-in staff member does for residents, every action audited (`StaffDesk`);
- `provisioning`: the first staff member, only with authority, and the demo staff member;
- `cli` and `console`: `python -m kiosk staff add|reset-pin|list` (the parser, cheap to build; the command).

Their SQL is in kiosk/store/staff.py; the audit rows reach the township through kiosk/sync/audit.py.
"""
