"""Practice mode: the real booking rules on a throw-away copy; the real database stays byte-for-byte the same."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cunzhan.identity import id_check_character
from cunzhan.models import BookingStatus, Channel, Resident
from kiosk.booking import BookingRefused, Refusal
from kiosk.practice import (
    PREFIX,
    PracticeSession,
    banner_text,
    is_practice_store,
    remove_leftovers,
    scratch_root,
)
from kiosk.staff.accounts import StaffMember
from kiosk.staff.desk import StaffDesk
from kiosk.store import Store, new_id, to_text, utc_now


def _files(store: Store) -> dict[str, str]:
    """Digest of the database file and its write-ahead log, as they are on disk now. (The `-shm` file is only
    SQLite's shared-memory index of the WAL, rebuilt from it; its read marks move on every read.)"""
    out = {}
    for suffix in ("", "-wal"):
        path = Path(str(store.path) + suffix)
        if path.exists():
            out[suffix or "db"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _id(n: int) -> str:
    first17 = f"52010219{50 + n:02d}0707{n:03d}"
    return first17 + id_check_character(first17)


def test_a_full_practice_booking_leaves_the_real_database_untouched(
    demo_store: Store, data_home: Path
) -> None:
    real = demo_store
    real.set_state("kiosk_number", "7")
    real.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = _files(real)
    sessions_before = real.query("SELECT id, seats_left FROM sessions ORDER BY id")

    with PracticeSession(real) as practice:
        assert practice.active and is_practice_store(practice.store) and not is_practice_store(real)
        assert not str(practice.folder).startswith(str(data_home))
        # The same catalogue, so the same screens.
        assert len(practice.store.services()) == len(real.services()) > 0
        session = practice.store.query(
            "SELECT id FROM sessions WHERE starts_at > ? ORDER BY starts_at LIMIT 1",
            (to_text(utc_now() + dt.timedelta(days=1)),),
        )[0]["id"]
        rules = practice.bookings()
        resident = Resident(new_id(), "孙玉珍", _id(1), "13700001111", "石桥村")
        booking = rules.book(session_id=session, resident=resident)
        assert booking.status is BookingStatus.REQUESTED  # no lease: the truthful status, as for real
        assert booking.code.startswith("07")  # the kiosk number was copied
        # The real rules run: a second booking for the same session is refused.
        with pytest.raises(BookingRefused) as err:
            rules.book(session_id=session, resident=resident)
        assert err.value.reason is Refusal.DUPLICATE
        # …and the resident's journey goes on: check the booking, cancel it.
        assert practice.store.booking_by_code(booking.code) is not None
        rules.cancel(booking.id)
        assert practice.store.pending_count() == 2  # in the practice outbox only
        # A staff member practising assisted booking uses the practice store too.
        desk = StaffDesk(practice.store, StaffMember("S01", "李春梅"), kiosk_store=real)
        assisted = desk.book_for(session, Resident(new_id(), "孙玉珍", _id(2)))
        assert assisted.channel is Channel.ASSISTED
        folder = practice.folder
        assert folder.exists()
        # Still nothing on the real side, checked while practice is open too.
        real.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert _files(real) == before

    assert not folder.exists()
    assert not practice.active
    real.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert _files(real) == before
    assert real.pending_count() == 0
    assert real.query("SELECT count(*) AS n FROM bookings")[0]["n"] == 0
    assert real.query("SELECT count(*) AS n FROM residents")[0]["n"] == 0
    assert real.query("SELECT count(*) AS n FROM audit_log")[0]["n"] == 0
    assert real.query("SELECT id, seats_left FROM sessions ORDER BY id") == sessions_before


def test_practice_data_is_sealed_with_a_key_that_is_never_kept(demo_store: Store) -> None:
    import keyring

    with PracticeSession(demo_store) as practice:
        session = practice.store.query(
            "SELECT id FROM sessions WHERE starts_at > ? LIMIT 1",
            (to_text(utc_now() + dt.timedelta(days=1)),),
        )[0]["id"]
        practice.bookings().book(session_id=session, resident=Resident(new_id(), "孙玉珍", _id(3)))
        practice.store.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        raw = practice.store.path.read_bytes()
        assert _id(3).encode() not in raw and "孙玉珍".encode() not in raw
        # The practice key is not in the keyring under the practice folder's account.
        from kiosk.crypto import KEYRING_SERVICE, account_for

        assert keyring.get_password(KEYRING_SERVICE, account_for(str(practice.folder))) is None
        assert practice.store.cipher != demo_store.cipher


def test_leftovers_of_a_dead_process_are_removed(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    dead_pid = int(dead.stdout)
    stale = tmp_path / f"{PREFIX}{dead_pid}-abc"
    stale.mkdir()
    (stale / "practice.db").write_bytes(b"x")
    mine = tmp_path / f"{PREFIX}{os.getpid()}-def"
    mine.mkdir()
    unrelated = tmp_path / "something-else"
    unrelated.mkdir()
    assert remove_leftovers(tmp_path) == 1
    assert not stale.exists() and mine.exists() and unrelated.exists()


def test_practice_lives_in_memory_backed_storage_when_there_is_some() -> None:
    root = scratch_root()
    if Path("/dev/shm").is_dir() and os.access("/dev/shm", os.W_OK):
        assert root == Path("/dev/shm")
    else:
        assert root.is_dir()


def test_banner_is_translated() -> None:
    assert "练习模式" in banner_text()


def test_staff_pins_are_checked_against_the_real_store_in_practice(store: Store) -> None:
    from argon2 import PasswordHasher

    from kiosk.practice import kiosk_store
    from kiosk.staff.accounts import StaffAccounts, verify_pin

    StaffAccounts(store, hasher=PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)).add(
        "S01", "李春梅", "482915", actor="enrolment"
    )
    with PracticeSession(store) as practice:
        assert kiosk_store(practice.store) is store
        assert practice.store.query("SELECT count(*) AS n FROM staff")[0]["n"] == 0  # no PIN hashes copied
        result = verify_pin(practice.store, "482915")
        assert result.ok and result.staff is not None and result.staff.staff_id == "S01"
        practice_store = practice.store
    assert kiosk_store(practice_store) is practice_store  # closed: no longer linked
    assert kiosk_store(store) is store
