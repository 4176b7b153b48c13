"""The kiosk's local store (one module per noun; `Store` composes them): SQLite through sqlite-utils, the truth for the kiosk's screen.

- WAL mode, `synchronous=FULL`: a booking and its outbox op are committed together, durably, before the resident is
  told anything.
- Schema changes only through the sqlite-utils migration set below (`migrations()`), applied at start-up. A file
  written by a newer version, or a file that is not a Cunzhan database, is refused with a clear message and never
  rewritten. A file already at the current schema opens through `sqlite3` alone: sqlite-utils (~0.1 s to import) is
  loaded only when a migration is pending or a caller asks for `Store.db`.
- Personal fields (names, ID numbers, phones, outbox payloads) are encrypted with `FieldCipher`; the ID number is
  also kept as a keyed hash for look-up and a masked form for display.
- Times are UTC ISO-8601 text.
"""

from __future__ import annotations

from kiosk.store.base import (
    ERASED,
    LEASE_COUNTED_KEY,
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
from kiosk.store.residents import Residents
from kiosk.store.schema import KNOWN_MIGRATIONS, MIGRATION_SET, migrations
from kiosk.store.staff import StaffTables

__all__ = [
    "ERASED",
    "KNOWN_MIGRATIONS",
    "LEASE_COUNTED_KEY",
    "MIGRATION_SET",
    "SEALED_COLUMNS",
    "Store",
    "StoreError",
    "from_text",
    "migrations",
    "new_id",
    "to_text",
    "utc_now",
]


class Store(Catalogue, Residents, Bookings, StaffTables, StoreBase):
    """One connection to the kiosk database. The UI and the sync worker each open their own."""
