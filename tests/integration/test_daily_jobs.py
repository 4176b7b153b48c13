"""Daily jobs while serving (issue 15): several processes on one database run each job once a day between them, the
database deciding (`township.daily`); `serve` compacts the change log that way, not only at start."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from pathlib import Path

import pytest

from tests.integration.conftest import Backend

pytestmark = pytest.mark.usefixtures("keyring_ready")


def test_of_several_processes_claiming_a_job_at_once_exactly_one_runs_it(any_backend: Backend) -> None:
    from township import daily, db

    job = "t-" + uuid.uuid4().hex[:8]
    # Separate engines stand for separate processes: nothing is shared but the database.
    databases = [db.Database(any_backend.db_url, pool_size=1) for _ in range(4)]
    start = threading.Barrier(len(databases))
    won: list[bool] = []

    def contend(database: db.Database) -> None:
        start.wait()
        won.append(daily.claim(database, job))

    threads = [threading.Thread(target=contend, args=(d,)) for d in databases]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(won) == [False, False, False, True]
    later = db.now_utc() + dt.timedelta(hours=22)
    assert not daily.claim(databases[0], job, now=later)  # the same day: nobody
    tomorrow = db.now_utc() + dt.timedelta(hours=23, minutes=1)
    assert [daily.claim(d, job, now=tomorrow) for d in databases] == [True, False, False, False]
    for d in databases:
        d.dispose()


def test_daily_compaction_runs_once_across_processes_and_compacts(any_backend: Backend) -> None:
    import sqlalchemy as sa

    from township import daily, db
    from township.booking import compact_changes
    from township.services import edit_session

    backend = any_backend
    tid = backend.township_id()
    session = backend.new_session(capacity=6, starts_in=dt.timedelta(days=4))
    for capacity in (7, 8, 9):  # superseded versions of one session
        edit_session(backend.database, session, staff_id=None, capacity=capacity)
    with backend.database.write() as conn:  # long ago
        conn.execute(
            sa.update(db.changes)
            .where(db.changes.c.township_id == tid)
            .values(created_at=db.naive(db.now_utc() - dt.timedelta(days=40)))
        )

    def versions() -> int:
        with backend.database.read() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(db.changes)
                    .where(db.changes.c.entity_id == session)
                ).scalar_one()
            )

    assert versions() >= 4
    job = "compact-" + uuid.uuid4().hex[:8]
    runs: list[int] = []
    done = threading.Event()
    databases = [db.Database(backend.db_url, pool_size=1) for _ in range(3)]

    def make_run(database: db.Database) -> object:
        def run() -> int:
            removed = sum(compact_changes(database).values())
            runs.append(removed)
            done.set()
            return removed

        return run

    stops = [daily.start(d, job, make_run(d), check_s=0.05) for d in databases]
    assert done.wait(60)
    done.clear()
    assert not done.wait(1.0)  # ~60 more checks between them, none runs it again today
    for stop in stops:
        stop.set()
    assert len(runs) == 1 and runs[0] >= 3
    assert versions() == 1
    for d in databases:
        d.dispose()


def test_serve_runs_the_daily_jobs_while_serving(tmp_path: Path) -> None:
    """`serve` (several workers) claims and runs compaction, retention and the no-show pass in its parent process
    once, recorded in the database; a second `serve` on the same database soon after runs none of them."""
    import socket
    import subprocess
    import sys
    import time

    import requests
    import sqlalchemy as sa

    from township import db

    url = f"sqlite:///{tmp_path / 'township.db'}"

    def serve() -> subprocess.Popen[bytes]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen(
            [sys.executable, "-m", "township", "serve", "--db", url, "--port", str(port), "--workers", "2"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).ok:
                    return proc
            except requests.ConnectionError:
                time.sleep(0.2)
        proc.kill()
        raise AssertionError("serve did not start")

    def runs() -> dict[str, dt.datetime]:
        database = db.Database(url, pool_size=1)
        try:
            with database.read() as conn:
                return {r.job: r.last_run_at for r in conn.execute(sa.select(db.maintenance_runs))}
        finally:
            database.dispose()

    first = serve()
    try:
        deadline = time.monotonic() + 30
        # no-shows every 10 minutes (township.attendance); the county dashboard's rollups (township.insight)
        jobs = {"compact-log", "retention", "no-shows", "insight_rollup", "insight_open_weeks"}
        while set(runs()) != jobs and time.monotonic() < deadline:
            time.sleep(0.2)
        seen = runs()
        assert set(seen) == jobs
    finally:
        first.terminate()
        first.wait(30)
    second = serve()
    try:
        time.sleep(1.0)
        assert runs() == seen  # claimed already today: not run again
    finally:
        second.terminate()
        second.wait(30)
