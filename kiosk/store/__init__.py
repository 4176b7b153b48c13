"""The kiosk's local store (one module per noun; `Store` composes them): SQLite through sqlite-utils, the truth for the kiosk's screen.

- WAL mode, `synchronous=FULL`: a booking and its outbox op are committed together, durably, before the resident is
  told anything.
- Schema changes only through the sqlite-utils migration set (`schema.migrations()`), applied at start-up; the
  number applied is kept in `PRAGMA user_version`. A file written by a newer version, or a file that is not a
  Cunzhan database, is refused with a clear message and never rewritten. A file already at the current schema
  (user_version and tables) opens through `sqlite3` alone: sqlite-utils (~0.1 s to import) is loaded only for an
  older or new file, or when a caller asks for `Store.db`.
- No SQL outside this package: callers use named methods (kiosk/staff.py's is being moved here).
- Personal fields (names, ID numbers, phones, outbox payloads) are encrypted with `FieldCipher`; the ID number is
  also kept as a keyed hash for look-up and a masked form for display.
- Times are UTC ISO-8601 text.
"""

from __future__ import annotations

from kiosk.store.base import (
    ERASED,
    SEALED_COLUMNS,
    StoreBase,
    StoreError,
    from_text,
    new_id,
    to_text,
    utc_now,
)
from kiosk.store.bookings import Bookings
from kiosk.store.catalogue import Catalogue
from kiosk.store.phone import PhoneBookings
from kiosk.store.reports import Reports
from kiosk.store.residents import Residents
from kiosk.store.schema import KNOWN_MIGRATIONS, MIGRATION_SET, TABLES, migrations
from kiosk.store.staff import StaffTables
from kiosk.store.sync_state import Link, SyncKey, SyncState, lease_counted_key

__all__ = [
    "ERASED",
    "KNOWN_MIGRATIONS",
    "MIGRATION_SET",
    "SEALED_COLUMNS",
    "TABLES",
    "Link",
    "Store",
    "StoreError",
    "SyncKey",
    "from_text",
    "lease_counted_key",
    "migrations",
    "new_id",
    "to_text",
    "utc_now",
]


class Store(Catalogue, PhoneBookings, Residents, Bookings, StaffTables, SyncState, Reports, StoreBase):
    """One connection to the kiosk database. The UI and the sync worker each open their own."""
