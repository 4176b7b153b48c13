"""The provisioning file's first staff member, against the REAL township backend (uvicorn on 127.0.0.1) and the real
keyring: set up only once the township accepted the file's code, the PIN never left in clear on disk."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from kiosk.staff.accounts import StaffAccounts, verify_pin
from kiosk.store import Store
from kiosk.sync import credentials
from kiosk.sync.enroll import EnrollError, provision_from_file
from tests.integration.conftest import Backend

pytestmark = pytest.mark.usefixtures("keyring_ready")

PIN = "482915"


def _write(path: Path, server: str, code: str) -> None:
    path.write_text(
        json.dumps(
            {
                "server": server,
                "enrollment_code": code,
                "kiosk_name": "上坪村服务站",
                "staff": {"id": "S01", "name": "李春梅", "pin": PIN},
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_provisioned_staff_waits_for_the_township_then_is_set_up(backend: Backend, store: Store) -> None:
    path = store.path.parent / "provision.json"
    code = backend.enrollment_code()
    _write(path, f"http://127.0.0.1:{_free_port()}", code)
    try:
        with pytest.raises(EnrollError) as down:
            provision_from_file(store)
        assert not down.value.permanent
        kept = path.read_text(encoding="utf-8")
        assert (
            path.exists() and PIN not in kept and "$argon2id$" in kept
        )  # hashed at once, kept for next start
        assert not StaffAccounts(store).has_staff()  # not before the township accepted the code
        # The township is reachable at the next start (here: the address corrected in the kept file).
        data = json.loads(kept)
        data["server"] = backend.url
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        result = provision_from_file(store)
        assert result is not None and result.kiosk_number >= 1
        assert not path.exists()
        assert verify_pin(store, PIN).ok
        assert [m.staff_id for m in StaffAccounts(store).members()] == ["S01"]
        audit = store.query("SELECT actor, action, detail FROM audit_log ORDER BY id")
        assert {"actor": "provisioning", "action": "staff_added", "detail": "S01"} in audit
        queued = [
            e for op in store.pending_ops(1000) if op["entity"] == "audit" for e in op["payload"]["entries"]
        ]
        assert any(e["actor"] == "provisioning" and e["action"] == "staff_added" for e in queued)
        # Nothing the kiosk wrote holds the PIN in clear.
        store.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        written = b"".join(p.read_bytes() for p in store.path.parent.rglob("*") if p.is_file())
        assert PIN.encode() not in written and "李春梅".encode() not in written
    finally:
        credentials.delete_token(store.path.parent)


def test_refused_code_sets_up_no_staff_and_keeps_no_pin(backend: Backend, store: Store) -> None:
    path = store.path.parent / "provision.json"
    code = backend.enrollment_code()
    from kiosk.sync.enroll import enroll

    enroll(backend.url, code, "first", store=store)  # the code is spent
    try:
        _write(path, backend.url, code)
        with pytest.raises(EnrollError) as refused:
            provision_from_file(store)
        assert refused.value.kind == "code_refused" and refused.value.permanent
        assert not path.exists()
        note = (store.path.parent / "provision.rejected.json").read_text(encoding="utf-8")
        assert PIN not in note and "argon2" not in note and code not in note
        assert not StaffAccounts(store).has_staff()
    finally:
        credentials.delete_token(store.path.parent)


def test_bad_staff_entry_rejects_the_file_before_spending_the_code(backend: Backend, store: Store) -> None:
    path = store.path.parent / "provision.json"
    code = backend.enrollment_code()
    path.write_text(
        json.dumps(
            {
                "server": backend.url,
                "enrollment_code": code,
                "staff": {"id": "S01", "name": "李春梅", "pin": "123456"},
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(EnrollError) as bad:
        provision_from_file(store)
    assert bad.value.kind == "provision_file" and "容易" in bad.value.message()
    assert store.state("device_id") is None and not StaffAccounts(store).has_staff()
    note = (store.path.parent / "provision.rejected.json").read_text(encoding="utf-8")
    assert "123456" not in note and code not in note
