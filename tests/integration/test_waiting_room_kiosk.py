"""The day of the session end to end, kiosk side (#16), against a REAL township backend on 127.0.0.1: a kiosk books and
checks residents in (numbers given offline-safe by the kiosk, stored by the township), a call made in the console
reaches the kiosk's waiting-room display through the real long-poll listener within seconds (offscreen Qt), and the
staff's calls made while the link is down are shown at once, queued, and reach the township's roster later."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pytestqt.qtbot import QtBot

from kiosk.booking import Bookings
from kiosk.sync.calls import CallListener
from kiosk.ui.app import build_window
from kiosk.ui.context import KioskContext
from kiosk.ui.display import DisplayWindow, open_display, waiting_room
from kiosk.ui.ops import SyncOps
from kiosk.ui.window import KioskWindow
from tests.browser.console_client import STAFF_PASSWORD, ConsoleClient
from tests.integration.conftest import Backend, unique_id_number
from tests.integration.sync_kiosks import KioskSim
from tests.proxy import FaultPlan, FaultProxy
from tests.ui.conftest import RecordingSpeech
from township import db

pytestmark = pytest.mark.usefixtures("keyring_ready")

ROOM = "远程诊室二"


def _checked_in_kiosk(
    backend: Backend, root: Path, name: str, residents: int
) -> tuple[KioskSim, str, list[str]]:
    """An enrolled kiosk with `residents` booked and checked in (pushed) for a fresh session starting soon."""
    kiosk = KioskSim(root, name)
    kiosk.enroll(backend.url, backend.enrollment_code())
    kiosk.store.set_setting("room_name", ROOM, actor="test")  # the township gives the session no room
    session = backend.new_session(capacity=10, starts_in=dt.timedelta(minutes=30))
    engine = kiosk.engine()
    kiosk.sync_until_ok(engine)
    rules = Bookings(kiosk.store)
    ids = []
    for _ in range(residents):
        booking = kiosk.book(session, unique_id_number())
        assert booking is not None
        ids.append(booking.id)
    kiosk.sync_until_ok(engine)  # confirmed by the township
    for booking_id in ids:
        rules.check_in(booking_id)
    kiosk.sync_until_ok(engine)
    return kiosk, session, ids


@pytest.fixture
def window(qapp: object, qtbot: QtBot) -> Iterator[Any]:
    made: list[KioskWindow] = []

    def make(kiosk: KioskSim) -> tuple[KioskWindow, DisplayWindow, RecordingSpeech]:
        ctx = KioskContext(store=kiosk.store, speech=RecordingSpeech(), voice=_no_voice(), ops=SyncOps())
        win = build_window(ctx)
        win.resize(1280, 800)
        win.go_home()
        made.append(win)
        speech = RecordingSpeech()
        display = open_display(win, speech=speech, listen=False, full_screen=False)
        display.resize(1920, 1080)
        qtbot.waitExposed(display)
        return win, display, speech

    yield make
    for win in made:
        waiting_room(win).stop()
        for display in list(waiting_room(win).displays):
            display.close()
        win.shutdown()
        win.deleteLater()


def _no_voice() -> Any:
    from kiosk.accessibility.api import NoVoice

    return NoVoice("none")


def _signed_in(backend: Backend) -> ConsoleClient:
    username = f"hushi{time.monotonic_ns() % 10**8}"
    backend.create_staff(username, "admin", STAFF_PASSWORD)
    client = ConsoleClient(backend.url)
    assert client.sign_in(username).status_code == 200
    assert client.get("/console/roster").status_code == 200  # the page, and its CSRF token
    return client


def test_a_console_call_reaches_the_display_within_seconds(
    backend: Backend, tmp_path: Path, window: Any, qtbot: QtBot
) -> None:
    kiosk, session, ids = _checked_in_kiosk(backend, tmp_path, "room1", 2)
    with backend.database.read() as conn:
        numbers = dict(
            conn.execute(
                sa.select(db.bookings.c.id, db.bookings.c.queue_number).where(db.bookings.c.id.in_(ids))
            ).all()
        )
    assert numbers == {ids[0]: 1, ids[1]: 2}  # the kiosk's numbers, kept by the township
    win, display, speech = window(kiosk)
    room = waiting_room(win)
    room.listen(wait_s=25)
    listener = room.listener
    assert listener is not None and listener.wait_for_polls(1, timeout=30)  # caught up; the next poll is held
    console = _signed_in(backend)
    qtbot.wait(300)
    started = time.perf_counter()
    response = console.post(f"/console/roster/sessions/{session}/next", allow_redirects=False)
    assert response.status_code in (302, 303), response.text
    qtbot.waitUntil(lambda: display.board.current_text() == f"请 1 号 到 {ROOM}", timeout=5000)
    took = time.perf_counter() - started
    assert took <= 5.0
    assert speech.said[-1] == f"请 1 号到{ROOM}。请 1 号到{ROOM}。"
    # The call also marks the booking called here: the staff's 叫下一位 goes on to number 2.
    # (Marked through the window's write thread: wait for it, a busy machine may take a moment.)
    qtbot.waitUntil(
        lambda: [called for _b, _n, called in kiosk.store.waiting_room(session)] == ["call", None],
        timeout=5000,
    )
    nxt = Bookings(kiosk.store).call(session, "call")
    assert nxt is not None and nxt.queue_number == 2
    after = int(kiosk.store.state("calls_after") or 0)
    assert after > 0  # remembered: a restarted listener does not announce it again
    room.stop()
    again: list[Any] = []
    fresh = CallListener(kiosk.store.path, on_calls=again.extend, wait_s=1).start()
    try:
        assert fresh.wait_for_polls(1, timeout=30)
    finally:
        fresh.stop(timeout=5)
    assert again == []
    kiosk.close()


def test_staff_calls_made_offline_show_at_once_and_reach_the_roster_later(
    backend: Backend, tmp_path: Path, window: Any, qtbot: QtBot
) -> None:
    kiosk, session, _ids = _checked_in_kiosk(backend, tmp_path, "room2", 2)
    port = int(backend.url.rsplit(":", 1)[1])
    win, display, speech = window(kiosk)
    with FaultProxy(port, FaultPlan(drop_request=1.0, paths=("/v1/",)), seed=5) as proxy:
        kiosk.store.set_state("township_url", proxy.url)
        room = waiting_room(win)
        room.listen(wait_s=2, retry_cap_s=0.2)
        listener = room.listener
        assert listener is not None and listener.wait_for_polls(2, timeout=30)
        assert listener.failures >= 1 and listener.running  # offline: it keeps trying, it does not stop
        rules = Bookings(kiosk.store)
        for action in ("call", "skip", "call"):
            call = rules.call(session, action)  # type: ignore[arg-type]
            assert call is not None
            room.show(call)
        assert display.board.current_text() == f"请 2 号 到 {ROOM}"  # shown at once, offline
        assert "1 号 过号" in display.board.earlier_line.text()
        engine = kiosk.engine(proxy.url)
        report = engine.sync_once()
        assert report.error is not None  # the link is down
        assert sum(op["entity"] == "call" for op in kiosk.store.pending_ops()) == 3
        proxy.plan = FaultPlan()  # the link comes back
        kiosk.sync_until_ok(engine)
        assert kiosk.store.pending_count() == 0
        polls = listener.polls
        assert listener.wait_for_polls(polls + 1, timeout=30)
        assert listener.failures == 0
    with backend.database.read() as conn:
        rows = conn.execute(
            sa.select(db.calls.c.queue_number, db.calls.c.action, db.calls.c.source)
            .where(db.calls.c.session_id == session)
            .order_by(db.calls.c.seq)
        ).all()
    assert [tuple(r) for r in rows] == [(1, "call", "kiosk"), (1, "skip", "kiosk"), (2, "call", "kiosk")]
    assert len(speech.said) == 2  # the kiosk's own calls are not sent back to be announced twice
    room.stop()
    kiosk.close()


def test_a_service_numbered_in_booking_order_calls_who_booked_first(backend: Backend, tmp_path: Path) -> None:
    """The service setting (#16): an admin sets 'In booking order' in the console; the kiosk learns it at its pull and
    gives each resident, whenever they arrive, the number of their place in booking order; the roster's 叫下一位
    calls who booked first."""
    kiosk = KioskSim(tmp_path, "order")
    kiosk.enroll(backend.url, backend.enrollment_code())
    session = backend.new_session(capacity=10, starts_in=dt.timedelta(minutes=30))
    with backend.database.read() as conn:
        service = conn.execute(
            sa.select(db.services)
            .join(db.sessions, db.sessions.c.service_id == db.services.c.id)
            .where(db.sessions.c.id == session)
        ).one()
    admin = _signed_in(backend)
    admin.get("/console/services")

    def set_order(order: str) -> None:
        form = {"service_id": service.id, "name": service.name, "kind": service.kind, "active": "1"}
        form |= {"review": "1"} if service.review else {}
        saved = admin.post("/console/services", form | {"queue_order": order})
        assert saved.status_code == 200 and "Service saved" in saved.text, saved.text

    refused = admin.post(
        "/console/services", {"service_id": service.id, "name": service.name, "queue_order": "x"}
    )
    assert refused.status_code == 400 and "how the waiting room numbers residents" in refused.text
    set_order("booking")
    try:
        engine = kiosk.engine()
        kiosk.sync_until_ok(engine)
        known = kiosk.store.service(service.id)
        assert known is not None and known.queue_order.value == "booking"
        first, second, third = (kiosk.book(session, unique_id_number()) for _ in range(3))
        assert first is not None and second is not None and third is not None
        kiosk.sync_until_ok(engine)
        rules = Bookings(kiosk.store)
        for booking in (third, first, second):  # they arrive in another order than they booked
            rules.check_in(booking.id)
        numbers = [kiosk.store.queue_number(b.id) for b in (first, second, third)]
        assert numbers == [1, 2, 3]
        kiosk.sync_until_ok(engine)
        with backend.database.read() as conn:
            kept = dict(
                conn.execute(
                    sa.select(db.bookings.c.id, db.bookings.c.queue_number).where(
                        db.bookings.c.session_id == session
                    )
                ).all()
            )
        assert kept == {first.id: 1, second.id: 2, third.id: 3}
        called = admin.post(f"/console/roster/sessions/{session}/next", allow_redirects=False)
        assert called.status_code in (302, 303), called.text
        with backend.database.read() as conn:
            call = conn.execute(sa.select(db.calls).where(db.calls.c.session_id == session)).one()
        assert (call.booking_id, call.queue_number) == (first.id, 1)  # who booked first, though here second
    finally:
        set_order("check_in")  # the module's backend is shared
        kiosk.close()
