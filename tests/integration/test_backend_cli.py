"""The command line exactly as SYNC.md gives it, run as real processes: serve --demo, enrollment-code, create-staff."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(args: list[str], home: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = os.environ | {"CUNZHAN_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "township", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120, check=False)


def test_serve_demo_then_enrol_with_a_cli_code(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = _free_port()
    env = os.environ | {"CUNZHAN_HOME": str(home)}
    server = subprocess.Popen([sys.executable, "-m", "township", "serve", "--demo", "--port", str(port)],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                if requests.get(url + "/v1/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.2)
        # The default database is SQLite under $CUNZHAN_HOME/township/.
        assert (home / "township" / "township.db").exists()
        made = _run(["enrollment-code", "--township", "demo"], home)
        assert made.returncode == 0, made.stderr
        code = made.stdout.strip().splitlines()[-1]
        assert len(code.replace("-", "")) == 12
        enrolled = requests.post(url + "/v1/enroll", timeout=10, json={
            "enrollment_code": code, "kiosk_name": "河口村", "app_version": "0.1.0"})
        assert enrolled.status_code == 201
        token = enrolled.json()["device_token"]
        pulled = requests.get(url + "/v1/sync/pull", params={"limit": 1000}, timeout=30,
                              headers={"Authorization": f"Bearer {token}"}).json()
        from kiosk import demo

        services = {c["entity_id"] for c in pulled["changes"] if c["entity"] == "service"}
        assert services == {s.id for s in demo.SERVICES}  # the kiosk's offline demo ids, the same
        sessions = {c["entity_id"] for c in pulled["changes"] if c["entity"] == "session"}
        assert {s.id for s in demo.demo_sessions(demo.today_local(), 14)} <= sessions
        # Seeding again (a restart with --demo) adds nothing twice.
        from township import db
        from township.seed import seed_demo

        database = db.Database(f"sqlite:///{home / 'township' / 'township.db'}")
        with database.read() as conn:
            before = conn.execute(sa.select(sa.func.count()).select_from(db.sessions)).scalar_one()
        seed_demo(database)
        with database.read() as conn:
            after = conn.execute(sa.select(sa.func.count()).select_from(db.sessions)).scalar_one()
        database.dispose()
        assert before == after
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_create_staff_reads_the_password_from_stdin(tmp_path: Path) -> None:
    home = tmp_path / "home"
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    from township import db
    from township.services import authenticate_staff, create_township

    db.migrate(db_url)
    database = db.Database(db_url)
    create_township(database, "qingshan", "青山镇")
    made = _run(["create-staff", "--db", db_url, "--township", "qingshan", "--username", "wang",
                 "--role", "reviewer"], home, stdin="a-long-password\n")
    assert made.returncode == 0, made.stderr
    assert "a-long-password" not in made.stdout + made.stderr
    user = authenticate_staff(database, "qingshan", "wang", "a-long-password")
    assert user is not None and user.role == "reviewer"
    assert authenticate_staff(database, "qingshan", "wang", "wrong-password") is None
    twice = _run(["create-staff", "--db", db_url, "--township", "qingshan", "--username", "wang",
                  "--role", "admin"], home, stdin="another-password\n")
    assert twice.returncode == 1
    short = _run(["create-staff", "--db", db_url, "--township", "qingshan", "--username", "li",
                  "--role", "admin"], home, stdin="short\n")
    assert short.returncode == 1
    unknown = _run(["enrollment-code", "--db", db_url, "--township", "nowhere"], home)
    assert unknown.returncode == 1
    bad_role = _run(["create-staff", "--db", db_url, "--township", "qingshan", "--username", "x",
                     "--role", "boss"], home, stdin="a-long-password\n")
    assert bad_role.returncode == 2
    database.dispose()


def test_staff_lockout_after_five_failures(tmp_path: Path) -> None:
    from township import db
    from township.services import authenticate_staff, create_staff, create_township

    db_url = f"sqlite:///{tmp_path / 'lock.db'}"
    db.migrate(db_url)
    database = db.Database(db_url)
    create_township(database, "t", "T")
    create_staff(database, "t", "admin", "admin", "right-password")
    for _ in range(5):
        assert authenticate_staff(database, "t", "admin", "wrong-password") is None
    assert authenticate_staff(database, "t", "admin", "right-password") is None  # locked for 15 minutes
    with database.write() as conn:
        conn.execute(sa.update(db.staff_users).values(locked_until=None))
    assert authenticate_staff(database, "t", "admin", "right-password") is not None
    with database.read() as conn:
        actions = [r.action for r in conn.execute(sa.select(db.staff_audit.c.action))]
    assert "login_locked" in actions
    database.dispose()


def test_migrations_match_the_tables_on_sqlite_and_postgresql(tmp_path: Path) -> None:
    """`alembic check`: the migrations produce exactly the tables township/db.py declares, on both databases."""
    from alembic import command

    from tests.integration.conftest import _fresh_pg_database
    from township import db

    pg_url, drop = _fresh_pg_database()
    try:
        for url in (f"sqlite:///{tmp_path / 'm.db'}", pg_url):
            db.migrate(url)
            db.migrate(url)  # idempotent: a second start changes nothing
            command.check(db.alembic_config(url))  # raises when metadata and schema differ
            engine = sa.create_engine(url)
            with engine.connect() as conn:
                names = set(sa.inspect(conn).get_table_names())
            engine.dispose()
            assert {t.name for t in db.metadata.sorted_tables} <= names
    finally:
        drop()
