"""Staff accounts and the staff desk's tables."""

from __future__ import annotations

from kiosk.store.base import StoreBase


class StaffTables(StoreBase):
    """Staff accounts, PIN lock-out and desk queries (kiosk/staff/ holds the rules)."""
