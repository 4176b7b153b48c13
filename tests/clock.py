"""A fixed time of day for tests that mean "a session later today": at 23:40 Beijing time, "in 30 minutes" is
tomorrow, and a test built on the wall clock fails at night (it did, in CI). Such a test uses `this_morning()` as its
clock, for the kiosk's screens (`KioskContext.clock`), the staff desk and the booking rules (`now=`)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

KIOSK_ZONE = ZoneInfo("Asia/Shanghai")  # the kiosk's default `timezone` setting


def this_morning(hour: int = 9) -> dt.datetime:
    """Today in the kiosk's zone at `hour`:00, as an aware UTC time."""
    today = dt.datetime.now(KIOSK_ZONE).date()
    return dt.datetime.combine(today, dt.time(hour), tzinfo=KIOSK_ZONE).astimezone(dt.UTC)
