"""Read what the township answered about a booking, for the screens, and keep the bookings it made by phone for
this kiosk (no network, no Qt)."""

from __future__ import annotations

import json
import sqlite3

from cunzhan import protocol
from cunzhan.models import BookingStatus
from kiosk.store import Store


def last_result(store: Store, booking_id: str) -> protocol.Result | None:
    """The township's latest answer to an op on this booking, or None when nothing has been answered yet."""
    text = store.last_result(booking_id)
    if text is None:
        return None
    try:
        return protocol.Result.model_validate(json.loads(text))
    except ValueError:
        return None


def booking_alternatives(store: Store, booking_id: str) -> list[protocol.Alternative]:
    """Other times offered when the township could not seat this booking (`slot_full`), nearest first."""
    result = last_result(store, booking_id)
    if result is None or result.outcome != "rejected":
        return []
    return list(result.alternatives)


def receive_phone_booking(store: Store, conn: sqlite3.Connection, change: protocol.Change) -> bool:
    """A booking change for a booking this kiosk does not hold: kept when the township made it by phone for this
    kiosk (its `match`; docs/sync.md, "Phone bookings"), waiting for its resident to type their ID number here.
    False for anything else (a booking of this kiosk's lost from an old backup cannot be rebuilt: it is skipped)."""
    d = change.data
    match = d.get("match")
    if change.op != "upsert" or not isinstance(match, str) or d.get("erased") is True:
        return False
    status = BookingStatus(str(d["status"]))  # ValueError: the engine skips the change
    if status is BookingStatus.REQUESTED:
        raise ValueError("the township never sends requested")
    store.receive_phone_booking(
        conn,
        booking_id=change.entity_id,
        code=str(d["code"]),
        session_id=str(d["session_id"]),
        status=status.value,
        version=int(d.get("version", change.version)),
        message=str(d.get("message") or ""),
        match=match,
    )
    return True
