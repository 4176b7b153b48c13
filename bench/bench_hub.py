"""`hub_push_ops_per_s`: 200 kiosks pushing booking ops at once to one township backend, on SQLite and PostgreSQL.

The backend runs as a real `python -m township serve` process on 127.0.0.1 with 4 townships (a county backend; kiosk
numbers are two digits, so at most 99 kiosks per township); 200 enrolled kiosks (threads, one HTTP connection each,
loopback only) each send one push of 3 booking creates, all released together (a county's kiosks coming back after
an outage), retrying after 503 as kiosks do. The figure is ops with a final result (applied or
rejected) per second of wall time, from release to the last answer. Run with `tools/with-services.sh .venv/bin/python
bench/bench_hub.py` (PostgreSQL comes from $CUNZHAN_TEST_PG_URL; without it only SQLite is measured).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KIOSKS = 200
TOWNSHIPS = 4  # a county backend: 4 townships × 50 kiosks
OPS_PER_KIOSK = 3  # one push each, all at once: every kiosk of a county coming back after an outage
SESSIONS = 10
CAPACITY = 500


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _id_number(n: int) -> str:
    from kiosk.identity import id_check_character

    day = dt.date(1940, 1, 1) + dt.timedelta(days=n // 1000 % 20000)
    first17 = f"110101{day:%Y%m%d}{n % 1000:03d}"
    return first17 + id_check_character(first17)


def _prepare(db_url: str) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """Schema, TOWNSHIPS townships (kiosk numbers are two digits: at most 99 kiosks per township) with bookable
    sessions, and one enrolment code per kiosk, written straight to the database."""
    import sqlalchemy as sa

    from township import booking as B
    from township import db
    from township.services import create_enrollment_code, create_session, create_township

    db.migrate(db_url)
    database = db.Database(db_url)
    sessions: dict[str, list[str]] = {}
    codes: list[tuple[str, str]] = []
    try:
        start = dt.datetime.now(dt.UTC) + dt.timedelta(days=20)
        for t in range(TOWNSHIPS):
            slug = f"hub{t}"
            town = create_township(database, slug, f"镇 {t}")
            service, provider = str(uuid.uuid4()), str(uuid.uuid4())
            now = db.naive(db.now_utc())
            with database.write() as conn:
                db.lock_township(conn, town)
                conn.execute(sa.insert(db.services).values(id=service, township_id=town, kind="clinic",
                                                           name="全科门诊", updated_at=now))
                conn.execute(sa.insert(db.providers).values(id=provider, township_id=town, name="医生",
                                                            updated_at=now))
                B.emit_service(conn, service)
                B.emit_provider(conn, provider)
            sessions[slug] = [create_session(database, staff_id=None, township_slug=slug, service_id=service,
                                             provider_id=provider, starts_at=start + dt.timedelta(hours=i),
                                             ends_at=start + dt.timedelta(hours=i, minutes=30),
                                             capacity=CAPACITY) for i in range(SESSIONS)]
            codes += [(slug, create_enrollment_code(database, slug)) for _ in range(KIOSKS // TOWNSHIPS)]
    finally:
        database.dispose()
    return sessions, codes


def _serve(db_url: str, home: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = os.environ | {"CUNZHAN_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "township", "serve", "--db", db_url, "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/v1/health", timeout=2).status_code == 200:
                return proc, url
        except requests.ConnectionError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("backend did not start")


def _measure(db_url: str, home: Path) -> tuple[float, int, int]:
    sessions, codes = _prepare(db_url)
    proc, url = _serve(db_url, home)
    try:
        def enrol(slug_code: tuple[str, str]) -> dict[str, Any]:
            for _attempt in range(20):
                response = requests.post(url + "/v1/enroll", timeout=120, json={
                    "enrollment_code": slug_code[1], "kiosk_name": "bench", "app_version": "bench"})
                if response.status_code == 201:
                    return dict(response.json()) | {"slug": slug_code[0]}
                time.sleep(1)
            raise RuntimeError(f"enrolment failed: {response.status_code}")

        with ThreadPoolExecutor(max_workers=20) as pool:
            devices = list(pool.map(enrol, codes))
        barrier = threading.Barrier(KIOSKS + 1)

        def kiosk(index: int) -> tuple[int, int]:
            """One push of OPS_PER_KIOSK booking creates, retried after 503/429 as a kiosk would."""
            device = devices[index]
            headers = {"Authorization": f"Bearer {device['device_token']}"}
            ops = []
            for seq in range(1, OPS_PER_KIOSK + 1):
                n = index * OPS_PER_KIOSK + seq
                ops.append({"op_id": str(uuid.uuid4()), "device_seq": seq, "entity": "booking",
                            "entity_id": str(uuid.uuid4()), "kind": "create", "base_version": None,
                            "created_at": dt.datetime.now(dt.UTC).isoformat(), "payload": {
                                "session_id": sessions[device["slug"]][n % SESSIONS],
                                "code": f"{n:09d}",
                                "resident": {"id": str(uuid.uuid4()), "name": "居民", "id_number": _id_number(n),
                                             "phone": None, "village": None},
                                "for_dependent": None, "channel": "self", "staff_id": None,
                                "lease": False, "waitlist": False}})
            retries = 0
            with requests.Session() as http:
                barrier.wait(timeout=300)
                while True:
                    response = http.post(url + "/v1/sync/push", json={"device_id": device["device_id"],
                                                                      "ops": ops}, headers=headers, timeout=300)
                    if response.status_code == 200:
                        return len(response.json()["results"]), retries
                    if response.status_code not in (429, 503) or retries >= 20:
                        return 0, retries
                    retries += 1
                    time.sleep(float(response.headers.get("Retry-After", "1")))

        with ThreadPoolExecutor(max_workers=KIOSKS) as pool:
            futures = [pool.submit(kiosk, i) for i in range(KIOSKS)]
            barrier.wait(timeout=300)
            started = time.monotonic()
            outcomes = [f.result() for f in futures]
            elapsed = time.monotonic() - started
        total = sum(d for d, _r in outcomes)
        retries = sum(r for _d, r in outcomes)
        return total / elapsed, total, retries
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _fresh_pg(admin_url: str) -> tuple[str, Any]:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    name = f"cz_bench_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), drop


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-hub-") as tmp:
        home = Path(tmp)
        rate, total, errors = _measure(f"sqlite:///{home / 'hub.db'}", home)
        print(f"hub_push_ops_per_s_sqlite: {rate:.0f} ops/s", flush=True)
        print(f"# sqlite: {total} ops from {KIOSKS} kiosks, {errors} retries after 503", flush=True)
        admin = os.environ.get("CUNZHAN_TEST_PG_URL")
        if not admin:
            print("# postgresql: CUNZHAN_TEST_PG_URL not set (run under tools/with-services.sh)", flush=True)
            return 0
        url, drop = _fresh_pg(admin)
        try:
            rate, total, errors = _measure(url, home)
        finally:
            drop()
        print(f"hub_push_ops_per_s_postgresql: {rate:.0f} ops/s", flush=True)
        print(f"# postgresql: {total} ops from {KIOSKS} kiosks, {errors} retries after 503", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
