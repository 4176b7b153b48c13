"""Enrolment against the real backend: codes from `python -m township enrollment-code`, the token in the real
keyring, bad input with a clear message each, provisioning files, doctor checks, and nothing secret in the files."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from kiosk.store import Store
from kiosk.sync import credentials
from kiosk.sync.enroll import EnrollError, enroll, provision_from_file
from tests.integration.conftest import Backend, unique_id_number

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("keyring_ready")


def _run(args: list[str], home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CUNZHAN_HOME": str(home), **env},
        check=False,
    )


def _cli_code(backend: Backend, home: Path) -> str:
    done = _run(["-m", "township", "enrollment-code", "--db", backend.db_url, "--township", "demo"], home)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def _device(backend: Backend, device_id: str) -> Any:
    from township import db

    with backend.database.read() as conn:
        return conn.execute(sa.select(db.devices).where(db.devices.c.id == device_id)).one()


def test_cli_enrolment_keeps_the_token_only_in_the_keyring(backend: Backend, data_home: Path) -> None:
    code = _cli_code(backend, data_home)
    done = _run(
        ["-m", "kiosk", "enroll", "--server", backend.url, "--code", code, "--name", "上坪村服务站"],
        data_home,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    store = Store.open()
    device_id = store.state("device_id")
    assert device_id and store.state("township_url") == backend.url
    number = int(store.state("kiosk_number") or 0)
    assert number >= 1 and str(number) in done.stdout
    # The token is in the real keyring, read back, and is the one the backend knows (by its hash).
    token = credentials.load_token(store.path.parent)
    assert token and hashlib.sha256(token.encode()).hexdigest() == _device(backend, device_id).token_hash
    assert token not in done.stdout + done.stderr
    # The first sync happened in the same command: the catalogue is here.
    assert store.query("SELECT count(*) AS n FROM sessions")[0]["n"] > 0
    # The same code again: refused, plainly.
    again = _run(
        ["-m", "kiosk", "enroll", "--server", backend.url, "--code", code], data_home, CUNZHAN_LOCALE="en"
    )
    assert again.returncode == 1
    assert "not accept this enrolment code" in again.stdout
    store.close()


def test_no_token_or_id_number_in_any_file_the_kiosk_writes(backend: Backend, data_home: Path) -> None:
    from cunzhan.models import Resident
    from kiosk.booking import Bookings
    from kiosk.sync.engine import SyncEngine

    code = _cli_code(backend, data_home)
    assert _run(["-m", "kiosk", "enroll", "--server", backend.url, "--code", code], data_home).returncode == 0
    store = Store.open()
    token = credentials.load_token(store.path.parent)
    assert token
    id_numbers = [unique_id_number() for _ in range(6)]
    phone = "13912345678"
    session = backend.new_session(capacity=10, starts_in=dt.timedelta(days=3))
    engine = SyncEngine.from_store(store)
    assert engine is not None and engine.sync_once().ok
    for number in id_numbers:
        Bookings(store).book(
            session_id=session, resident=Resident(str(uuid.uuid4()), "王秀英", number, phone)
        )
    assert engine.sync_once().ok
    assert store.pending_count() == 0
    store.set_setting("village", "上坪村")
    store.close()
    _run(["-m", "kiosk", "doctor"], data_home)  # writes whatever it writes; nothing secret may be in it
    # The kiosk app itself (offscreen), with its sync worker, logs and settings.
    shown = _run(["-m", "kiosk", "run", "--quit-after-ready"], data_home, QT_QPA_PLATFORM="offscreen")
    assert shown.returncode == 0, shown.stderr[-2000:]
    files = [p for p in data_home.rglob("*") if p.is_file()]
    assert any(p.name == "kiosk.db" for p in files)
    secrets_ = [token.encode(), phone.encode()] + [n.encode() for n in id_numbers]
    for path in files:
        content = path.read_bytes()
        for secret in secrets_:
            assert secret not in content, f"{path.name} holds a secret in clear"
    # …while the backend did receive them (sent in clear over the link, as SYNC.md says).
    from cunzhan.fieldcrypto import field_ref
    from township import db, keys

    with backend.database.read() as conn:
        cipher = keys.cipher_for(conn)
        got = {
            cipher.decrypt(r.id_number_enc, where=field_ref("residents", "id_number_enc", r.id))
            for r in conn.execute(sa.select(db.residents.c.id, db.residents.c.id_number_enc))
        }
    assert set(id_numbers) <= got


@pytest.mark.parametrize(
    ("server", "code", "kind"),
    [
        ("http://hall.example.cn:8700", "1234-5678-9012", "address"),
        ("ftp://127.0.0.1", "1234-5678-9012", "address"),
        (None, "12", "code_format"),
        (None, "0000-0000-0000", "code_refused"),
    ],
)
def test_bad_enrolment_input(
    backend: Backend, store: Store, server: str | None, code: str, kind: str
) -> None:
    with pytest.raises(EnrollError) as caught:
        enroll(server or backend.url, code, "k", store=store)
    assert caught.value.kind == kind
    assert caught.value.message()
    assert store.state("device_id") is None


def test_expired_and_reused_codes_are_refused(backend: Backend, store: Store, tmp_path: Path) -> None:
    from township import db

    code = backend.enrollment_code()
    with backend.database.write() as conn:
        conn.execute(
            sa.update(db.enrollment_codes)
            .where(db.enrollment_codes.c.used_at.is_(None))
            .values(expires_at=db.naive(db.now_utc() - dt.timedelta(minutes=1)))
        )
    with pytest.raises(EnrollError) as caught:
        enroll(backend.url, code, "k", store=store)
    assert caught.value.kind == "code_refused"
    code = backend.enrollment_code()
    enroll(backend.url, code, "k", store=store)
    (tmp_path / "other").mkdir()
    other = Store(tmp_path / "other" / "kiosk.db", store.cipher)
    with pytest.raises(EnrollError) as caught:
        enroll(backend.url, code, "k2", store=other)
    assert caught.value.kind == "code_refused"
    other.close()


def test_unreachable_and_wrong_addresses(backend: Backend, store: Store) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(EnrollError) as caught:
        enroll(f"http://127.0.0.1:{port}", "1234-5678-9012", "k", store=store)
    assert caught.value.kind == "unreachable" and not caught.value.permanent
    with pytest.raises(EnrollError) as caught:
        enroll(backend.url + "/not-the-api", backend.enrollment_code(), "k", store=store)
    assert caught.value.kind == "not_township"


@pytest.fixture
def tls_backend(tmp_path: Path) -> Iterator[tuple[str, Path, Backend]]:
    """The real backend app served over HTTPS with a self-signed certificate (a CA the kiosk does not trust)."""
    import uvicorn

    from tests.unit.test_sync_client import _self_signed
    from township import db
    from township.app import create_app

    _self_signed(tmp_path)
    db_url = f"sqlite:///{tmp_path / 'tls-township.db'}"
    app = create_app(db_url, demo=True)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            ssl_certfile=str(tmp_path / "cert.pem"),
            ssl_keyfile=str(tmp_path / "key.pem"),
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    database = db.Database(db_url)
    handle = Backend(
        url=f"https://127.0.0.1:{port}",
        db_url=db_url,
        kind="sqlite",
        database=database,
        _server=server,
        _thread=thread,
    )
    yield handle.url, tmp_path / "cert.pem", handle
    handle.stop()


def test_certificate_that_does_not_verify_is_refused(
    tls_backend: tuple[str, Path, Backend], store: Store
) -> None:
    url, cert, handle = tls_backend
    code = handle.enrollment_code()
    with pytest.raises(EnrollError) as caught:
        enroll(url, code, "k", store=store)
    assert caught.value.kind == "certificate" and caught.value.message()
    assert store.state("device_id") is None
    # Nothing reached the backend, so the code is still good — with the township's own CA it works.
    result = enroll(url, code, "k", store=store, ca_bundle=str(cert))
    assert result.kiosk_number >= 1


def test_missing_keyring_is_told_plainly_and_does_not_spend_the_code(
    backend: Backend, store: Store, data_home: Path
) -> None:
    import keyring
    from keyring.backends import fail

    code = backend.enrollment_code()
    real = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    try:
        with pytest.raises(EnrollError) as caught:
            enroll(backend.url, code, "k", store=store)
    finally:
        keyring.set_keyring(real)
    assert caught.value.kind == "keyring" and "keyring" in caught.value.message()
    assert enroll(backend.url, code, "k", store=store).kiosk_number >= 1  # the code was not spent
    # From the command line, with no keyring at all: a message and exit 1, no traceback.
    done = _run(
        ["-m", "kiosk", "enroll", "--server", backend.url, "--code", backend.enrollment_code()],
        data_home / "elsewhere",
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        CUNZHAN_LOCALE="en",
    )
    assert done.returncode == 1
    assert "keyring" in done.stdout and "Traceback" not in done.stderr


def test_revoked_device_then_reenrolment(backend: Backend, store: Store) -> None:
    from kiosk.sync.client import Forbidden
    from kiosk.sync.doctor_checks import device_token
    from kiosk.sync.engine import SyncEngine
    from township.services import revoke_device

    first = enroll(backend.url, backend.enrollment_code(), "k", store=store)
    engine = SyncEngine.from_store(store)
    assert engine is not None and engine.sync_once().ok
    revoke_device(backend.database, first.device_id, staff_id=None)
    report = engine.sync_once()
    assert isinstance(report.error, Forbidden)
    assert (store.state("last_error") or "").startswith("forbidden:")
    finding = device_token()
    assert not finding.ok and finding.fix
    second = enroll(backend.url, backend.enrollment_code(), "k", store=store)
    assert second.reenrolled and second.device_id != first.device_id
    token = credentials.load_token(store.path.parent)
    assert (
        token and hashlib.sha256(token.encode()).hexdigest() == _device(backend, second.device_id).token_hash
    )
    engine = SyncEngine.from_store(store)
    assert engine is not None and engine.sync_once().ok
    assert device_token().ok


def test_provisioning_file_enrols_applies_settings_and_is_deleted(backend: Backend, store: Store) -> None:
    from kiosk import settings as s
    from kiosk.sync.worker import start_if_enrolled

    path = store.path.parent / "provision.json"
    path.write_text(
        json.dumps(
            {
                "server": backend.url,
                "enrollment_code": backend.enrollment_code(),
                "kiosk_name": "河口村服务站",
                "settings": {"village": "河口村", "sync_interval_s": 3600, "private_audio": True},
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    seen: list[Any] = []
    worker = start_if_enrolled(store.path, on_change=seen.append)
    assert worker is not None
    try:
        assert worker.wait_for_attempts(1, timeout=60)
        assert worker.last_report is not None and worker.last_report.ok
    finally:
        worker.stop()
    assert not worker.running
    assert not path.exists()
    assert store.state("device_id")
    stored = s.Settings(store.stored_settings())
    assert stored.get(s.VILLAGE) == "河口村" and stored.get(s.SYNC_INTERVAL_S) == 3600
    assert stored.get(s.PRIVATE_AUDIO) is True
    assert seen and seen[-1].enrolled and seen[-1].online


@pytest.mark.parametrize(
    "content",
    [
        '{"server": "SERVER", "enrollment_code": "CODE", "settings": {"no_such_setting": 1}}',
        '{"server": "SERVER", "enrollment_code": "CODE", "settings": {"sync_interval_s": "often"}}',
        '{"server": "SERVER", "code": "CODE"}',
        '{"server": "SERVER", "enrollment_code": "0000-0000-0000"}',
        "not json at all",
    ],
)
def test_bad_provisioning_file_is_set_aside_without_its_code(
    backend: Backend, store: Store, content: str
) -> None:
    code = backend.enrollment_code()
    path = store.path.parent / "provision.json"
    path.write_text(content.replace("SERVER", backend.url).replace("CODE", code), encoding="utf-8")
    with pytest.raises(EnrollError) as caught:
        provision_from_file(store)
    assert caught.value.permanent and caught.value.message()
    assert not path.exists()
    note = (store.path.parent / "provision.rejected.json").read_text(encoding="utf-8")
    assert code not in note and json.loads(note)["error"]
    assert store.state("device_id") is None


def test_provisioning_file_kept_while_the_township_is_unreachable(store: Store) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    path = store.path.parent / "provision.json"
    path.write_text(
        json.dumps({"server": f"http://127.0.0.1:{port}", "enrollment_code": "1234-5678-9012"}),
        encoding="utf-8",
    )
    with pytest.raises(EnrollError) as caught:
        provision_from_file(store)
    assert not caught.value.permanent
    assert path.exists()  # tried again at the next start


def test_doctor_checks_township_link(backend: Backend, store: Store) -> None:
    from kiosk.sync import doctor_checks

    assert not doctor_checks.township_address().ok  # not enrolled yet: says how to enrol
    enroll(backend.url, backend.enrollment_code(), "k", store=store)
    for check in (doctor_checks.township_address, doctor_checks.device_token, doctor_checks.clock):
        finding = check()
        assert finding.ok, finding
    store.set_state("township_url", "http://127.0.0.1:9")
    finding = doctor_checks.township_address()
    assert not finding.ok and finding.fix
    assert requests.get(backend.url + "/v1/health", timeout=5).status_code == 200
