"""The backend as several processes on one database (issue 15, "Scale out")."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.integration.conftest import _fresh_pg_database

_MIGRATE = """
import pathlib, sys, time
from township.db import migrate
pathlib.Path(sys.argv[2] + "." + sys.argv[3]).touch()
while not pathlib.Path(sys.argv[2]).exists():
    time.sleep(0.001)
migrate(sys.argv[1])
"""


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_processes_starting_at_once_migrate_a_new_database(tmp_path: Path, kind: str) -> None:
    """Four `serve` processes started together on a new database: each migrates at start; none may fail with
    `database is locked` or `table already exists`, and the schema ends at head once."""
    for round_ in range(3):
        drop = None
        if kind == "sqlite":
            url = f"sqlite:///{tmp_path / f'township-{round_}.db'}"
        else:
            url, drop = _fresh_pg_database()
        go = tmp_path / f"go-{round_}"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _MIGRATE, url, str(go), str(i)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(4)
        ]
        deadline = time.monotonic() + 60
        while not all(
            (tmp_path / f"go-{round_}.{i}").exists() for i in range(4)
        ):  # all imported, all waiting
            assert time.monotonic() < deadline, "the processes did not start"
            time.sleep(0.01)
        go.touch()
        for proc in procs:
            _out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err[-2000:]
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
            assert len(versions) == 1
            assert conn.execute(sa.text("SELECT count(*) FROM townships")).scalar() == 0
        engine.dispose()
        if drop is not None:
            drop()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_serve_with_workers_shares_one_database(tmp_path: Path, kind: str) -> None:
    """`serve --workers 3`: three processes behind one port on one database. Kiosks racing for the last seats
    through it never overbook, every op gets its one answer, and stopping the server stops every worker."""
    import threading

    import requests

    from tests.integration.conftest import create_op, serve_workers
    from township import db
    from township.services import create_enrollment_code, create_session, township_id

    with serve_workers(tmp_path, kind) as served:
        base, server, database = served.base, served.server, served.database
        deadline = time.monotonic() + 30
        while len(_children(server.pid)) < 3:
            assert time.monotonic() < deadline, _children(server.pid)
            time.sleep(0.1)

        import datetime as dt
        from zoneinfo import ZoneInfo

        with database.read() as conn:
            service, provider = conn.execute(
                sa.select(db.sessions.c.service_id, db.sessions.c.provider_id).limit(1)
            ).one()
        # At 03:00 in the demo township, 9 days on: no demo session of this provider then, whatever the time of
        # day the test runs (now + 9 days 3 hours could overlap one).
        zone = ZoneInfo("Asia/Shanghai")
        starts = dt.datetime.combine(dt.datetime.now(zone).date() + dt.timedelta(days=9), dt.time(3, 0), zone)
        session = create_session(
            database,
            staff_id=None,
            township_slug="demo",
            service_id=service,
            provider_id=provider,
            starts_at=starts,
            ends_at=starts + dt.timedelta(minutes=20),
            capacity=5,
        )
        assert township_id(database, "demo")
        outcomes: list[str] = []
        errors: list[str] = []

        def kiosk(n: int) -> None:
            enrolled = requests.post(
                base + "/v1/enroll",
                timeout=60,
                json={
                    "enrollment_code": create_enrollment_code(database, "demo"),
                    "kiosk_name": f"k{n}",
                    "app_version": "test",
                },
            ).json()
            headers = {"Authorization": f"Bearer {enrolled['device_token']}"}
            ops = [create_op(session, device_seq=i + 1) for i in range(3)]
            for _ in range(2):  # the second time is a replay: the same answers, nothing applied twice
                response = requests.post(
                    base + "/v1/sync/push",
                    headers=headers,
                    timeout=60,
                    json={"device_id": enrolled["device_id"], "ops": ops},
                )
                if response.status_code != 200:
                    errors.append(response.text)
                    return
                results = response.json()["results"]
                outcomes.extend(f"{r['outcome']}:{r['reason']}:{r['replayed']}" for r in results)

        threads = [threading.Thread(target=kiosk, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert errors == []
        first = [o for o in outcomes if o.endswith(":False")]
        assert len(first) == 18 and first.count("applied:None:False") == 5
        assert first.count("rejected:slot_full:False") == 13
        assert sum(o.endswith(":True") for o in outcomes) == 18
        with database.read() as conn:
            taken = conn.execute(
                sa.select(sa.func.count()).select_from(db.bookings).where(db.bookings.c.session_id == session)
            ).scalar_one()
        assert taken == 5
        workers = _children(server.pid)  # before the server is stopped on leaving the block
    assert server.returncode == 0
    assert not any(
        Path(f"/proc/{w}").exists() and "township" in Path(f"/proc/{w}/cmdline").read_text() for w in workers
    ), "a worker outlived the server"


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_saturated_backend_answers_503_with_retry_after_at_once(start_backend: Any, kind: str) -> None:
    """Every sync slot taken by a push stuck behind the township's write lock: the next push is not queued past
    the kiosk's read timeout but answered 503 `busy` with Retry-After while the first still waits, and changes
    nothing (sent again later, it is applied, not a replay)."""
    import threading

    from tests.integration.conftest import create_op
    from township import db
    from township.app import SyncGate

    backend = start_backend(kind)
    gate = SyncGate(slots=1, wait_s=0.2)
    backend.app.state.sync_gate = gate
    session = backend.new_session(capacity=5)
    kiosk = backend.enroll()
    holding, release = threading.Event(), threading.Event()

    def staff_transaction() -> None:  # a long write on the township (a staff action, another process's push)
        with backend.database.write() as conn:
            db.lock_township(conn, backend.township_id())
            holding.set()
            release.wait(60)

    holder = threading.Thread(target=staff_transaction)
    holder.start()
    assert holding.wait(30)
    first: list[Any] = []
    waiting = threading.Thread(target=lambda: first.append(kiosk.push([create_op(session, device_seq=1)])))
    waiting.start()
    deadline = time.monotonic() + 30
    while not gate.full:  # the first push holds the only slot, waiting on the lock
        assert time.monotonic() < deadline
        time.sleep(0.01)
    second = [create_op(session, device_seq=2)]
    refused = kiosk.push(second)
    still_waiting = waiting.is_alive()
    release.set()
    holder.join(30)
    waiting.join(60)
    assert still_waiting
    assert refused.status_code == 503
    assert refused.headers["Retry-After"].isdigit() and refused.json()["error"] == "busy"
    assert first[0].status_code == 200 and first[0].json()["results"][0]["outcome"] == "applied"
    again = kiosk.push_ok(second)
    assert again[0]["outcome"] == "applied" and not again[0]["replayed"]
