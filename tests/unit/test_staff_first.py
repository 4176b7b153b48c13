"""The first staff member only with authority (console, provisioning file, after enrolment), the demo staff member,
staff cancelling inside the residents' window, and family members in assisted bookings. Real keyring, real argon2id,
the real `python -m kiosk staff` command in a subprocess."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from cunzhan.models import Resident, Session
from kiosk.booking import BookingRefused, Bookings, Refusal
from kiosk.staff.accounts import StaffAccounts, StaffError, verify_pin
from kiosk.staff.console import ACTOR_CONSOLE
from kiosk.staff.desk import StaffDesk
from kiosk.staff.provisioning import (
    DEMO_STAFF_ID,
    ProvisionedStaff,
    add_first_staff,
    apply_provisioned_staff,
    ensure_demo_staff,
    read_provisioned_staff,
)
from kiosk.store import Store, new_id
from kiosk.sync.audit import queue_audit
from tests.unit.test_staff import Clock, id_number

PIN = "482915"
OTHER_PIN = "730164"
LIGHT = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
ROOT = Path(__file__).resolve().parents[2]


def audit_rows(store: Store) -> list[dict[str, Any]]:
    return store.query("SELECT actor, action, detail FROM audit_log ORDER BY id")


# --- the first staff member ---------------------------------------------------------------------------------------


def test_first_staff_member_is_refused_once_staff_exist(store: Store) -> None:
    member = add_first_staff(store, "S01", "李春梅", PIN, hasher=LIGHT)
    assert member.staff_id == "S01"
    assert {"actor": "enrolment", "action": "staff_added", "detail": "S01"} in audit_rows(store)
    with pytest.raises(StaffError) as err:
        add_first_staff(store, "S02", "王强", OTHER_PIN, hasher=LIGHT)
    assert err.value.kind == "first_exists" and "已经" in err.value.message()
    assert [m.staff_id for m in StaffAccounts(store).members()] == ["S01"]


def test_no_staff_message_says_what_to_do(store: Store) -> None:
    result = verify_pin(store, PIN)
    assert result.no_staff
    text = result.message()
    assert "登记" in text and "python -m kiosk staff add" in text


# --- the demo staff member ----------------------------------------------------------------------------------------


def test_demo_staff_gets_a_fresh_pin_each_start_and_never_touches_a_real_kiosk(store: Store) -> None:
    first = ensure_demo_staff(store)
    assert first is not None and first[0] == DEMO_STAFF_ID
    assert verify_pin(store, first[1]).ok
    second = ensure_demo_staff(store)
    assert second is not None and second[0] == DEMO_STAFF_ID
    if second[1] != first[1]:  # a new random PIN: the old one stops working
        assert not verify_pin(store, first[1]).ok
    assert verify_pin(store, second[1]).ok
    assert [r["actor"] for r in audit_rows(store) if r["action"].startswith("staff_added")] == ["demo"]
    # A kiosk with real staff: the demo adds nothing.
    other = Store.open(store.path.parent / "real.db")
    try:
        StaffAccounts(other, hasher=LIGHT).add("S01", "李春梅", PIN, actor="console")
        assert ensure_demo_staff(other) is None
        assert [m.staff_id for m in StaffAccounts(other).members()] == ["S01"]
    finally:
        other.close()


# --- provisioning file --------------------------------------------------------------------------------------------


def test_provisioned_pin_is_hashed_at_once_and_the_file_loses_it(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "provision.json"
    spec = {
        "server": "https://hall.example",
        "enrollment_code": "ABCD-EFGH-JKLM",
        "staff": {"id": "S01", "name": "李春梅", "pin": PIN},
    }
    path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    staff = read_provisioned_staff(path, spec["staff"], hasher=LIGHT)
    text = path.read_text(encoding="utf-8")
    assert PIN not in text and staff.pin_hash in text and "$argon2id$" in text
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    kept = json.loads(text)
    assert kept["enrollment_code"] == "ABCD-EFGH-JKLM" and "pin" not in kept["staff"]
    # Read again at the next start (the township was unreachable): the hash is taken as it is.
    again = read_provisioned_staff(path, kept["staff"], hasher=LIGHT)
    assert again == staff
    member = apply_provisioned_staff(store, again)
    assert member is not None and verify_pin(store, PIN).ok
    assert {"actor": "provisioning", "action": "staff_added", "detail": "S01"} in audit_rows(store)
    # A second file with the same staff number never replaces the PIN.
    assert apply_provisioned_staff(store, ProvisionedStaff("S01", "别人", LIGHT.hash(OTHER_PIN))) is None
    assert verify_pin(store, PIN).ok and not verify_pin(store, OTHER_PIN).ok
    assert audit_rows(store)[-1]["action"] in {"staff_signed_in", "staff_pin_wrong"}
    assert {"actor": "provisioning", "action": "staff_provision_skipped", "detail": "S01"} in audit_rows(
        store
    )


@pytest.mark.parametrize(
    "entry,kind",
    [
        ({"id": "S01", "name": "李春梅", "pin": "111111"}, "pin_simple"),
        ({"id": "S 01", "name": "李春梅", "pin": PIN}, "staff_id"),
        ({"id": "S01", "name": "", "pin": PIN}, "name_empty"),
        ({"id": "S01", "name": "李春梅"}, "provision_staff"),
        ({"id": "S01", "name": "李春梅", "pin_hash": "$2b$12$notargon"}, "provision_staff"),
        ({"id": "S01", "name": "李春梅", "pin": PIN, "role": "admin"}, "provision_staff"),
        ("S01", "provision_staff"),
    ],
)
def test_bad_provisioned_staff_entries_are_refused(tmp_path: Path, entry: Any, kind: str) -> None:
    path = tmp_path / "provision.json"
    path.write_text(json.dumps({"staff": entry}), encoding="utf-8")
    with pytest.raises(StaffError) as err:
        read_provisioned_staff(path, entry, hasher=LIGHT)
    assert err.value.kind == kind and err.value.message()


# --- the console command ------------------------------------------------------------------------------------------


def _cli(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kiosk", "staff", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "CUNZHAN_HOME": str(home)},
    )


def test_console_adds_staff_and_resets_a_forgotten_pin(data_home: Path, store: Store) -> None:
    done = _cli(data_home, "add", "--id", "S01", "--name", "李春梅", stdin=f"{PIN}\n{PIN}\n")
    assert done.returncode == 0, done.stderr
    assert "S01" in done.stdout and "李春梅" not in done.stdout + done.stderr  # no names printed
    assert verify_pin(store, PIN).ok
    # Mistyped second PIN, a guessable PIN, an existing number: refused with a sentence, nothing changes.
    for args, typed in (
        (("add", "--id", "S02", "--name", "王强"), f"{OTHER_PIN}\n730165\n"),
        (("add", "--id", "S02", "--name", "王强"), "111111\n111111\n"),
        (("add", "--id", "S01", "--name", "王强"), f"{OTHER_PIN}\n{OTHER_PIN}\n"),
        (("reset-pin", "--id", "S09"), f"{OTHER_PIN}\n{OTHER_PIN}\n"),
    ):
        refused = _cli(data_home, *args, stdin=typed)
        assert refused.returncode == 1 and refused.stderr.strip(), args
        assert "Traceback" not in refused.stderr
    assert [m.staff_id for m in StaffAccounts(store).members()] == ["S01"]
    # Forgotten PIN: the keypad got locked by guessing, the technician resets it at the console.
    for wrong in ("000001", "000002", "000003"):
        verify_pin(store, wrong)
    assert StaffAccounts(store).locked_for() > 0
    reset = _cli(data_home, "reset-pin", "--id", "S01", stdin=f"{OTHER_PIN}\n{OTHER_PIN}\n")
    assert reset.returncode == 0, reset.stderr
    assert StaffAccounts(store).locked_for() == 0
    assert verify_pin(store, OTHER_PIN).ok and not verify_pin(store, PIN).ok
    actions = [(r["actor"], r["action"], r["detail"]) for r in audit_rows(store)]
    assert (ACTOR_CONSOLE, "staff_added", "S01") in actions
    assert (ACTOR_CONSOLE, "staff_pin_changed", "S01") in actions
    assert (ACTOR_CONSOLE, "staff_lockout_cleared", "") in actions
    # The console actions go to the township with the next sync.
    queue_audit(store)
    queued = [
        e for op in store.pending_ops(1000) if op["entity"] == "audit" for e in op["payload"]["entries"]
    ]
    assert any(e["actor"] == "console" and e["action"] == "staff_pin_changed" for e in queued)
    listed = _cli(data_home, "list")
    assert listed.returncode == 0 and "S01" in listed.stdout and "李春梅" not in listed.stdout
    helped = subprocess.run(
        [sys.executable, "-m", "kiosk", "staff", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "trust boundary" in helped.stdout and "console" in helped.stdout


# --- staff cancel and family members ------------------------------------------------------------------------------


def _session_in(store: Store, minutes: int) -> Session:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    service = store.query("SELECT id FROM services LIMIT 1")[0]["id"]
    provider = store.query("SELECT id FROM providers LIMIT 1")[0]["id"]
    session = Session(
        new_id(),
        service,
        provider,
        now + dt.timedelta(minutes=minutes),
        now + dt.timedelta(minutes=minutes + 30),
        4,
        4,
        "远程诊室一",
    )
    store.upsert_session(session)
    return session


def _desk(store: Store) -> StaffDesk:
    member = StaffAccounts(store, hasher=LIGHT).add("S07", "周红", PIN, actor="console")
    return StaffDesk(store, member)


def test_staff_cancel_inside_the_residents_window_is_allowed_and_audited(demo_store: Store) -> None:
    desk = _desk(demo_store)
    soon = _session_in(demo_store, 60)  # inside the 2-hour window
    resident = Resident(new_id(), "张桂兰", id_number(5))
    booking = Bookings(demo_store).book(session_id=soon.id, resident=resident)
    with pytest.raises(BookingRefused) as refused:
        Bookings(demo_store).cancel(booking.id)  # the resident alone: too late
    assert refused.value.reason is Refusal.TOO_LATE
    seats = demo_store.session(soon.id)
    assert seats is not None
    cancelled = desk.cancel_for(booking.id)
    assert cancelled.status.value == "cancelled"
    after = demo_store.session(soon.id)
    assert after is not None and after.seats_left == seats.seats_left + 1
    actions = [(r["actor"], r["action"], r["detail"]) for r in audit_rows(demo_store)]
    assert ("S07", "booking_cancelled", booking.code) in actions
    assert ("S07", "staff_cancel_late", booking.code) in actions
    op = [o for o in demo_store.pending_ops() if o["entity_id"] == booking.id and o["kind"] == "cancel"]
    assert len(op) == 1
    # Once it is cancelled, again is refused; a session that started cannot be cancelled even by staff.
    with pytest.raises(BookingRefused) as again:
        desk.cancel_for(booking.id)
    assert again.value.reason is Refusal.NOT_ACTIVE
    started = _session_in(demo_store, 90)
    late = Bookings(demo_store).book(
        session_id=started.id, resident=Resident(new_id(), "王秀英", id_number(6))
    )
    later = Clock()
    later.now = started.starts_at + dt.timedelta(minutes=1)
    with pytest.raises(BookingRefused) as began:
        StaffDesk(demo_store, desk.staff, clock=later).cancel_for(late.id)
    assert began.value.reason is Refusal.SESSION_STARTED
    # Outside the window: an ordinary cancel, no late mark.
    far = _session_in(demo_store, 600)
    normal = Bookings(demo_store).book(session_id=far.id, resident=Resident(new_id(), "孙玉珍", id_number(7)))
    desk.cancel_for(normal.id)
    assert ("S07", "staff_cancel_late", normal.code) not in [
        (r["actor"], r["action"], r["detail"]) for r in audit_rows(demo_store)
    ]


def test_assisted_booking_for_a_grandchild(demo_store: Store) -> None:
    desk = _desk(demo_store)
    resident = Resident(new_id(), "张桂兰", id_number(8), "13812345678")
    for name, relation, year, kind in (
        ("", "孙女", 2017, "dependent_name"),
        ("张小雨", "", 2017, "dependent_relation"),
        ("张小雨", "孙女", "二〇一七", "dependent_year"),
        ("张小雨", "孙女", 1850, "dependent_year"),
        ("张小雨", "孙女", dt.date.today().year + 1, "dependent_year"),
    ):
        with pytest.raises(StaffError) as err:
            desk.dependent_for(resident, name, relation, year)
        assert err.value.kind == kind and err.value.message()
    with_child, child = desk.dependent_for(resident, "张小雨", "孙女", "2017")
    assert child.birth_year == 2017 and with_child.dependents == (child,)
    same, again = desk.dependent_for(with_child, "张小雨", "孙女", 2017)
    assert again is child and same is with_child  # the same grandchild is not added twice
    session = _session_in(demo_store, 24 * 60)
    booking = desk.book_for(session.id, with_child, child)
    row = demo_store.query(
        "SELECT channel, staff_id, dependent_id FROM bookings WHERE id = ?", (booking.id,)
    )[0]
    assert row == {"channel": "assisted", "staff_id": "S07", "dependent_id": child.id}
    op = next(o for o in demo_store.pending_ops() if o["entity_id"] == booking.id)
    assert op["payload"]["for_dependent"] == {"name": "张小雨", "relation": "孙女", "birth_year": 2017}
    assert op["payload"]["channel"] == "assisted" and op["payload"]["staff_id"] == "S07"
    stored = demo_store.dependent(child.id)
    assert stored is not None and stored.name == "张小雨"


def test_the_kiosk_and_the_staff_desk_book_for_the_same_grandchild(demo_store: Store) -> None:
    """One rule for "which family member" (`kiosk.residents.dependent_for`): the resident's own booking (asked only
    the relation and birth year) and the staff desk's (which also types the name) land on the same grandchild, so
    she cannot hold two seats in one session; twins of one year stay apart once staff name them."""
    from kiosk.ui.screens import confirm  # the function the resident's confirm screen calls

    desk = _desk(demo_store)
    session = _session_in(demo_store, 24 * 60)
    resident = Resident(new_id(), "张桂兰", id_number(9), "13812345678")
    with_child, child = confirm.dependent_for(resident, "孙女", 2017)
    assert child.name == "孙女（2017）" and with_child.dependents == (child,)
    Bookings(demo_store).book(session_id=session.id, resident=with_child, dependent=child)
    saved = demo_store.find_resident(resident.id_number)
    assert saved is not None and [d.id for d in saved.dependents] == [child.id]
    # At the desk staff type her name: the same child (now named), so a second seat is refused.
    named_resident, named = desk.dependent_for(saved, "张小雨", "孙女", 2017)
    assert named.id == child.id and named.name == "张小雨" and named_resident.dependents == (named,)
    with pytest.raises(BookingRefused) as dup:
        desk.book_for(session.id, named_resident, named)
    assert dup.value.reason is Refusal.DUPLICATE
    # Back at the kiosk, the named granddaughter is still the one.
    _, again = confirm.dependent_for(named_resident, "孙女", 2017)
    assert again.id == child.id
    # Her twin sister, named by staff, is another family member.
    with_twins, twin = desk.dependent_for(named_resident, "张小雪", "孙女", 2017)
    assert twin.id != child.id and [d.id for d in with_twins.dependents] == [child.id, twin.id]
    assert desk.dependent_for(with_twins, "张小雪", "孙女", 2017)[1].id == twin.id
