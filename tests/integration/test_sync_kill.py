"""A kiosk process SIGKILLed in the middle of syncing, again and again, loses nothing and applies nothing twice."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from cunzhan.models import BookingStatus
from tests.integration.conftest import Backend, unique_id_number
from tests.integration.sync_kiosks import KioskSim
from tests.proxy import FaultPlan, FaultProxy

ROOT = Path(__file__).resolve().parents[2]


def _child(data_dir: Path, url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.sync_kiosks", "sync", str(data_dir), url, "4"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )


def _book_some(tmp_path: Path, sessions: list[str], n: int) -> list[str]:
    kiosk = KioskSim(tmp_path, "killed")
    try:
        made = []
        for i in range(n):
            booking = kiosk.book(sessions[i % len(sessions)], unique_id_number())
            assert booking is not None
            made.append(booking.id)
        return made
    finally:
        kiosk.close()


@pytest.mark.usefixtures("keyring_ready")
def test_kiosk_killed_mid_sync(backend: Backend, tmp_path: Path) -> None:
    sessions = [backend.new_session(capacity=200, starts_in=dt.timedelta(days=d)) for d in (4, 5)]
    kiosk = KioskSim(tmp_path, "killed")
    kiosk.enroll(backend.url, backend.enrollment_code())
    kiosk.sync_until_ok(kiosk.engine())
    device = kiosk.store.state("device_id")
    kiosk.close()
    port = int(backend.url.rsplit(":", 1)[1])
    rng = random.Random(7)
    made: list[str] = []
    kills = 0
    with FaultProxy(port, FaultPlan(delay_s=0.04, drop_response=0.1, paths=("/v1/",)), seed=11) as proxy:
        for _round in range(5):
            made += _book_some(tmp_path, sessions, 12)
            child = _child(kiosk.data_dir, proxy.url)
            seen = proxy.stats["requests"]
            target = seen + rng.randint(1, 4)
            deadline = time.monotonic() + 60
            while proxy.stats["requests"] < target and child.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.06))
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
                kills += 1
            child.wait(30)
        assert kills >= 3, "the kiosk was never caught mid-sync"
        # Restarted for good: it finishes.
        child = _child(kiosk.data_dir, proxy.url)
        out, err = child.communicate(timeout=180)
        assert child.returncode == 0, err[-2000:]
        assert "synced" in out

    kiosk = KioskSim(tmp_path, "killed")
    try:
        assert kiosk.store.query("PRAGMA integrity_check")[0]["integrity_check"] == "ok"
        assert kiosk.store.pending_count() == 0
        from township import db

        with backend.database.read() as conn:
            rows = {
                r.id: r for r in conn.execute(sa.select(db.bookings).where(db.bookings.c.device_id == device))
            }
            results = (
                conn.execute(sa.select(db.op_results.c.op_id).where(db.op_results.c.device_id == device))
                .scalars()
                .all()
            )
        # No booking lost, each exactly once, each confirmed (plenty of seats), same status on both sides.
        assert set(made) <= set(rows)
        assert len(rows) == len(made)
        assert all(rows[b].status == "confirmed" for b in made)
        assert all(kiosk.store.booking(b).status is BookingStatus.CONFIRMED for b in made)  # type: ignore[union-attr]
        # Every op answered once, and stored once.
        ops = kiosk.all_ops()
        assert len(results) == len(set(results)) == len(ops)
        assert all(op["state"] == "done" for op in ops)
    finally:
        kiosk.close()
