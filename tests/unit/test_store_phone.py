"""A kiosk store keeps a phone booking (电话预约) for a resident it cannot name, and gives it to them when they type
their ID number (kiosk/store/phone.py, kiosk/sync/apply.receive_phone_booking; docs/sync.md, "Phone bookings")."""

from __future__ import annotations

import datetime as dt
import secrets

import pytest

from cunzhan import protocol
from cunzhan.fieldcrypto import match_hash
from cunzhan.models import BookingStatus, Resident, Session
from kiosk.booking import Bookings
from kiosk.store import Store, new_id, utc_now
from kiosk.sync.apply import receive_phone_booking

ID = "11010519491231002X"
OTHER = "33010219800101123X"
KEY = secrets.token_hex(32)


def _session(store: Store) -> Session:
    start = utc_now() + dt.timedelta(minutes=30)
    s = Session(new_id(), "svc", "prov", start, start + dt.timedelta(minutes=30), 4, 4, "诊室")
    store.upsert_session(s)
    return s


def _receive(store: Store, session: Session, number: str, code: str, status: str = "confirmed") -> str:
    change = protocol.Change(
        seq=1,
        entity="booking",
        entity_id=new_id(),
        op="upsert",
        version=1,
        data={
            "id": "x",
            "status": status,
            "code": code,
            "session_id": session.id,
            "version": 1,
            "message": "已确认",
            "match": match_hash(KEY, number),
        },
    )
    with store.transaction() as conn:
        store.set_match_key(conn, KEY)
        assert receive_phone_booking(store, conn, change)
    return change.entity_id


def test_a_phone_booking_waits_unnamed_and_becomes_the_residents_when_they_type_their_number(
    store: Store,
) -> None:
    session = _session(store)
    first = _receive(store, session, ID, "00900016")
    second = _receive(store, session, ID, "00900024")
    held = store.booking(first)
    assert held is not None and held.status is BookingStatus.CONFIRMED
    assert store.booking(second).resident_id == held.resident_id  # type: ignore[union-attr]  # one stand-in
    # The key is kept sealed; nothing in the file names the resident.
    assert KEY not in str(store.query("SELECT value FROM sync_state"))
    assert not store.query("SELECT 1 FROM residents WHERE id_masked != ''")
    # Another number claims nothing.
    assert store.find_resident(OTHER) is None
    resident = store.find_resident(ID.lower())
    assert resident is not None and resident.id_number == ID and resident.name == ""
    assert {b.id for b in store.bookings_for_resident(resident.id)} == {first, second}
    checked = Bookings(store).check_in(first)
    assert checked.status is BookingStatus.CHECKED_IN
    assert [op["kind"] for op in store.pending_ops()] == ["check_in"]


def test_a_resident_the_kiosk_knows_gets_the_phone_booking_on_their_record(store: Store) -> None:
    session = _session(store)
    known = store.save_resident(Resident(new_id(), "张桂兰", ID, "13812345678", "上坪村"))
    booking = _receive(store, session, ID, "00900032")
    with store.transaction():  # also when identifying inside a caller's transaction
        found = store.find_resident(ID)
    assert found is not None and found.id == known.id and found.name == "张桂兰"
    assert [b.id for b in store.bookings_for_resident(known.id)] == [booking]
    assert not store.query("SELECT 1 FROM residents WHERE id_hash LIKE 'match:%'")


def test_only_phone_bookings_are_taken_from_a_pull(store: Store) -> None:
    session = _session(store)
    change = protocol.Change(
        seq=1,
        entity="booking",
        entity_id=new_id(),
        op="upsert",
        version=1,
        data={"id": "x", "status": "confirmed", "code": "0100016", "session_id": session.id, "version": 1},
    )
    with store.transaction() as conn:
        assert not receive_phone_booking(store, conn, change)  # one of this kiosk's, lost: not rebuilt
    with store.transaction() as conn, pytest.raises(ValueError):
        store.set_match_key(conn, "not a key")
