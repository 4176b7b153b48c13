"""What the UI shows about sync: read from the store's `sync_state` table, which the sync engine writes.

The keys and their meaning: `kiosk.store.SyncKey` (the link values: `kiosk.store.Link`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kiosk.store import Link, Store, SyncKey, from_text

SKEW_WARNING_S = 300


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """The link to the township as home shows it."""

    enrolled: bool
    online: bool
    last_success_at: dt.datetime | None
    last_error: str
    pending_ops: int
    clock_skew_s: float

    @property
    def skew_warning(self) -> bool:
        return abs(self.clock_skew_s) > SKEW_WARNING_S


def read_status(store: Store) -> SyncStatus:
    last = store.state(SyncKey.LAST_SUCCESS_AT)
    return SyncStatus(
        enrolled=store.state(SyncKey.DEVICE_ID) is not None,
        online=store.state(SyncKey.LINK) == Link.ONLINE,
        last_success_at=from_text(last) if last else None,
        last_error=store.state(SyncKey.LAST_ERROR, "") or "",
        pending_ops=store.pending_count(),
        clock_skew_s=float(store.state(SyncKey.CLOCK_SKEW_S, "0") or 0),
    )
