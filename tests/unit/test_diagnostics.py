"""The diagnostics export holds what a technician needs and no personal data or token, even from careless logs."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import zipfile
from pathlib import Path

from argon2 import PasswordHasher

from cunzhan import paths
from cunzhan.identity import id_check_character
from cunzhan.models import Dependent, Resident
from kiosk.diagnostics import Scrubber, export_diagnostics
from kiosk.staff.accounts import StaffAccounts
from kiosk.staff.desk import StaffDesk
from kiosk.store import Store, new_id, to_text, utc_now
from kiosk.sync import credentials

TOKEN = "dtok_Q2h1bnpoYW4tZGV2aWNlLXRva2VuLXNob3VsZC1uZXZlci1sZWFr"
PIN = "482915"


def _id(n: int) -> str:
    first17 = f"41010219{30 + n:02d}0315{n:03d}"
    return first17 + id_check_character(first17)


def _populate(store: Store) -> dict[str, list[str]]:
    """A kiosk with residents, a dependent, staff, assisted and self bookings, a token, and a careless log."""
    accounts = StaffAccounts(store, hasher=PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1))
    staff = accounts.add("S01", "李春梅", PIN, actor="enrolment")
    desk = StaffDesk(store, staff)
    session = store.query(
        "SELECT id FROM sessions WHERE starts_at > ? ORDER BY starts_at LIMIT 1",
        (to_text(utc_now() + dt.timedelta(days=1)),),
    )[0]["id"]
    people = [("张桂兰", _id(1), "13812345678"), ("欧阳春花", _id(2), "15900001111"), ("王芳", _id(3), None)]
    for i, (name, number, phone) in enumerate(people):
        resident = Resident(new_id(), name, number, phone, "上坪村")
        if i == 0:
            child = Dependent(new_id(), resident.id, "张小雨", "孙女", 2016)
            resident = Resident(resident.id, name, number, phone, "上坪村", dependents=(child,))
            desk.book_for(session, resident, child)
        elif i == 1:
            desk.book_for(session, resident)
        else:
            from kiosk.booking import Bookings

            Bookings(store).book(session_id=session, resident=resident)
    desk.lookup_by_id(_id(1))
    store.set_setting("kiosk_phone", "13698765432", actor="S01")
    store.set_state("kiosk_number", "7")
    store.set_state("device_id", new_id())
    store.set_state("township_url", "https://hall.qingshan.example:8700")
    store.set_state("last_error", "offline: no route")
    credentials.save_token(store.path.parent, TOKEN)
    # A log line written by careless code: the export must not pass it on.
    (paths.data_dir() / "kiosk.log").write_text(
        f"2026-11-28 sync: Authorization: Bearer {TOKEN}\n"
        f"booking for 张桂兰 id {_id(1)} phone 138-1234-5678 token={TOKEN}\n"
        f"looked up {_id(2).lower()} 欧阳春花 +86 159 0000 1111 and 王芳 and 张小雨\n",
        encoding="utf-8",
    )
    return {
        "names": ["张桂兰", "欧阳春花", "王芳", "张小雨", "李春梅"],
        "numbers": [
            _id(1),
            _id(2),
            _id(3),
            _id(2).lower(),
            "13812345678",
            "15900001111",
            "13698765432",
            "138-1234-5678",
            "159 0000 1111",
        ],
        "secrets": [TOKEN, PIN],
    }


def test_export_contains_the_state_and_no_personal_data(demo_store: Store, tmp_path: Path) -> None:
    sensitive = _populate(demo_store)
    try:
        path = export_diagnostics(
            demo_store, tmp_path / "out", doctor=[{"name": "x", "ok": True, "detail": "ok", "fix": ""}]
        )
    finally:
        credentials.delete_token(demo_store.path.parent)
    assert path.exists() and path.suffix == ".zip" and "kiosk7" in path.name
    with zipfile.ZipFile(path) as bundle:
        names = set(bundle.namelist())
        texts = {n: bundle.read(n).decode("utf-8") for n in names}
    assert {
        "manifest.json",
        "settings.json",
        "sync.json",
        "counts.json",
        "audit.json",
        "doctor.json",
        "logs/kiosk.log",
    } <= names
    everything = "\n".join(texts.values())
    for value in sensitive["names"] + sensitive["numbers"] + sensitive["secrets"]:
        assert value not in everything, f"personal data or secret in the export ({len(value)} chars)"
    assert "pin_hash" not in everything and "$argon2" not in everything
    # …and what the technician needs is there.
    manifest = json.loads(texts["manifest.json"])
    assert manifest["version"] and manifest["township_host"] == "hall.qingshan.example"
    assert "m002_staff_accounts" in manifest["schema"]
    settings = json.loads(texts["settings.json"])["settings"]
    assert settings["kiosk_phone"]["value"] == "136****5432" and settings["kiosk_phone"]["source"] == "stored"
    assert settings["volume"] == {"value": 0.8, "source": "default"}
    sync = json.loads(texts["sync.json"])
    assert sync["status"]["enrolled"] is True and sync["status"]["last_error"] == "offline: no route"
    assert sync["status"]["pending_ops"] == demo_store.pending_count() > 0
    counts = json.loads(texts["counts.json"])
    assert counts["rows"]["bookings"] == 3 and counts["rows"]["residents"] == 3
    assert sorted((b["channel"], b["n"]) for b in counts["bookings"]) == [("assisted", 2), ("self", 1)]
    assert {o["entity"] for o in counts["outbox"]} == {"booking", "audit"}
    audit = json.loads(texts["audit.json"])
    assert any(a["action"] == "resident_lookup" and a["actor"] == "S01" for a in audit)
    assert any(a["action"] == "booking_created" for a in audit)
    log = texts["logs/kiosk.log"]
    assert "Bearer <token>" in log and "<name>" in log and "4101**********" in log and "138****5678" in log


def test_scrubber_patterns() -> None:
    scrub = Scrubber(names=["赵大山", "李"], numbers=[], secrets=["s3cr3t-token-value"])
    text = scrub.text(
        "赵大山 李 s3cr3t-token-value 11010519491231002X 110105491231002 13912345678 "
        "e3b0c442-98fc-1c14-9afb-f4c8996fb924 " + "A" * 40 + " 2026-11-28T10:00:00+00:00"
    )
    assert text.split() == [
        "<name>",
        "李",
        "<token>",
        "1101**********002X",
        "1101*******1002",
        "139****5678",
        "e3b0c442-98fc-1c14-9afb-f4c8996fb924",
        "<secret>",
        "2026-11-28T10:00:00+00:00",
    ]


def test_command_line_writes_the_export(demo_store: Store, data_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.diagnostics", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    written = Path(result.stdout.strip().splitlines()[-1])
    assert written.parent == out and zipfile.is_zipfile(written)
    with zipfile.ZipFile(written) as bundle:
        doctor = json.loads(bundle.read("doctor.json"))
    assert any(f["name"] for f in doctor) and all(set(f) == {"name", "ok", "detail", "fix"} for f in doctor)
