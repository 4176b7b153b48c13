"""A call from the console to the waiting room (#16), online: `call_to_display_s`.

A real township backend process on 127.0.0.1 (SQLite), one enrolled kiosk with CALLS residents checked in (numbers
1…N, pushed), its waiting-room display (offscreen Qt) fed by the real long-poll listener (`kiosk.sync.calls`). Each
round a signed-in console user presses 叫下一位 (the roster's real CSRF-checked POST); the time is taken from just
before the POST until the display widget shows "请 N 号 …". Between rounds the listener is given a moment to be held
again (as it would be in a waiting room, where calls come minutes apart). Prints the median (target ≤ 5 s) and the
slowest round.

Run: `tools/with-services.sh .venv/bin/python bench/bench_call.py` (needs the keyring that script provides).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CALLS = int(os.environ.get("BENCH_CALLS", "15"))
PASSWORD = "correct-horse-battery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _session(db_url: str) -> str:
    """A session starting in 30 minutes with its own service and provider (check-in is open)."""
    import sqlalchemy as sa

    from township import booking as B
    from township import db
    from township.services import create_session, township_id

    database = db.Database(db_url)
    tid = township_id(database, "demo")
    now = db.naive(db.now_utc())
    service_id, provider_id = str(uuid.uuid4()), str(uuid.uuid4())
    with database.write() as conn:
        db.lock_township(conn, tid)
        conn.execute(
            sa.insert(db.services).values(
                id=service_id,
                township_id=tid,
                kind="clinic",
                name="远程问诊",
                description="",
                review=False,
                what_to_bring="",
                updated_at=now,
            )
        )
        B.emit_service(conn, service_id)
        conn.execute(
            sa.insert(db.providers).values(id=provider_id, township_id=tid, name="赵医生", updated_at=now)
        )
        B.emit_provider(conn, provider_id)
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=30)
    made = create_session(
        database,
        staff_id=None,
        township_slug="demo",
        service_id=service_id,
        provider_id=provider_id,
        starts_at=start,
        ends_at=start + dt.timedelta(hours=3),
        capacity=CALLS + 5,
        room="远程诊室二",
    )
    database.dispose()
    return made


def _wait_for(url: str, server: subprocess.Popen[bytes]) -> bool:
    import requests

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if requests.get(url + "/v1/health", timeout=1).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.2)
    return False


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-call-"))
    os.environ["CUNZHAN_HOME"] = str(work)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    port = _free_port()
    db_url = f"sqlite:///{work / 'township.db'}"
    log = (work / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "township", "serve", "--db", db_url, "--port", str(port), "--demo"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        if not _wait_for(url, server):
            print("backend did not start", file=sys.stderr)
            return 1
        return _measure(url, db_url, work)
    finally:
        server.terminate()
        server.wait(10)
        log.close()


def _measure(url: str, db_url: str, work: Path) -> int:
    from PySide6.QtWidgets import QApplication

    from cunzhan.models import Resident
    from kiosk.accessibility.api import CaptionOnlySpeech, NoVoice
    from kiosk.booking import Bookings
    from kiosk.crypto import store_cipher
    from kiosk.store import Store
    from kiosk.sync import credentials
    from kiosk.sync.client import TownshipClient
    from kiosk.sync.engine import SyncEngine
    from kiosk.sync.enroll import enroll
    from kiosk.ui.app import build_window
    from kiosk.ui.context import KioskContext
    from kiosk.ui.display import open_display, waiting_room
    from kiosk.ui.ops import SyncOps
    from tests.browser.console_client import ConsoleClient
    from tests.integration.conftest import valid_id_number
    from township import db
    from township.services import create_enrollment_code, create_staff

    database = db.Database(db_url)
    code = create_enrollment_code(database, "demo")
    create_staff(database, "demo", "yisheng", "admin", PASSWORD)
    database.dispose()
    session = _session(db_url)

    folder = work / "kiosk"
    folder.mkdir()
    store = Store(folder / "kiosk.db", store_cipher(str(folder)))
    enroll(url, code, "候诊室终端", store=store)
    engine = SyncEngine(
        store, TownshipClient(url, credentials.load_token(folder)), str(store.state("device_id"))
    )
    assert engine.sync_once().ok
    rules = Bookings(store)
    booked = [
        rules.book(session_id=session, resident=Resident(str(uuid.uuid4()), "居民", valid_id_number(n)))
        for n in range(CALLS)
    ]
    assert engine.sync_once().ok
    for booking in booked:
        rules.check_in(booking.id)
    assert engine.sync_once().ok and store.pending_count() == 0
    engine.client.close()

    app = QApplication.instance() or QApplication([])
    ctx = KioskContext(store=store, speech=CaptionOnlySpeech(), voice=NoVoice("none"), ops=SyncOps())
    window = build_window(ctx)
    display = open_display(window, speech=CaptionOnlySpeech(), listen=False, full_screen=False)
    display.resize(1920, 1080)
    room = waiting_room(window)
    room.listen()
    listener = room.listener
    assert listener is not None and listener.wait_for_polls(1, timeout=30)

    console = ConsoleClient(url)
    assert console.sign_in("yisheng", PASSWORD).status_code == 200
    assert console.get("/console/roster").status_code == 200
    times = []
    for number in range(1, CALLS + 1):
        settle = time.monotonic() + 0.5  # the listener's next poll is held at the backend again
        while time.monotonic() < settle:
            app.processEvents()
            time.sleep(0.01)
        wanted = f"请 {number} 号"
        started = time.perf_counter()
        response = console.post(f"/console/roster/sessions/{session}/next", allow_redirects=False)
        assert response.status_code in (302, 303), response.status_code
        deadline = time.monotonic() + 30
        while not display.board.current_text().startswith(wanted):
            if time.monotonic() > deadline:
                print(f"call {number} never reached the display", file=sys.stderr)
                return 1
            app.processEvents()
            time.sleep(0.002)
        times.append(time.perf_counter() - started)
        console.get("/console/roster")  # the page after the redirect: a fresh CSRF token
    room.stop()
    display.close()
    window.shutdown()
    store.close()
    print(f"call_to_display_s: {statistics.median(times):.2f} s")
    print(f"call_to_display_max_s: {max(times):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
