"""Kill a process that is writing bookings (SIGKILL, many times); every acknowledged booking and its outbox op must
survive, and the file must pass `PRAGMA integrity_check`."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from kiosk.store import Store

WRITER = r"""
import datetime as dt, sys, uuid
from kiosk.booking import Bookings
from cunzhan.identity import id_check_character
from cunzhan.models import Resident, Session
from kiosk.store import Store, utc_now
store = Store.open()
start = utc_now() + dt.timedelta(days=3)
session = Session(str(uuid.uuid4()), "svc", "prov", start, start + dt.timedelta(minutes=30), 100000, 100000)
store.upsert_session(session)
rules = Bookings(store)
n = int(sys.argv[1])
while True:
    n += 1
    first17 = f"110105{1950 + n % 60:04d}0101{n % 1000:03d}"
    number = first17 + id_check_character(first17)
    b = rules.book(session_id=session.id, resident=Resident(str(uuid.uuid4()), f"居民{n}", number))
    print(b.id, flush=True)  # acknowledged: the resident would now be told
"""


def test_sigkill_during_writes_loses_nothing_acknowledged(data_home: Path, keyring_ready: None) -> None:
    Store.open().close()  # create the key once
    rng = random.Random(1234)
    acknowledged: list[str] = []
    env = dict(os.environ)
    for round_ in range(12):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(round_ * 10000)], stdout=subprocess.PIPE, text=True, env=env
        )
        assert proc.stdout is not None
        deadline = time.monotonic() + rng.uniform(0.8, 2.0)
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acknowledged.append(line.strip())
        proc.send_signal(signal.SIGKILL)
        acknowledged.extend(x.strip() for x in proc.stdout.read().splitlines() if x.strip())
        proc.wait()
    assert len(acknowledged) > 50
    store = Store.open()
    assert store.query("PRAGMA integrity_check")[0]["integrity_check"] == "ok"
    booking_ids = {r["id"] for r in store.query("SELECT id FROM bookings")}
    op_ids = {r["entity_id"] for r in store.query("SELECT entity_id FROM outbox WHERE kind = 'create'")}
    missing = [b for b in acknowledged if b not in booking_ids or b not in op_ids]
    assert missing == []
    # Nothing half-written either: every booking has exactly its one create op.
    assert booking_ids == op_ids
    store.close()
