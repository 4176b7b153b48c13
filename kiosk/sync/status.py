"""What the UI shows about sync: read from the store's `sync_state` table, which the sync engine writes.

Keys the engine maintains (all text): `link` (`online` | `offline` | `unknown`), `last_success_at`,
`last_attempt_at` (UTC ISO-8601), `last_error` (a short code + message, never personal data), `clock_skew_s`
(server minus kiosk, seconds), `kiosk_number`, `device_id`, `township_url`, `catalogue_cursor`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kiosk.store import Store, from_text

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
    last = store.state("last_success_at")
    return SyncStatus(
        enrolled=store.state("device_id") is not None,
        online=store.state("link") == "online",
        last_success_at=from_text(last) if last else None,
        last_error=store.state("last_error", "") or "",
        pending_ops=store.pending_count(),
        clock_skew_s=float(store.state("clock_skew_s", "0") or 0),
    )
