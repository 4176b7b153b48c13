"""Read what the township answered about a booking, for the screens (no network, no Qt)."""

from __future__ import annotations

import json

from cunzhan import protocol
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
