from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from cunzhan.models import Resident
from kiosk.store import KNOWN_MIGRATIONS, TABLES, Store, StoreError, new_id

ID = "11010519491231002X"


def test_migrations_from_an_empty_file(store: Store) -> None:
    tables = {r["name"] for r in store.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {
        "services",
        "providers",
        "sessions",
        "residents",
        "dependents",
        "bookings",
        "outbox",
        "sync_state",
        "feedback",
        "audit_log",
        "settings",
        "leases",
    } <= tables
    assert store.query("PRAGMA journal_mode")[0]["journal_mode"] == "wal"
    assert store.query("PRAGMA user_version")[0]["user_version"] == len(KNOWN_MIGRATIONS)


def test_reopening_applies_nothing_twice(store: Store) -> None:
    path = store.path
    store.close()
    again = Store(path, store.cipher)
    applied = again.query("SELECT name FROM _sqlite_migrations")
    assert [r["name"] for r in applied] == list(KNOWN_MIGRATIONS)
    again.close()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_newer_schema_is_refused_and_left_untouched(store: Store) -> None:
    path = store.path
    store.db.conn.execute("PRAGMA user_version = 99")
    store.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    before = _digest(path)
    with pytest.raises(StoreError) as err:
        Store(path, store.cipher)
    assert err.value.kind == "newer_schema"
    assert "新版本" in err.value.message()
    assert _digest(path) == before


def test_unknown_migration_is_refused(store: Store) -> None:
    """A file whose version says older (so migrations would run) but whose sqlite-utils record names a migration
    this version does not know is refused, untouched. (A file at the current version opens from `user_version` and
    its tables alone: every release sets `user_version` after migrating.)"""
    path = store.path
    store.db.conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
        "VALUES ('cunzhan-kiosk', 'm999_future', '2030-01-01')"
    )
    store.db.conn.execute(f"PRAGMA user_version = {len(KNOWN_MIGRATIONS) - 1}")
    store.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    before = _digest(path)
    with pytest.raises(StoreError) as err:
        Store(path, store.cipher)
    assert err.value.kind == "newer_schema"
    assert _digest(path) == before


def test_current_tables_are_what_the_migrations_make(store: Store) -> None:
    made = {r["name"] for r in store.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert made - {"sqlite_sequence", "_sqlite_migrations"} == TABLES


def test_foreign_file_claiming_the_current_version_is_refused(tmp_path: Path, store: Store) -> None:
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE holiday_photos (id INTEGER)")
    conn.execute(f"PRAGMA user_version = {len(KNOWN_MIGRATIONS)}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError) as err:
        Store(other, store.cipher)
    assert err.value.kind == "not_a_database"


def test_an_older_file_is_migrated(store: Store) -> None:
    """A file with a migration still to apply (its version says so) gets it, through sqlite-utils."""
    path = store.path
    store.conn.execute("ALTER TABLE bookings DROP COLUMN erased")
    store.db.conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm003_erased_bookings'")
    store.conn.execute(f"PRAGMA user_version = {len(KNOWN_MIGRATIONS) - 1}")
    store.close()
    again = Store(path, store.cipher)
    assert "erased" in {r["name"] for r in again.query("PRAGMA table_info(bookings)")}
    assert again.query("PRAGMA user_version")[0]["user_version"] == len(KNOWN_MIGRATIONS)
    again.close()


def test_garbage_file_is_refused_and_left_untouched(tmp_path: Path, store: Store) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite at all" * 100)
    before = _digest(bad)
    with pytest.raises(StoreError) as err:
        Store(bad, store.cipher)
    assert err.value.kind == "not_a_database"
    assert "损坏" in err.value.message()
    assert _digest(bad) == before


def test_foreign_sqlite_file_is_refused(tmp_path: Path, store: Store) -> None:
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE holiday_photos (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError):
        Store(other, store.cipher)


def test_personal_fields_are_encrypted_at_rest(store: Store) -> None:
    resident = store.save_resident(Resident(new_id(), "张桂兰", ID, "13812345678", "上坪村"))
    store.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = store.path.read_bytes()
    for clear in (ID.encode(), "张桂兰".encode(), b"13812345678"):
        assert clear not in raw
    found = store.find_resident(ID.lower())
    assert found is not None and found.id == resident.id and found.name == "张桂兰"
    assert store.resident_masked_id(resident.id) == "1101**********002X"
    assert store.find_resident("110105194912310011") is None


def test_settings_round_trip(store: Store) -> None:
    from kiosk import settings as s

    store.set_setting("volume", "0.5", actor="staff-1")
    view = s.Settings(store.stored_settings())
    assert view.get(s.VOLUME) == 0.5
    assert view.get(s.PRIVATE_AUDIO) is False
    assert store.query("SELECT actor, action FROM audit_log")[-1] == {
        "actor": "staff-1",
        "action": "setting_changed",
    }


def test_field_keys_derived_from_a_master_key_do_not_change() -> None:
    """Stores written by earlier releases must still open: the derivation (HKDF-SHA256, no salt) is pinned."""
    from cunzhan.fieldcrypto import FieldCipher

    cipher = FieldCipher.from_master(bytes(range(32)))
    assert cipher.enc_key.hex() == "21d9aa728d7867fcbe7a24050699b7fdf8f405a5748adaffa112fb729ed3d5ea"
    assert cipher.mac_key.hex() == "8da4ce404e05142f2e25ff94bf74b3735bb0163c883e9618a0bbc7892137e718"


def test_pending_cipher_reads_the_key_once_and_replays_a_failure() -> None:
    import secrets

    from cunzhan.fieldcrypto import FieldCipher
    from kiosk.crypto import KeyringUnavailable, PendingCipher

    calls: list[int] = []
    real = FieldCipher.from_master(secrets.token_bytes(32))

    def read() -> FieldCipher:
        calls.append(1)
        return real

    pending = PendingCipher(read)
    sealed = pending.encrypt(
        "张三", where="t"
    )  # used before anyone called load(): the key is read there and then
    assert pending.load() is real and real.decrypt(sealed, where="t") == "张三" and len(calls) == 1
    assert pending.lookup_hash("x") == real.lookup_hash("x") and len(calls) == 1

    def broken() -> FieldCipher:
        calls.append(2)
        raise KeyringUnavailable("no keyring backend")

    failing = PendingCipher(broken)
    for _ in range(2):
        with pytest.raises(KeyringUnavailable):
            failing.decrypt("v2:xx", where="t")
    assert calls.count(2) == 1  # not retried behind the kiosk's back: the first answer stands


def test_a_current_store_opens_without_sqlite_utils(store: Store) -> None:
    import subprocess
    import sys

    code = (
        "import sys\nfrom pathlib import Path\nfrom kiosk.crypto import FieldCipher\nfrom kiosk.store import Store\n"
        f"s = Store(Path({str(store.path)!r}), FieldCipher.from_master(bytes(32)))\n"
        "s.stored_settings()\nprint('sqlite_utils' not in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.stdout.strip() == "True", done.stderr


def test_new_ids_are_uuid7_with_the_time_in_front() -> None:
    import time
    import uuid

    before = time.time_ns() // 1_000_000
    first = new_id()
    time.sleep(0.002)
    later = [new_id() for _ in range(10_000)]
    after = time.time_ns() // 1_000_000
    parsed = uuid.UUID(first)
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122 and str(parsed) == first
    assert before <= int(first.replace("-", "")[:12], 16) <= after
    assert len(set(later)) == len(later)  # 74 random bits per millisecond
    assert all(first < other for other in later)  # a later millisecond sorts after: indexes grow at one end
