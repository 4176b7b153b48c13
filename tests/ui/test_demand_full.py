"""A full time the resident wanted (#18): touching it queues one `demand`/`slot_full` op per session and visit,
with no personal data (the township counts it in the needs profile); a time that filled up while the resident was
choosing counts the same way (tests/ui/test_bad_input.py)."""

from __future__ import annotations

from typing import Any

from cunzhan import demo
from tests.ui.helpers import first_open_choice, touch

GP = demo.stable_id("service", "gp")


def _full_ops(store: Any) -> list[dict[str, Any]]:
    return [o for o in store.pending_ops() if o["entity"] == "demand" and o["kind"] == "slot_full"]


def _to_times(kiosk: Any) -> str:
    """Touch through to the times of the first open GP day; returns the first open time's session id."""
    touch(kiosk, "choice_clinic")
    touch(kiosk, f"choice_{GP}")
    touch(kiosk, first_open_choice(kiosk))
    assert kiosk.current.name == "time"
    return first_open_choice(kiosk).removeprefix("choice_")


def test_a_full_time_touched_is_counted_once_per_visit_without_personal_data(
    make_kiosk: Any, demo_store: Any
) -> None:
    demo_store.set_setting("village", "上坪村")
    kiosk = make_kiosk("standard")
    session_id = _to_times(kiosk)
    with demo_store.transaction() as conn:  # taken by others since the screen was drawn
        conn.execute("UPDATE sessions SET seats_left = 0 WHERE id = ?", (session_id,))
    assert not _full_ops(demo_store)
    touch(kiosk, f"choice_{session_id}")
    assert kiosk.current.name == "time" and session_id not in kiosk.ctx.visit.alternatives
    touch(kiosk, "choice_whole_day")
    assert [c.kind for c in kiosk.current.shown_choices if c.key == session_id] == ["full"]
    touch(kiosk, f"choice_{session_id}")  # shown full now, touched again: still one wish of this visit
    ops = _full_ops(demo_store)
    assert len(ops) == 1
    payload = ops[0]["payload"]
    assert payload["session_id"] == session_id and payload["village"] == "上坪村" and payload["at"]
    assert set(payload) == {"session_id", "village", "at"}  # nothing about the resident
    assert not [o for o in demo_store.pending_ops() if o["entity"] == "demand" and o["kind"] != "slot_full"]

    kiosk.end_visit()
    kiosk.go_home()
    _to_times(kiosk)
    touch(kiosk, f"choice_{session_id}")
    assert len(_full_ops(demo_store)) == 2  # a new visit, a new resident's wish


def test_an_open_time_touched_counts_nothing(make_kiosk: Any, demo_store: Any) -> None:
    kiosk = make_kiosk("standard")
    session_id = _to_times(kiosk)
    touch(kiosk, f"choice_{session_id}")
    assert kiosk.current.name == "who"
    assert not [o for o in demo_store.pending_ops() if o["entity"] == "demand"]
