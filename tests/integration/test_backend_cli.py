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
    return subprocess.run(
        [sys.executable, "-m", "township", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )


def test_serve_demo_then_enrol_with_a_cli_code(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = _free_port()
    env = os.environ | {"CUNZHAN_HOME": str(home)}
    server = subprocess.Popen(
        [sys.executable, "-m", "township", "serve", "--demo", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
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
        enrolled = requests.post(
            url + "/v1/enroll",
            timeout=10,
            json={"enrollment_code": code, "kiosk_name": "河口村", "app_version": "0.1.0"},
        )
        assert enrolled.status_code == 201
        token = enrolled.json()["device_token"]
        pulled = requests.get(
            url + "/v1/sync/pull",
            params={"limit": 1000},
            timeout=30,
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        from cunzhan import demo

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
    from township.services import create_township
    from township.signin import sign_in

    db.migrate(db_url)
    database = db.Database(db_url)
    create_township(database, "qingshan", "青山镇")
    made = _run(
        [
            "create-staff",
            "--db",
            db_url,
            "--township",
            "qingshan",
            "--username",
            "wang",
            "--role",
            "reviewer",
        ],
        home,
        stdin="a-long-password\n",
    )
    assert made.returncode == 0, made.stderr
    assert "a-long-password" not in made.stdout + made.stderr
    user = sign_in(database, "qingshan", "wang", "a-long-password", "127.0.0.1").staff
    assert user is not None and user.role == "reviewer"
    assert sign_in(database, "qingshan", "wang", "wrong-password", "127.0.0.1").staff is None
    twice = _run(
        ["create-staff", "--db", db_url, "--township", "qingshan", "--username", "wang", "--role", "admin"],
        home,
        stdin="another-password\n",
    )
    assert twice.returncode == 1
    short = _run(
        ["create-staff", "--db", db_url, "--township", "qingshan", "--username", "li", "--role", "admin"],
        home,
        stdin="short\n",
    )
    assert short.returncode == 1
    unknown = _run(["enrollment-code", "--db", db_url, "--township", "nowhere"], home)
    assert unknown.returncode == 1
    bad_role = _run(
        ["create-staff", "--db", db_url, "--township", "qingshan", "--username", "x", "--role", "boss"],
        home,
        stdin="a-long-password\n",
    )
    assert bad_role.returncode == 2
    database.dispose()


def test_lockout_is_per_address_and_account_and_the_same_for_unknown_users(tmp_path: Path) -> None:
    """Five wrong passwords from one address lock that address out of that account (even with the right password),
    not the account for everyone; an unknown user name gets exactly the same answers (finding 10)."""
    from township import db
    from township.services import create_staff, create_township
    from township.signin import sign_in

    db_url = f"sqlite:///{tmp_path / 'lock.db'}"
    db.migrate(db_url)
    database = db.Database(db_url)
    create_township(database, "t", "T")
    create_staff(database, "t", "admin", "admin", "right-password")
    answers: dict[str, list[tuple[bool, bool, bool]]] = {}
    for name in ("admin", "nobody"):
        for _ in range(5):
            out = sign_in(database, "t", name, "wrong-password", "10.0.0.9")
            answers.setdefault(name, []).append((out.staff is None, out.locked, out.retry_after is not None))
        out = sign_in(database, "t", name, "right-password", "10.0.0.9")
        answers[name].append((out.staff is None, out.locked, out.retry_after is not None))
        assert 14 * 60 < (out.retry_after or 0) <= 15 * 60 + 1
    assert answers["admin"] == answers["nobody"]
    assert answers["admin"][-1] == (True, True, True)
    # The real staff member, at another computer, is not locked out by someone else's guesses.
    assert sign_in(database, "t", "admin", "right-password", "10.0.0.7").staff is not None
    with database.write() as conn:
        conn.execute(sa.update(db.signin_throttle).values(locked_until=None))
    assert sign_in(database, "t", "admin", "right-password", "10.0.0.9").staff is not None
    with database.read() as conn:
        actions = [r.action for r in conn.execute(sa.select(db.staff_audit.c.action))]
        keys = [r.key for r in conn.execute(sa.select(db.signin_throttle.c.key))]
    assert "login_locked" in actions
    assert not any(
        "10.0.0" in key or "admin" in key or "nobody" in key for key in keys
    )  # hashed, never clear
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


def test_create_township_sets_its_time_zone(tmp_path: Path) -> None:
    home = tmp_path / "home"
    db_url = f"sqlite:///{tmp_path / 'towns.db'}"
    made = _run(
        [
            "create-township",
            "--db",
            db_url,
            "--slug",
            "london",
            "--name",
            "London",
            "--zone",
            "Europe/London",
        ],
        home,
    )
    assert made.returncode == 0, made.stderr
    default = _run(["create-township", "--db", db_url, "--slug", "qingshan", "--name", "青山镇"], home)
    assert default.returncode == 0, default.stderr
    wrong = _run(
        ["create-township", "--db", db_url, "--slug", "x", "--name", "X", "--zone", "Mars/Olympus"], home
    )
    assert wrong.returncode == 2 and "IANA time zone" in wrong.stderr
    from township import db

    database = db.Database(db_url)
    with database.read() as conn:
        zones = dict(conn.execute(sa.select(db.townships.c.slug, db.townships.c.zone)).all())
    database.dispose()
    assert zones == {"london": "Europe/London", "qingshan": "Asia/Shanghai"}
