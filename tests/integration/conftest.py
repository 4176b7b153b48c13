"""Shared fixtures for integration tests: a REAL township backend (uvicorn on 127.0.0.1, a free port) per module.

Fixtures (each a `Backend`, module-scoped, with its own fresh database and the demo township seeded):
- `backend`: SQLite in a temporary directory;
- `pg_backend`: PostgreSQL — a fresh database created on the server in `$CUNZHAN_TEST_PG_URL`
  (`tools/with-services.sh` provides it; the test fails, never skips, when it is missing);
- `any_backend`: parametrised over both (`[sqlite]`, `[postgresql]`).
- `start_backend`: a factory for extra servers inside one test (`start_backend("sqlite")`; `db_url=` restarts a
  backend on an existing database).

A `Backend` has `.url` (`http://127.0.0.1:PORT`), `.db_url`, `.database` (a `township.db.Database` on the same
database), `.kind` and helpers: `.enrollment_code(township="demo")`, `.enroll(name)` → `Enrolled` (device id, token,
kiosk number, `.headers`), `.create_staff(username, role, password)`, `.new_session(capacity=…, review=…)` (a fresh
service + provider + session so tests do not share seats), `.stop()`.
Module helpers: `valid_id_number(n)` (a real GB 11643 number), `create_op(...)`, `op(...)`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

STAFF_PASSWORD = "correct-horse-battery"


def valid_id_number(n: int, *, born: str = "19500101", region: str = "110101") -> str:
    """A GB 11643 ID number that passes the kiosk's check, distinct for each `n` < 1000 (per birth date)."""
    from cunzhan.identity import id_check_character

    first17 = f"{region}{born}{n % 1000:03d}"
    return first17 + id_check_character(first17)


def unique_id_number() -> str:
    """A valid ID number unlikely to repeat within a test run (varies the birth date too)."""
    value = uuid.uuid4().int
    day = dt.date(1940, 1, 1) + dt.timedelta(days=value % 20000)
    return valid_id_number((value >> 20) % 1000, born=day.strftime("%Y%m%d"))


def op(
    entity: str,
    kind: str,
    entity_id: str,
    payload: dict[str, Any],
    *,
    device_seq: int,
    op_id: str | None = None,
    base_version: int | None = None,
) -> dict[str, Any]:
    """One op as the kiosk sends it."""
    return {
        "op_id": op_id or str(uuid.uuid4()),
        "device_seq": device_seq,
        "entity": entity,
        "entity_id": entity_id,
        "kind": kind,
        "base_version": base_version,
        "payload": payload,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def create_op(
    session_id: str,
    *,
    device_seq: int,
    code: str | None = None,
    id_number: str | None = None,
    lease: bool = False,
    waitlist: bool = False,
    booking_id: str | None = None,
    dependent: dict[str, Any] | None = None,
    phone: str | None = None,
    reminders: str | None = "self",
    channel: str = "self",
) -> dict[str, Any]:
    """A booking create op for `session_id` (a fresh resident unless `id_number` is given). A `phone` goes with the
    resident's agreement to SMS reminders to it (`reminders`: whose number; None: no agreement)."""
    payload = {
        "session_id": session_id,
        "code": code or f"{uuid.uuid4().int % 10**9:09d}",
        "resident": {
            "id": str(uuid.uuid4()),
            "name": "测试居民",
            "id_number": id_number or unique_id_number(),
            "phone": phone,
            "village": "上坪村",
        },
        "for_dependent": dependent,
        "channel": channel,
        "staff_id": "S01" if channel == "assisted" else None,
        "lease": lease,
        "waitlist": waitlist,
    }
    if phone and reminders:
        payload["reminders"] = {
            "notice": "2026-12-sms",
            "at": "2026-12-03T09:00:00+00:00",
            "owner": reminders,
        }
    return op("booking", "create", booking_id or str(uuid.uuid4()), payload, device_seq=device_seq)


@dataclass
class Enrolled:
    """A kiosk enrolled against a backend."""

    backend: Backend
    device_id: str
    token: str
    kiosk_number: int
    seq: int = 0
    cursor: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def push(self, ops: list[dict[str, Any]], **extra: Any) -> requests.Response:
        return requests.post(
            self.backend.url + "/v1/sync/push",
            headers=self.headers,
            timeout=60,
            json={"device_id": self.device_id, "ops": ops, **extra},
        )

    def push_ok(self, ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
        response = self.push(ops)
        assert response.status_code == 200, response.text
        results: list[dict[str, Any]] = response.json()["results"]
        return results

    def book(self, session_id: str, **kw: Any) -> dict[str, Any]:
        """Push one create op and return its result."""
        return self.push_ok([create_op(session_id, device_seq=self.next_seq(), **kw)])[0]

    def pull(self, cursor: str | None = None, limit: int | None = None) -> requests.Response:
        params: dict[str, Any] = {}
        if cursor:
            params["cursor"] = cursor
        if limit is not None:
            params["limit"] = limit
        return requests.get(
            self.backend.url + "/v1/sync/pull", headers=self.headers, params=params, timeout=60
        )

    def pull_all(self) -> list[dict[str, Any]]:
        """Pull every page from this kiosk's cursor on; returns the changes and advances the cursor."""
        changes: list[dict[str, Any]] = []
        while True:
            response = self.pull(self.cursor)
            assert response.status_code == 200, response.text
            page = response.json()
            changes.extend(page["changes"])
            self.cursor = page["next_cursor"]
            if not page["has_more"]:
                return changes


@dataclass
class Backend:
    """A running backend (see the module docstring)."""

    url: str
    db_url: str
    kind: str
    database: Any
    _server: Any = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _drop: Callable[[], None] | None = field(default=None, repr=False)
    _counter: int = 0
    app: Any = field(
        default=None, repr=False
    )  # the FastAPI app the server runs (app.state.db is its Database)

    def enrollment_code(self, township: str = "demo") -> str:
        from township.services import create_enrollment_code

        return create_enrollment_code(self.database, township)

    def enroll(self, name: str = "测试终端", township: str = "demo") -> Enrolled:
        response = requests.post(
            self.url + "/v1/enroll",
            timeout=30,
            json={
                "enrollment_code": self.enrollment_code(township),
                "kiosk_name": name,
                "app_version": "test",
            },
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return Enrolled(self, body["device_id"], body["device_token"], body["kiosk_number"])

    def create_staff(
        self, username: str, role: str = "admin", password: str = STAFF_PASSWORD, township: str = "demo"
    ) -> str:
        from township.services import create_staff

        return create_staff(self.database, township, username, role, password)

    def township_id(self, slug: str = "demo") -> str:
        from township.services import township_id

        return township_id(self.database, slug)

    def new_session(
        self,
        *,
        capacity: int = 5,
        review: bool = False,
        starts_in: dt.timedelta | None = None,
        minutes: int = 30,
        service_id: str | None = None,
        township: str = "demo",
    ) -> str:
        """A fresh session (with its own service and provider unless `service_id` is given)."""
        import sqlalchemy as sa

        from township import booking as B
        from township import db
        from township.services import create_session

        self._counter += 1
        tid = self.township_id(township)
        now = db.naive(db.now_utc())
        with self.database.write() as conn:
            db.lock_township(conn, tid)
            if service_id is None:
                service_id = str(uuid.uuid4())
                conn.execute(
                    sa.insert(db.services).values(
                        id=service_id,
                        township_id=tid,
                        kind="clinic",
                        name=f"测试服务 {self._counter}",
                        description="",
                        review=review,
                        what_to_bring="",
                        updated_at=now,
                    )
                )
                B.emit_service(conn, service_id)
            provider_id = str(uuid.uuid4())
            conn.execute(
                sa.insert(db.providers).values(
                    id=provider_id, township_id=tid, name=f"测试医生 {self._counter}", updated_at=now
                )
            )
            B.emit_provider(conn, provider_id)
        starts = dt.datetime.now(dt.UTC) + (starts_in or dt.timedelta(days=3))
        return create_session(
            self.database,
            staff_id=None,
            township_slug=township,
            service_id=service_id,
            provider_id=provider_id,
            starts_at=starts,
            ends_at=starts + dt.timedelta(minutes=minutes),
            capacity=capacity,
        )

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self.database.dispose()
        if self._drop is not None:
            self._drop()
            self._drop = None


def _pg_admin_url() -> str:
    url = os.environ.get("CUNZHAN_TEST_PG_URL")
    if not url:
        pytest.fail(
            "CUNZHAN_TEST_PG_URL is not set: run the tests under tools/with-services.sh (it starts a "
            "throw-away PostgreSQL server)",
            pytrace=False,
        )
    return url


def _fresh_pg_database() -> tuple[str, Callable[[], None]]:
    """CREATE DATABASE on the test server; returns its URL and a function that drops it."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    admin_url = _pg_admin_url()
    name = f"cz_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    return url, drop


def start_server(kind: str, tmp: Path, *, demo: bool = True, db_url: str | None = None) -> Backend:
    """Start a backend of `kind` ("sqlite" | "postgresql") on a free loopback port and wait until it answers.
    `db_url`: an existing database (a restart of another backend, which keeps it), else a fresh one."""
    import uvicorn

    from township import db
    from township.app import create_app

    drop: Callable[[], None] | None = None
    if db_url is not None:
        pass
    elif kind == "sqlite":
        db_url = f"sqlite:///{tmp / f'township-{uuid.uuid4().hex[:8]}.db'}"
    elif kind == "postgresql":
        db_url, drop = _fresh_pg_database()
    else:
        raise ValueError(kind)
    app = create_app(db_url, demo=demo)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2, backlog=512)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True, name=f"uvicorn-{kind}-{port}"
    )
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the backend did not start")
        time.sleep(0.02)
    assert requests.get(url + "/v1/health", timeout=5).status_code == 200
    return Backend(
        url=url,
        db_url=db_url,
        kind=kind,
        database=db.Database(db_url),
        _server=server,
        _thread=thread,
        _drop=drop,
        app=app,
    )


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """A SQLite backend with the demo township, for this test module."""
    server = start_server("sqlite", tmp_path_factory.mktemp("township"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pg_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """A PostgreSQL backend (fresh database) with the demo township, for this test module."""
    server = start_server("postgresql", tmp_path_factory.mktemp("township"))
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def any_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    """The same tests on SQLite and on PostgreSQL."""
    server = start_server(str(request.param), tmp_path_factory.mktemp("township"))
    yield server
    server.stop()


@pytest.fixture
def start_backend(tmp_path: Path) -> Iterator[Callable[..., Backend]]:
    """Start extra backends inside a test (stopped at its end): `start_backend("sqlite", demo=True)`."""
    started: list[Backend] = []

    def start(kind: str = "sqlite", *, demo: bool = True, db_url: str | None = None) -> Backend:
        server = start_server(kind, tmp_path, demo=demo, db_url=db_url)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@dataclass
class Served:
    """`township serve` running as its own process (see `serve_workers`)."""

    base: str
    server: subprocess.Popen[str]
    database: Any  # township.db.Database on the same database, for setting up and checking


@contextlib.contextmanager
def serve_workers(tmp_path: Path, kind: str, workers: int = 3) -> Iterator[Served]:
    """`township serve --workers N --demo` on a fresh database (an SQLite file, or a new PostgreSQL database),
    yielded once `/v1/health` answers; stopped with SIGTERM (its database dropped) on the way out."""
    from township import db

    drop = None
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'township.db'}"
    else:
        url, drop = _fresh_pg_database()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "CUNZHAN_HOME": str(tmp_path / "home")}
    command = [sys.executable, "-m", "township", "serve", "--db", url, "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--workers", str(workers), "--demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    database = db.Database(url, pool_size=2)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, server.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "the workers did not start"
            try:
                if requests.get(base + "/v1/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        yield Served(base, server, database)
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)
        database.dispose()
        if drop is not None:
            drop()
