"""Enrolment from the staff screen against the REAL township backend (uvicorn on 127.0.0.1): the token lands in the
real keyring and nowhere else, a reused code gets a clear message, and staff audit ops travel with the sync."""

# ruff: noqa: F811 - pytest fixtures imported by name and taken as parameters
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from cunzhan.models import Resident
from kiosk.store import Store, new_id, to_text, utc_now
from kiosk.sync import credentials
from kiosk.sync.enroll import EnrollError
from kiosk.ui.staff.state import staff_state
from kiosk.ui.window import KioskWindow
from tests.integration.conftest import Backend, backend, unique_id_number  # noqa: F401 - `backend` is a fixture
from tests.ui.test_staff_mode import add_staff, click, message, screen, sign_in, type_text, window  # noqa: F401

pytestmark = pytest.mark.usefixtures("keyring_ready")


def _files_text(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())


def test_enrol_from_staff_mode_then_audit_travels_with_sync(
    window: KioskWindow,
    qtbot: QtBot,
    demo_store: Store,
    backend: Backend,
    data_home: Path,
) -> None:
    add_staff(demo_store)
    sign_in(qtbot, window)
    click(qtbot, window, "choice_enrol")
    code = backend.enrollment_code()
    type_text(qtbot, window, "enrol_server", backend.url)
    type_text(qtbot, window, "enrol_code", code)
    type_text(qtbot, window, "enrol_name", "上坪村服务站")
    click(qtbot, window, "choice_enrol")
    state = staff_state(window)
    try:
        assert "登记成功" in message(window), message(window)
        device_id = demo_store.state("device_id")
        number = int(demo_store.state("kiosk_number") or 0)
        assert device_id and number >= 1 and str(number) in message(window)
        token = credentials.load_token(demo_store.path.parent)
        assert token
        demo_store.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert token.encode() not in _files_text(data_home)  # only in the keyring
        audit = demo_store.query("SELECT actor, action, detail FROM audit_log ORDER BY id")
        assert {"actor": "S01", "action": "kiosk_enrolled", "detail": f"kiosk {number}"} in audit

        # The same code again: refused, with a way forward.
        type_text(qtbot, window, "enrol_code", code)
        click(qtbot, window, "choice_enrol")
        assert message(window) == EnrollError("code_refused").message()
        assert demo_store.state("device_id") == device_id  # nothing changed

        # An assisted booking after enrolment; sync now sends it with the staff audit batch.
        session = demo_store.query(
            "SELECT id FROM sessions WHERE starts_at > ? ORDER BY starts_at LIMIT 1",
            (to_text(utc_now() + dt.timedelta(days=1)),),
        )[0]["id"]
        booking = state.desk.book_for(session, Resident(new_id(), "周桂芳", unique_id_number()))
        worker = state.worker
        assert worker is not None and worker.running
        attempts = worker.attempts
        window.show_screen("staff_sync")
        click(qtbot, window, "choice_sync_now")
        assert worker.wait_for_attempts(attempts + 1, 60)
        assert worker.wait_for_attempts(attempts + 2, 60) or demo_store.pending_count() == 0
        states = demo_store.query("SELECT entity, state FROM outbox")
        assert {"entity": "booking", "state": "done"} in states
        assert {r["state"] for r in states if r["entity"] == "audit"} == {"done"}
        assert demo_store.booking(booking.id) is not None
        # The township holds the kiosk's staff actions, each once, without personal data.
        import sqlalchemy as sa

        from township import db

        with backend.database.read() as conn:
            rows = conn.execute(
                sa.select(db.staff_audit).where(db.staff_audit.c.who.like(f"kiosk {number}: %"))
            ).all()
        actions = [(r.who, r.action) for r in rows]
        assert (f"kiosk {number}: S01", "booking_created") in actions
        assert (f"kiosk {number}: S01", "kiosk_enrolled") in actions
        seqs = [r.detail["seq"] for r in rows]
        assert len(seqs) == len(set(seqs))
        assert "周桂芳" not in str([tuple(r) for r in rows])
    finally:
        if state.worker is not None:
            state.worker.stop()
        credentials.delete_token(demo_store.path.parent)


def test_first_staff_member_is_set_up_after_the_township_accepts_the_code(
    window: KioskWindow, qtbot: QtBot, demo_store: Store, backend: Backend
) -> None:
    """A kiosk with no staff: enrolling with a real code from the township is what allows the first set-up."""
    from kiosk.ui.staff import open_staff_mode
    from tests.ui.test_staff_mode import set_up_member

    open_staff_mode(window)
    assert screen(window).name == "staff_pin"
    click(qtbot, window, "choice_enrol")
    assert screen(window).name == "staff_enrol"
    type_text(qtbot, window, "enrol_server", backend.url)
    type_text(qtbot, window, "enrol_code", backend.enrollment_code())
    click(qtbot, window, "choice_enrol")
    state = staff_state(window)
    try:
        assert screen(window).name == "staff_setup", message(window)
        assert "登记成功" in message(window)
        assert screen(window).title() == "登记好了，请设置第一位工作人员"
        assert "乡镇已接受登记码" in screen(window).announcement()
        window.grab().save("/tmp/staff7-first_staff.png")
        set_up_member(qtbot, window, "S01", "李春梅", "482915")
        assert screen(window).name == "staff_home"
        assert state.member is not None and state.member.staff_id == "S01"
        audit = demo_store.query("SELECT actor, action, detail FROM audit_log ORDER BY id")
        assert {"actor": "enrolment", "action": "staff_added", "detail": "S01"} in audit
        assert any(a["actor"] == "enrolment" and a["action"] == "kiosk_enrolled" for a in audit)
        # Only once: after signing out, the set-up screen needs the PIN again.
        click(qtbot, window, "choice_sign_out")
        window.show_screen("staff_setup")
        assert screen(window).name == "staff_pin"
        window.show_screen("staff_enrol")
        assert screen(window).name == "staff_pin"
    finally:
        if state.worker is not None:
            state.worker.stop()
        credentials.delete_token(demo_store.path.parent)
