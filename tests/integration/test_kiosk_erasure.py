"""Issue 14 (PIPL): when the township erases a resident (on request in the console, or by retention), each kiosk
that booked them erases its own copy at its next pull. Real kiosk stores and sync engine, the real backend over
HTTP on 127.0.0.1, SQLite and PostgreSQL."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cunzhan.models import Dependent, Resident
from kiosk.booking import Bookings
from kiosk.store import SEALED_COLUMNS, Store
from kiosk.sync.engine import SyncReport
from tests.browser.console_client import STAFF_PASSWORD, ConsoleClient
from tests.integration.conftest import unique_id_number
from tests.integration.sync_kiosks import KioskSim
from township import db


@pytest.fixture
def admin(any_backend: Any) -> ConsoleClient:
    try:
        any_backend.create_staff("cachu", "admin", STAFF_PASSWORD)
    except Exception:  # already made for this module's backend by an earlier test
        pass
    client = ConsoleClient(any_backend.url)
    assert client.sign_in("cachu").status_code == 200
    return client


def _kiosk(backend: Any, root: Path, name: str) -> KioskSim:
    kiosk = KioskSim(root, name)
    kiosk.enroll(backend.url, backend.enrollment_code())
    return kiosk


def _erase_in_console(admin: ConsoleClient, id_number: str) -> None:
    found = admin.post("/console/residents/find", {"id_number": id_number})
    match = re.search(r"/console/residents/([0-9a-f-]{36})/erase", found.text)
    assert found.status_code == 200 and match is not None
    erased = admin.post(f"/console/residents/{match.group(1)}/erase", {"confirm": "yes"})
    assert erased.status_code == 200 and "was erased" in erased.text


def _plain_fields(store: Store) -> list[str]:
    """Every encrypted field of the kiosk database, decrypted."""
    from cunzhan.fieldcrypto import field_ref

    found = []
    for table, key, column in SEALED_COLUMNS:
        for row_id, sealed in store.conn.execute(f"SELECT {key}, {column} FROM {table}").fetchall():
            plain = store.cipher.decrypt(sealed, where=field_ref(table, column, str(row_id)))
            if plain:
                found.append(plain)
    return found


def test_an_erased_resident_is_erased_from_the_kiosk_that_booked_them_at_its_next_pull(
    any_backend: Any, admin: ConsoleClient, tmp_path: Path
) -> None:
    a = _kiosk(any_backend, tmp_path, "甲")
    b = _kiosk(any_backend, tmp_path, "乙")
    sessions = [any_backend.new_session() for _ in range(2)]
    for kiosk in (a, b):
        kiosk.sync_until_ok(kiosk.engine())
    number, other = unique_id_number(), unique_id_number()
    resident = Resident(str(uuid.uuid4()), "删除居民", number, "13955556666", "上坪村")
    grandchild = Dependent(str(uuid.uuid4()), resident.id, "删除孙子", "孙子", 2016)
    resident = Resident(
        resident.id, resident.name, number, resident.phone, resident.village, dependents=(grandchild,)
    )
    booked = [
        Bookings(a.store).book(session_id=sessions[0], resident=resident),
        Bookings(a.store).book(session_id=sessions[1], resident=resident, dependent=grandchild),
    ]
    kept = Bookings(a.store).book(
        session_id=sessions[0],
        resident=Resident(str(uuid.uuid4()), "留下居民", other, "13977778888", "下坪村"),
    )
    at_b = Bookings(b.store).book(
        session_id=sessions[1],
        resident=Resident(str(uuid.uuid4()), "乙站居民", unique_id_number(), "13911112222", "中坪村"),
    )
    for kiosk in (a, b):
        kiosk.sync_until_ok(kiosk.engine())
    personal = ["删除居民", number, "13955556666", "删除孙子"]
    assert set(personal) <= {x for f in _plain_fields(a.store) for x in personal if x in f}  # held before
    cursor_b = b.store.state("catalogue_cursor")

    _erase_in_console(admin, number)
    a.sync_until_ok(a.engine())

    assert a.store.find_resident(number) is None  # the store cannot find them by ID number any more
    fields = _plain_fields(a.store)
    assert not [f for f in fields if any(p in f for p in personal)]
    raw = b"".join(p.read_bytes() for p in a.data_dir.glob("kiosk.db*"))
    assert not [p for p in personal if p.encode() in raw]
    gone = a.store.resident(booked[0].resident_id)
    assert gone is not None and (gone.name, gone.id_number, gone.phone, gone.village) == ("", "", None, None)
    assert [d.name for d in gone.dependents] == [""]
    # The bookings stay, as the township keeps them: session, code, status.
    for made in booked:
        row = a.store.booking(made.id)
        assert row is not None and row.code == made.code and row.status.value == "confirmed"
    # Only this resident: another one booked at the same kiosk keeps their record.
    still = a.store.find_resident(other)
    assert still is not None and still.name == "留下居民" and a.store.booking(kept.id) is not None
    # The change is private to the kiosk that made the bookings and carries no personal data.
    with any_backend.database.read() as conn:
        logged = conn.execute(
            sa.select(db.changes.c.scope, db.changes.c.data)
            .where(db.changes.c.entity == "booking", db.changes.c.entity_id.in_([x.id for x in booked]))
            .order_by(db.changes.c.seq)
        ).all()
    erasures = [r for r in logged if r.data.get("erased")]
    assert len(erasures) == 2 and {r.scope for r in erasures} == {a.store.state("device_id")}
    for r in erasures:
        assert set(r.data) == {"id", "status", "code", "session_id", "version", "message", "erased"}
        assert not [p for p in personal if p in str(r.data)]
    # A later change of an erased booking still says so (compaction keeps only a booking's latest change).
    from township.services import cancel_session

    cancel_session(any_backend.database, sessions[1], "停诊", staff_id=None)
    with any_backend.database.read() as conn:
        last = conn.execute(
            sa.select(db.changes.c.data)
            .where(db.changes.c.entity == "booking", db.changes.c.entity_id == booked[1].id)
            .order_by(db.changes.c.seq.desc())
            .limit(1)
        ).scalar_one()
    assert last["status"] == "cancelled" and last["erased"] is True
    a.sync_until_ok(a.engine())
    row = a.store.booking(booked[1].id)
    assert row is not None and row.status.value == "cancelled" and a.store.find_resident(number) is None
    # The other kiosk learns nothing: since its last pull it was sent only its own booking (cancelled with the
    # session), never one of the erased resident's.
    page = b.engine().client.pull(cursor_b, 500)
    assert {c.entity_id for c in page.changes if c.entity == "booking"} == {at_b.id}
    assert b.store.booking(at_b.id) is not None and not [c for c in page.changes if c.data.get("erased")]


def test_a_resident_who_booked_again_before_the_pull_keeps_their_record_and_pending_ops_still_go(
    any_backend: Any, admin: ConsoleClient, tmp_path: Path
) -> None:
    a = _kiosk(any_backend, tmp_path, "丙")
    sessions = [any_backend.new_session() for _ in range(2)]
    engine = a.engine()
    a.sync_until_ok(engine)
    number = unique_id_number()
    resident = Resident(str(uuid.uuid4()), "又来居民", number, "13933334444", "上坪村")
    first = Bookings(a.store).book(session_id=sessions[0], resident=resident)
    a.sync_until_ok(engine)
    _erase_in_console(admin, number)
    # Offline meanwhile: the resident cancels the first booking and books again (both still to send) when the
    # pull arrives (as when the screen acts between a sync's push and its pull).
    Bookings(a.store).cancel(first.id)
    again = Bookings(a.store).book(session_id=sessions[1], resident=resident)
    engine._pull_all(SyncReport())
    create_first = next(o for o in a.all_ops() if o["entity_id"] == first.id and o["kind"] == "create")
    assert create_first["payload"] == {}  # its answered create no longer holds the resident's details
    kept = a.store.find_resident(number)
    assert kept is not None and kept.name == "又来居民"  # a live booking still needs them (pending create)
    a.sync_until_ok(engine)  # the pending cancel and create go, and are answered as usual
    states = {(o["entity_id"], o["kind"]): (o["state"], o["payload"]) for o in a.all_ops()}
    assert states[(first.id, "cancel")][0] == "done" and states[(first.id, "cancel")][1] == {}  # scrubbed
    assert states[(again.id, "create")][0] == "done"
    row = a.store.booking(first.id)
    assert row is not None and row.status.value == "cancelled"
    # The new booking made a new record at the township; erasing that one erases the kiosk's copy too.
    _erase_in_console(admin, number)
    a.sync_until_ok(engine)
    assert a.store.find_resident(number) is None
    assert not [f for f in _plain_fields(a.store) if "又来居民" in f or number in f]


def test_retention_erases_the_kiosks_copy_too(any_backend: Any, tmp_path: Path) -> None:
    import datetime as dt

    from township.retention import erase_inactive

    a = _kiosk(any_backend, tmp_path, "丁")
    session = any_backend.new_session()
    engine = a.engine()
    a.sync_until_ok(engine)
    number = unique_id_number()
    Bookings(a.store).book(
        session_id=session, resident=Resident(str(uuid.uuid4()), "过期居民", number, "13922223333", "上坪村")
    )
    a.sync_until_ok(engine)
    assert erase_inactive(any_backend.database, now=db.now_utc() + dt.timedelta(days=365 * 30)) >= 1
    a.sync_until_ok(engine)
    assert a.store.find_resident(number) is None
    assert not [f for f in _plain_fields(a.store) if "过期居民" in f or number in f or "13922223333" in f]
