"""Stores written by earlier releases open with this one and read back whole (made by tests/fixtures/make_old_store.py:
the release before #17, and the first release, schema m001 only with fields sealed without associated data)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cunzhan.fieldcrypto import FieldCipher
from cunzhan.models import BookingStatus
from kiosk.store import KNOWN_MIGRATIONS, Store, SyncKey
from tests.fixtures.make_old_store import MASTER_KEY, OLD_STORE

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _open(tmp_path: Path, name: str) -> Store:
    path = tmp_path / "kiosk.db"
    shutil.copyfile(FIXTURES / name, path)
    return Store(path, FieldCipher.from_master(MASTER_KEY))


@pytest.mark.parametrize("name", ["store-1f5d7cf.db", "store-m001.db"])
def test_an_old_store_opens_migrated_and_reads_back_decrypted(tmp_path: Path, name: str) -> None:
    store = _open(tmp_path, name)
    assert store.query("PRAGMA user_version")[0]["user_version"] == len(KNOWN_MIGRATIONS)

    sid, service_name, bring = OLD_STORE["service"]
    service = store.service(sid)
    assert service is not None and (service.name, service.what_to_bring) == (service_name, bring)
    session_id, start, capacity = OLD_STORE["session"]
    session = store.session(session_id)
    assert session is not None and session.starts_at == start and session.capacity == capacity

    rid, rname, number, phone, village = OLD_STORE["resident"]
    resident = store.find_resident(number)
    assert resident is not None
    assert (resident.id, resident.name, resident.phone, resident.village) == (rid, rname, phone, village)
    did, dname, relation, year = OLD_STORE["dependent"]
    assert [(d.id, d.name, d.relation, d.birth_year) for d in resident.dependents] == [
        (did, dname, relation, year)
    ]

    [booking] = store.bookings_for_resident(rid)
    assert booking.session_id == session_id and booking.dependent_id == did
    assert booking.status is BookingStatus.REQUESTED and booking.code.startswith(
        OLD_STORE["kiosk_number"].zfill(2)
    )
    assert store.booking_by_code(booking.code) == booking
    [op] = store.pending_ops()
    assert op["entity_id"] == booking.id and op["kind"] == "create"
    assert op["payload"]["resident"]["name"] == rname and op["payload"]["resident"]["id_number"] == number

    key, value = OLD_STORE["setting"]
    assert store.stored_settings()[key] == value
    assert store.state(SyncKey.KIOSK_NUMBER) == OLD_STORE["kiosk_number"]
    assert store.integrity_check() == "ok"
    store.close()

    again = Store(
        store.path, FieldCipher.from_master(MASTER_KEY)
    )  # reopened: nothing left to migrate or bind
    assert again.find_resident(number) == resident
    assert not again.query("SELECT 1 FROM residents WHERE name_enc LIKE 'v1:%'")
    again.close()


def test_staff_accounts_of_the_release_before_still_sign_in(tmp_path: Path) -> None:
    from kiosk.staff.accounts import StaffAccounts

    store = _open(tmp_path, "store-1f5d7cf.db")
    staff_id, staff_name, pin = OLD_STORE["staff"]
    result = StaffAccounts(store).verify_pin(pin)
    assert result.staff is not None and (result.staff.staff_id, result.staff.name) == (staff_id, staff_name)
    assert not StaffAccounts(store).verify_pin("000000").ok
    store.close()


def test_the_first_releases_store_gets_the_staff_tables(tmp_path: Path) -> None:
    from kiosk.staff.accounts import StaffAccounts

    store = _open(tmp_path, "store-m001.db")
    assert not StaffAccounts(store).has_staff()
    store.close()
