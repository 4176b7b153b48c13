"""Kiosk store figures (issue 2).

- `booking_write_ms_median`: one booking + its outbox op, committed with synchronous=FULL (fsync), median of 200;
  printed beside `sqlite_fsync_commit_ms_median`, a bare one-row commit on the same file system in the same run.
- `day_listing_ms_median`: listing one day's open sessions of a service with 100,000 sessions in the store.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cunzhan.fieldcrypto import FieldCipher
from cunzhan.identity import id_check_character
from cunzhan.models import Resident, Session
from kiosk.booking import Bookings
from kiosk.store import Store, utc_now


def _id_number(n: int) -> str:
    first17 = f"110105{1940 + n % 60:04d}0101{n % 1000:03d}"
    return first17 + id_check_character(first17)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cipher = FieldCipher.from_master(os.urandom(32))  # the keyring is not what is being measured here
        store = Store(Path(tmp) / "kiosk.db", cipher)

        # Baseline: a bare fsync'd one-row commit on the same disk.
        raw = sqlite3.connect(Path(tmp) / "baseline.db", isolation_level=None)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=FULL")
        raw.execute("CREATE TABLE t (x TEXT)")
        base = []
        for i in range(200):
            t0 = time.perf_counter()
            raw.execute("BEGIN IMMEDIATE")
            raw.execute("INSERT INTO t VALUES (?)", (str(i),))
            raw.execute("COMMIT")
            base.append((time.perf_counter() - t0) * 1000)

        start = utc_now() + dt.timedelta(days=2)
        session = Session(
            str(uuid.uuid4()), "svc", "prov", start, start + dt.timedelta(minutes=30), 10**6, 10**6
        )
        store.upsert_session(session)
        rules = Bookings(store)
        writes = []
        for i in range(200):
            resident = Resident(str(uuid.uuid4()), f"居民{i}", _id_number(i), "13812345678")
            t0 = time.perf_counter()
            rules.book(session_id=session.id, resident=resident)
            writes.append((time.perf_counter() - t0) * 1000)

        # 100,000 sessions: 8 services × ~35 a day × a year.
        services = [f"svc-{k}" for k in range(8)]
        day0 = utc_now().replace(hour=0, minute=0, second=0, microsecond=0)
        rows = []
        for i in range(100_000):
            begins = day0 + dt.timedelta(minutes=15 * i // 3)
            rows.append(
                Session(
                    str(uuid.uuid4()),
                    services[i % 8],
                    "prov",
                    begins,
                    begins + dt.timedelta(minutes=30),
                    6,
                    (i % 7),
                )
            )
        store.upsert_sessions(rows)
        listings = []
        for d in range(50):
            day = day0 + dt.timedelta(days=3 * d)
            t0 = time.perf_counter()
            found = store.sessions_between(
                day, day + dt.timedelta(days=1), service_id="svc-3", open_only=True
            )
            listings.append((time.perf_counter() - t0) * 1000)
            assert found is not None
        total = store.query("SELECT count(*) AS n FROM sessions")[0]["n"]
        store.close()

    print(f"sqlite_fsync_commit_ms_median: {statistics.median(base):.3f} ms")
    print(f"booking_write_ms_median: {statistics.median(writes):.3f} ms")
    print(f"booking_write_ratio_to_bare_commit: {statistics.median(writes) / statistics.median(base):.2f} x")
    print(f"day_listing_ms_median: {statistics.median(listings):.3f} ms")
    print(f"day_listing_sessions_in_store: {total} sessions")


if __name__ == "__main__":
    main()
