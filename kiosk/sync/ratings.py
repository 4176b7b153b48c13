"""Ask the township for a session to rate that was booked at another kiosk (#16; township.ratings).

A resident's own kiosk knows their bookings made there; one they attended after booking at another kiosk of the
township is known only to the township. When the resident identifies and the link was up at the last sync, the
kiosk asks once in the visit (`POST /v1/ratings/ask`, short timeouts); any failure is "nothing to rate": the
journey goes on as it would have. The answer lives only in the visit (`Visit.rating_elsewhere`).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from kiosk.store import Store
from kiosk.store.base import from_text
from kiosk.store.sync_state import Link, SyncKey

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Elsewhere:
    """A session booked at another kiosk that the resident attended and has not rated."""

    booking_id: str
    service: str
    starts_at: dt.datetime  # UTC


def may_ask(store: Store) -> bool:
    """Whether to ask at all: an enrolled kiosk whose last sync reached the township (a local read, no network)."""
    return bool(store.state(SyncKey.TOWNSHIP_URL) and store.state(SyncKey.DEVICE_ID)) and (
        store.state(SyncKey.LINK) == Link.ONLINE
    )


def ask_elsewhere(store: Store, id_number: str, *, ca_bundle: str | None = None) -> Elsewhere | None:
    """The township's invitation for this resident, or None (none, not enrolled, offline, any failure)."""
    from kiosk.sync.client import SyncError, enrolled_client

    if not may_ask(store):
        return (
            None  # the last sync did not reach the township: do not keep the resident waiting for a timeout
        )
    client = enrolled_client(store, ca_bundle=ca_bundle)
    if client is None:
        return None
    try:
        with client:
            found = client.ask_rating(id_number)
        if found is None:
            return None
        return Elsewhere(found.booking_id, found.service[:200], from_text(found.starts_at))
    except (SyncError, ValueError) as exc:
        log.info("rating ask failed: %s", type(exc).__name__)  # never the number
        return None
