"""Sync over a poor rural link: a kiosk's backlog of bookings pushed through the fault proxy shaped to 20 KB/s with
200 ms added latency, against a real township backend process (SQLite).

- `sync_backlog_s`: 1,000 queued bookings pushed by the sync engine (batches of 200, gzip), start to finish;
- `naive_backlog_s`: the same link, one uncompressed request per booking (as per-record submission systems do);
  the first 100 are measured and the time scaled to 1,000;
- `sync_backlog_speedup`: their ratio (target ≥ 20 x);
- `sync_bytes_per_booking`: bytes on the wire per booking for the batched push, both directions, counted in the
  proxy (request and response heads and bodies; target ≤ 150); `sync_bytes_per_booking_up` the kiosk's share.

Residents are realistic (random names, ID numbers, phones): three random UUIDs per booking go up and two come back,
which is most of the bytes once gzip has removed the JSON's repetition.

Run: `tools/with-services.sh .venv/bin/python bench/bench_sync.py` (needs the keyring that script provides).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BACKLOG = int(os.environ.get("BENCH_BACKLOG", "1000"))
NAIVE_SAMPLE = 100
LINK_BPS = float(os.environ.get("BENCH_LINK_BPS", "20000"))
LATENCY_S = float(os.environ.get("BENCH_LATENCY_S", "0.2"))
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "秀英桂兰玉兰建国志强淑珍德明春梅国华海燕金凤"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _id_number(rng: random.Random) -> str:
    """A valid GB 11643 number with a random county, birth date (1930–1975) and sequence, like real residents'."""
    from cunzhan.identity import id_check_character

    born = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(16000))
    first17 = f"5101{rng.randrange(10, 40):02d}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + id_check_character(first17)


def _sessions(db_url: str, count: int) -> list[str]:
    """Fresh sessions of 500 seats each (its own service and providers), three weeks out."""
    import sqlalchemy as sa

    from township import booking as B
    from township import db
    from township.services import create_session, township_id

    database = db.Database(db_url)
    tid = township_id(database, "demo")
    now = db.naive(db.now_utc())
    service_id = str(uuid.uuid4())
    made = []
    with database.write() as conn:
        db.lock_township(conn, tid)
        conn.execute(
            sa.insert(db.services).values(
                id=service_id,
                township_id=tid,
                kind="clinic",
                name="慢病复诊",
                description="",
                review=False,
                what_to_bring="",
                updated_at=now,
            )
        )
        B.emit_service(conn, service_id)
        providers = []
        for i in range(count):
            pid = str(uuid.uuid4())
            conn.execute(
                sa.insert(db.providers).values(id=pid, township_id=tid, name=f"医生{i}", updated_at=now)
            )
            B.emit_provider(conn, pid)
            providers.append(pid)
    start = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=21)
    for pid in providers:
        made.append(
            create_session(
                database,
                staff_id=None,
                township_slug="demo",
                service_id=service_id,
                provider_id=pid,
                starts_at=start,
                ends_at=start + dt.timedelta(hours=4),
                capacity=500,
            )
        )
    database.dispose()
    return made


class _Kiosk:
    def __init__(self, root: Path, name: str, url: str, code: str) -> None:
        from kiosk.crypto import store_cipher
        from kiosk.store import Store
        from kiosk.sync.enroll import enroll

        self.dir = root / name / "kiosk"
        self.dir.mkdir(parents=True)
        self.store = Store(self.dir / "kiosk.db", store_cipher(str(self.dir)))
        enroll(url, code, name, store=self.store)

    def engine(self, url: str):  # type: ignore[no-untyped-def]
        from kiosk.sync import credentials
        from kiosk.sync.client import TownshipClient
        from kiosk.sync.engine import SyncEngine

        token = credentials.load_token(self.dir)
        return SyncEngine(self.store, TownshipClient(url, token), str(self.store.state("device_id")))

    def book(self, sessions: list[str], count: int, offset: int) -> None:
        from cunzhan.models import Resident
        from kiosk.booking import Bookings

        bookings = Bookings(self.store)
        rng = random.Random(offset)
        villages = ("上坪村", "河口村", "石桥村", "竹林村")
        for i in range(count):
            n = offset + i
            given = rng.randrange(len(GIVEN) // 2) * 2
            name = rng.choice(SURNAMES) + GIVEN[given : given + 2]
            phone = rng.choice((None, f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"))
            bookings.book(
                session_id=sessions[n % len(sessions)],
                resident=Resident(str(uuid.uuid4()), name, _id_number(rng), phone, rng.choice(villages)),
            )


def main() -> int:
    from tests.proxy import FaultPlan, FaultProxy

    work = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    os.environ["CUNZHAN_HOME"] = str(work)
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
        import requests

        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(url + "/v1/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                print("backend did not start", file=sys.stderr)
                return 1
            time.sleep(0.2)
        from township import db
        from township.services import create_enrollment_code

        database = db.Database(db_url)
        codes = [create_enrollment_code(database, "demo") for _ in range(2)]
        database.dispose()
        sessions = _sessions(db_url, 3)
        batched = _Kiosk(work, "batched", url, codes[0])
        naive = _Kiosk(work, "naive", url, codes[1])
        for kiosk in (batched, naive):  # catalogue first, on the good link
            assert kiosk.engine(url).sync_once().ok
        batched.book(sessions, BACKLOG, 0)
        naive.book(sessions, NAIVE_SAMPLE, BACKLOG)

        plan = FaultPlan(delay_s=LATENCY_S, throttle_bps=LINK_BPS, paths=())
        with FaultProxy(port, plan, seed=1) as proxy:
            engine = batched.engine(proxy.url)
            from kiosk.sync.engine import SyncReport

            report = SyncReport()
            started = time.perf_counter()
            engine._push_all(report)  # the push phase of a sync: the whole outbox, in batches
            sync_s = time.perf_counter() - started
            push_bytes = proxy.stats["bytes_up"] + proxy.stats["bytes_down"]
            push_up = proxy.stats["bytes_up"]
            assert report.applied == BACKLOG and batched.store.pending_count() == 0, report

            from kiosk import __version__

            token = __import__("kiosk.sync.credentials", fromlist=["x"]).load_token(naive.dir)
            ops = naive.store.pending_ops(limit=NAIVE_SAMPLE)
            session = requests.Session()
            device = naive.store.state("device_id")
            t0 = time.perf_counter()
            for op in ops:
                body = json.dumps(
                    {"device_id": device, "ops": [op], "app_version": __version__}, ensure_ascii=False
                ).encode()
                r = session.post(
                    proxy.url + "/v1/sync/push",
                    data=body,
                    timeout=60,
                    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                )
                assert r.status_code == 200 and r.json()["results"][0]["outcome"] == "applied", r.text
            naive_s = (time.perf_counter() - t0) * BACKLOG / len(ops)
        print(f"sync_backlog_s: {sync_s:.1f} s")
        print(f"naive_backlog_s: {naive_s:.1f} s")
        print(f"sync_backlog_speedup: {naive_s / sync_s:.1f} x")
        print(f"sync_bytes_per_booking: {push_bytes / BACKLOG:.0f} bytes")
        print(f"sync_bytes_per_booking_up: {push_up / BACKLOG:.0f} bytes")
        return 0
    finally:
        server.terminate()
        server.wait(10)
        log.close()


if __name__ == "__main__":
    raise SystemExit(main())
