"""A search that found no open session (#18): the day screen says so, and the kiosk queues one `demand`/`no_session`
op per service and visit, with no personal data (the township counts it in the needs profile)."""

from __future__ import annotations

from typing import Any

from cunzhan import demo
from tests.ui.helpers import touch

GP = demo.stable_id("service", "gp")


def test_no_open_session_is_recorded_once_without_personal_data(make_kiosk: Any, demo_store: Any) -> None:
    demo_store.set_setting("village", "上坪村")
    with demo_store.transaction() as conn:
        conn.execute("UPDATE sessions SET status = 'closed' WHERE service_id = ?", (GP,))
    kiosk = make_kiosk("standard")
    touch(kiosk, "choice_clinic")
    touch(kiosk, f"choice_{GP}")
    if kiosk.current.name == "provider":
        touch(kiosk, "choice_any")
    assert kiosk.current.name == "day" and "两周" in kiosk.current.message
    kiosk.back()
    kiosk.show_screen("day")  # back and forward again in the same visit: counted once
    ops = [o for o in demo_store.pending_ops() if o["entity"] == "demand"]
    assert len(ops) == 1 and ops[0]["kind"] == "no_session"
    payload = ops[0]["payload"]
    assert payload["service_id"] == GP and payload["village"] == "上坪村" and payload["at"]
    assert set(payload) == {"service_id", "village", "wanted_at", "at"}  # nothing about the resident
    kiosk.end_visit()
    kiosk.go_home()
    touch(kiosk, "choice_clinic")
    touch(kiosk, f"choice_{GP}")
    if kiosk.current.name == "provider":
        touch(kiosk, "choice_any")
    assert (
        len([o for o in demo_store.pending_ops() if o["entity"] == "demand"]) == 2
    )  # a new visit, a new search
