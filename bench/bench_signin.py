"""Kiosk sync while staff sign in: a real backend (uvicorn on 127.0.0.1, SQLite), one enrolled kiosk pulling,
and 0, 8 or 40 clients posting console sign-ins (right passwords, so every one runs argon2) as fast as they can.

    tools/with-services.sh .venv/bin/python bench/bench_signin.py

Prints `name: value unit` lines: the kiosk's pull latency (median and 95th percentile) with each load, and the
sign-ins answered per second. Issue 14 (finding 2): with the password hashed inside the writer lock, 8 sign-in
clients took pulls from ~5 ms to ~1 s, and 40 to ~6 s.
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
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PULLS = 40
PASSWORD = "bench-password-1"


def _pulls(base: str, headers: dict[str, str]) -> list[float]:
    http = requests.Session()
    times = []
    for _ in range(PULLS):
        start = time.perf_counter()
        response = http.get(base + "/v1/sync/pull", headers=headers, params={"limit": 50}, timeout=120)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
        time.sleep(0.02)
    return times


def _sign_in_loop(base: str, stop: threading.Event, done: list[int]) -> None:
    http = requests.Session()
    while not stop.is_set():
        form = http.get(base + "/console/signin", timeout=120)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        answer = http.post(
            base + "/console/signin",
            timeout=120,
            allow_redirects=False,
            data={"username": "bench", "password": PASSWORD, "csrf_token": token.group(1)},
        )
        if answer.status_code == 303:
            done.append(1)
        http.cookies.clear()


def main() -> None:
    """Serve, load, measure."""
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CUNZHAN_HOME"] = tmp
        import uvicorn

        from cunzhan import protocol as P
        from township import services, sync
        from township.app import create_app

        app = create_app(f"sqlite:///{tmp}/bench.db", demo=True)
        database = app.state.db
        services.create_staff(database, "demo", "bench", "reviewer", PASSWORD)
        code = services.create_enrollment_code(database, "demo")
        enrolled = sync.enroll(
            database, P.EnrollRequest(enrollment_code=code, kiosk_name="bench", app_version="b")
        )
        headers = {"Authorization": "Bearer " + enrolled["device_token"]}
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", backlog=512))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        for clients in (0, 8, 40):
            stop = threading.Event()
            done: list[int] = []
            loaders = [
                threading.Thread(target=_sign_in_loop, args=(base, stop, done), daemon=True)
                for _ in range(clients)
            ]
            for loader in loaders:
                loader.start()
            time.sleep(1.0 if clients else 0)  # let the load build up
            started = time.perf_counter()
            count_before = len(done)
            times = _pulls(base, headers)
            elapsed = time.perf_counter() - started
            signed = len(done) - count_before
            stop.set()
            for loader in loaders:
                loader.join(timeout=120)
            times.sort()
            p95 = times[int(0.95 * (len(times) - 1))]
            print(f"pull_median_with_{clients}_signin_clients: {statistics.median(times):.1f} ms")
            print(f"pull_p95_with_{clients}_signin_clients: {p95:.1f} ms")
            if clients:
                print(f"signins_per_second_with_{clients}_clients: {signed / elapsed:.1f} 1/s")
        server.should_exit = True
        thread.join(timeout=10)
        database.dispose()


if __name__ == "__main__":
    main()
