"""Console page times on a busy township: 2,000 synced bookings, a real backend (uvicorn on 127.0.0.1, SQLite).

    tools/with-services.sh .venv/bin/python bench/bench_console.py

Prints `name: value unit` lines: the median time of the review queue (200 rows shown), the schedule week, a day view
and the reports page, each fetched 15 times by a signed-in reviewer, plus the health probe as a baseline.
"""

from __future__ import annotations

import os
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BOOKINGS = 2000
ROUNDS = 15


def _median_ms(session: requests.Session, url: str) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        response = session.get(url, timeout=60)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times)


def main() -> None:
    """Seed, serve, measure."""
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CUNZHAN_HOME"] = tmp
        import sqlalchemy as sa
        import uvicorn

        from cunzhan import protocol as P
        from cunzhan.identity import id_check_character
        from township import db, services, sync
        from township.app import create_app

        url = f"sqlite:///{tmp}/bench.db"
        app = create_app(url, demo=True)
        database: db.Database = app.state.db
        services.create_staff(database, "demo", "bench", "reviewer", "bench-password-1")
        code = services.create_enrollment_code(database, "demo")
        enrolled = sync.enroll(
            database, P.EnrollRequest(enrollment_code=code, kiosk_name="bench", app_version="b")
        )
        device = sync.authenticate(database, "Bearer " + enrolled["device_token"])
        with database.read() as conn:
            sessions = [
                r.id
                for r in conn.execute(
                    sa.select(db.sessions.c.id)
                    .where(db.sessions.c.starts_at > db.naive(db.now_utc()))
                    .order_by(db.sessions.c.starts_at)
                )
            ]
        ops = []
        for n in range(BOOKINGS):
            first17 = f"3301061950{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
            ops.append(
                {
                    "op_id": str(uuid.uuid4()),
                    "device_seq": n + 1,
                    "entity": "booking",
                    "entity_id": str(uuid.uuid4()),
                    "kind": "create",
                    "base_version": None,
                    "payload": {
                        "session_id": sessions[n % len(sessions)],
                        "code": f"B{n:07d}",
                        "resident": {
                            "id": str(uuid.uuid4()),
                            "name": "居民",
                            "phone": "13900000000",
                            "id_number": first17 + id_check_character(first17),
                            "village": "上坪村",
                        },
                        "for_dependent": None,
                        "channel": "self",
                        "staff_id": None,
                        "lease": False,
                        "waitlist": True,
                    },
                    "created_at": "2026-01-01T00:00:00+00:00",
                }
            )
        for chunk in range(0, len(ops), 400):
            sync.push(database, device, {"device_id": device.id, "ops": ops[chunk : chunk + 400]})
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        http = requests.Session()
        form = http.get(base + "/console/signin", timeout=30)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        signed = http.post(
            base + "/console/signin",
            timeout=30,
            data={"username": "bench", "password": "bench-password-1", "csrf_token": token.group(1)},
        )
        assert signed.url.endswith("/console/"), signed.status_code
        print(f"health_probe_median: {_median_ms(http, base + '/v1/health'):.1f} ms")
        print(f"review_queue_median: {_median_ms(http, base + '/console/review?status='):.1f} ms")
        print(f"waiting_lists_median: {_median_ms(http, base + '/console/waitlist'):.1f} ms")
        print(f"schedule_week_median: {_median_ms(http, base + '/console/schedule'):.1f} ms")
        print(f"day_view_median: {_median_ms(http, base + '/console/sessions/' + sessions[0]):.1f} ms")
        print(f"reports_median: {_median_ms(http, base + '/console/reports'):.1f} ms")
        print(f"bookings_in_township: {BOOKINGS} count")
        server.should_exit = True
        thread.join(timeout=10)
        database.dispose()


if __name__ == "__main__":
    main()
