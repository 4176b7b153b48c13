"""Staff accounts, PIN hashing and lock-out (with an injected clock: no sleeping), the staff desk and its audit."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from cunzhan.i18n import use_locale
from cunzhan.identity import id_check_character
from cunzhan.models import Channel, Dependent, Resident
from kiosk import settings as s
from kiosk.staff.accounts import LockoutPolicy, StaffAccounts, StaffError, check_new_pin, verify_pin
from kiosk.staff.desk import StaffDesk, mask_name
from kiosk.store import Store, new_id
from kiosk.sync.audit import AUDIT_ENTITY, queue_audit
from tests.clock import this_morning

PIN = "482915"
OTHER_PIN = "730164"
# A light argon2id (still the real KDF) where a test checks many PINs, to spare the shared CPUs.
LIGHT = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def id_number(n: int) -> str:
    first17 = f"33010219{40 + n % 50:02d}0101{n % 1000:03d}"
    return first17 + id_check_character(first17)


def audit_rows(store: Store) -> list[dict[str, Any]]:
    return store.query("SELECT actor, action, detail FROM audit_log ORDER BY id")


def audit_ops(store: Store) -> list[dict[str, Any]]:
    return [op for op in store.pending_ops(1000) if op["entity"] == AUDIT_ENTITY]


def test_pin_is_kept_only_as_an_argon2id_hash(store: Store) -> None:
    accounts = StaffAccounts(store)  # the production hasher: argon2id, RFC 9106 parameters
    accounts.add("S01", "李春梅", PIN, actor="enrolment")
    stored = store.query("SELECT pin_hash, name_enc FROM staff")[0]
    assert stored["pin_hash"].startswith("$argon2id$")
    assert "m=65536" in stored["pin_hash"] and "t=3" in stored["pin_hash"]
    store.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = store.path.read_bytes()
    assert PIN.encode() not in raw
    assert "李春梅".encode() not in raw
    result = accounts.verify_pin(PIN)
    assert result.ok and result.staff is not None
    assert result.staff.staff_id == "S01" and result.staff.name == "李春梅"
    assert not accounts.verify_pin(OTHER_PIN).ok


@pytest.mark.parametrize(
    "pin,kind",
    [
        ("12345", "pin_length"),
        ("1234567", "pin_length"),
        ("12a456", "pin_length"),
        ("１２３４５６", "pin_length"),
        ("111111", "pin_simple"),
        ("123456", "pin_simple"),
        ("987654", "pin_simple"),
    ],
)
def test_weak_or_malformed_pins_are_refused(pin: str, kind: str) -> None:
    with pytest.raises(StaffError) as err:
        check_new_pin(pin)
    assert err.value.kind == kind
    assert err.value.message()  # a sentence for the screen


def test_a_taken_pin_is_refused_without_telling_whose_it_was(store: Store) -> None:
    """Finding 12: typing a colleague's PIN when adding a member must not hand over the colleague's account. The
    refusal names nobody, counts as a wrong PIN (the keypad's lock-out) and the colleague's PIN stops working."""
    accounts = StaffAccounts(store, hasher=LIGHT)
    accounts.add("S01", "李春梅", PIN, actor="enrolment")
    with pytest.raises(StaffError) as err:
        accounts.add("S02", "王强", PIN, actor="S01")
    assert err.value.kind == "pin_taken"
    with use_locale("en"):
        text = err.value.message()
    assert "another" not in text.lower() and "staff member" not in text.lower()
    assert accounts.failures() == 1
    assert not accounts.verify_pin(PIN).ok  # the PIN that was just revealed no longer signs anyone in
    actions = [r["action"] for r in store.query("SELECT action FROM audit_log")]
    assert "staff_pin_revoked" in actions
    accounts.change_pin("S01", "305918", actor="console")
    assert accounts.verify_pin("305918").ok


def test_staff_number_name_and_shared_pin_are_checked(store: Store) -> None:
    accounts = StaffAccounts(store, hasher=LIGHT)
    accounts.add("S01", "李春梅", PIN, actor="enrolment")
    for staff_id, name, pin, kind in [
        ("S 1", "王", OTHER_PIN, "staff_id"),
        ("S02", "  ", OTHER_PIN, "name_empty"),
        ("S01", "王强", OTHER_PIN, "staff_exists"),
        ("S02", "王强", PIN, "pin_taken"),
    ]:
        with pytest.raises(StaffError) as err:
            accounts.add(staff_id, name, pin, actor="S01")
        assert err.value.kind == kind
    accounts.add("S02", "王强", OTHER_PIN, actor="S01")
    signed = accounts.verify_pin(OTHER_PIN)
    assert signed.staff is not None and signed.staff.staff_id == "S02"
    accounts.change_pin("S01", PIN, actor="S01")  # a clash refused above made S01's PIN known: a new one
    with pytest.raises(StaffError) as err:
        accounts.change_pin("S02", PIN, actor="S02")
    assert err.value.kind == "pin_taken"
    accounts.change_pin("S02", "305918", actor="S02")
    assert not accounts.verify_pin(OTHER_PIN).ok
    assert accounts.verify_pin("305918").ok
    accounts.deactivate("S02", actor="S01")
    assert not accounts.verify_pin("305918").ok
    with pytest.raises(StaffError) as err:
        accounts.deactivate("S01", actor="S01")
    assert err.value.kind == "last_staff"


def test_no_staff_means_no_way_in(store: Store) -> None:
    result = verify_pin(store, PIN)
    assert not result.ok and result.no_staff
    assert "工作人员" in result.message()


def test_lockout_grows_and_survives_a_restart(store: Store) -> None:
    clock = Clock()
    accounts = StaffAccounts(store, hasher=LIGHT, clock=clock)
    accounts.add("S01", "李春梅", PIN, actor="enrolment")

    first = accounts.verify_pin("000001")
    assert not first.ok and first.tries_left == 2 and first.locked_for_s == 0
    assert "2" in first.message()
    assert accounts.verify_pin("000002").tries_left == 1
    third = accounts.verify_pin("000003")
    assert third.locked_for_s == 30
    assert "30" in third.message() and "秒" in third.message()

    # While locked even the right PIN is not checked, and the attempt does not count.
    clock.advance(10)
    during = accounts.verify_pin(PIN)
    assert not during.ok and during.locked_for_s == 20
    assert accounts.failures() == 3

    clock.advance(20)
    assert accounts.locked_for() == 0
    assert accounts.verify_pin("000004").locked_for_s == 60  # doubling
    clock.advance(60)
    assert accounts.verify_pin("000005").locked_for_s == 120

    # A restart (a new connection to the same file) keeps the lock.
    path, cipher = store.path, store.cipher
    store.close()
    again = Store(path, cipher)
    later = StaffAccounts(again, hasher=LIGHT, clock=clock)
    clock.advance(30)
    assert later.locked_for() == 90
    assert not later.verify_pin(PIN).ok
    clock.advance(90)
    ok = later.verify_pin(PIN)
    assert ok.ok and later.failures() == 0
    # After a success the count starts again from three free tries.
    assert later.verify_pin("000006").tries_left == 2

    actions = [r["action"] for r in audit_rows(again)]
    assert actions.count("staff_pin_wrong") == 3
    assert actions.count("staff_pin_locked") == 3
    assert actions.count("staff_signed_in") == 1
    again.close()


def test_lockout_delays_double_up_to_a_cap() -> None:
    policy = LockoutPolicy()
    delays = [policy.delay_after(n).total_seconds() for n in range(1, 12)]
    assert delays[:2] == [0, 0]
    assert delays[2:8] == [30, 60, 120, 240, 480, 960]
    assert max(delays) == 1800 and delays[-1] == 1800
    assert policy.delay_after(10_000).total_seconds() == 1800


def _desk(store: Store, clock: Clock | None = None) -> StaffDesk:
    accounts = StaffAccounts(store, hasher=LIGHT)
    member = accounts.add("S07", "周红", PIN, actor="enrolment")
    return StaffDesk(store, member, clock=clock)


def _future_session(store: Store) -> str:
    rows = store.query(
        "SELECT id FROM sessions WHERE starts_at > ? AND seats_left > 0 ORDER BY starts_at LIMIT 1",
        ((dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).isoformat(timespec="seconds"),),
    )
    return str(rows[0]["id"])


def test_assisted_booking_records_channel_and_staff_in_booking_and_outbox(demo_store: Store) -> None:
    desk = _desk(demo_store)
    resident = Resident(new_id(), "张桂兰", id_number(1), "13812345678", "上坪村")
    grandchild = Dependent(new_id(), resident.id, "张小雨", "孙女", 2017)
    resident = Resident(
        resident.id,
        resident.name,
        resident.id_number,
        resident.phone,
        resident.village,
        dependents=(grandchild,),
    )
    booking = desk.book_for(_future_session(demo_store), resident, grandchild)
    row = demo_store.query(
        "SELECT channel, staff_id, dependent_id FROM bookings WHERE id = ?", (booking.id,)
    )[0]
    assert row == {"channel": "assisted", "staff_id": "S07", "dependent_id": grandchild.id}
    ops = [op for op in demo_store.pending_ops() if op["entity"] == "booking"]
    assert len(ops) == 1 and ops[0]["entity_id"] == booking.id
    assert ops[0]["payload"]["channel"] == Channel.ASSISTED.value == "assisted"
    assert ops[0]["payload"]["staff_id"] == "S07"
    assert {"actor": "S07", "action": "booking_created", "detail": booking.code} in audit_rows(demo_store)
    # The staff action is queued for the township too.
    queued = [e for op in audit_ops(demo_store) for e in op["payload"]["entries"]]
    assert any(e["actor"] == "S07" and e["action"] == "booking_created" for e in queued)


def test_audit_rows_are_queued_exactly_once_and_residents_own_actions_are_left_out(store: Store) -> None:
    store.audit("S01", "staff_signed_in")
    store.audit("resident", "booking_created", "0100017")
    store.audit("S01", "setting_changed", "volume")
    assert queue_audit(store) == 2
    assert queue_audit(store) == 0  # nothing twice
    store.audit("S01", "staff_signed_out")
    assert queue_audit(store) == 1
    ops = audit_ops(store)
    assert [op["kind"] for op in ops] == ["batch", "batch"]
    entries = [e for op in ops for e in op["payload"]["entries"]]
    assert [e["action"] for e in entries] == ["staff_signed_in", "setting_changed", "staff_signed_out"]
    assert all(e["actor"] != "resident" for e in entries)
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3


def test_audit_queue_survives_a_crash_between_action_and_queueing(store: Store) -> None:
    # An action audited by other code (the store's own set_setting) is picked up by the next queueing.
    store.set_setting("volume", "0.4", actor="S01")
    path, cipher = store.path, store.cipher
    store.close()
    again = Store(path, cipher)
    assert queue_audit(again) == 1
    entry = audit_ops(again)[0]["payload"]["entries"][0]
    assert entry["action"] == "setting_changed" and entry["detail"] == "volume" and entry["actor"] == "S01"
    again.close()


def test_settings_are_validated_and_changes_audited_with_the_staff_id(store: Store) -> None:
    desk = _desk(store)
    assert desk.change_setting(s.VOLUME, " 0.5 ") == "0.5"
    assert desk.change_setting(s.PROFILE_DEFAULT, "elder+hearing") == "elder+hearing"
    assert desk.change_setting(s.PRIVATE_AUDIO, "true") == "true"
    assert (
        desk.change_setting(s.TOWNSHIP_URL, "https://hall.qingshan.example:8700")
        == "https://hall.qingshan.example:8700"
    )
    for setting, bad in [
        (s.VOLUME, "1.5"),
        (s.VOLUME, "loud"),
        (s.IDLE_SCALE, "0.1"),
        (s.PROFILE_DEFAULT, "bogus"),
        (s.PROFILE_DEFAULT, ""),
        (s.TOWNSHIP_URL, "ftp://hall"),
        (s.TOWNSHIP_URL, "hall"),
        (s.SYNC_INTERVAL_S, "5"),
    ]:
        with pytest.raises(StaffError):
            desk.change_setting(setting, bad)
    view = desk.settings()
    assert view.get(s.VOLUME) == 0.5 and view.get(s.PRIVATE_AUDIO) is True
    assert view.get(s.IDLE_SCALE) == 1.0  # the refused values changed nothing
    changed = [r for r in audit_rows(store) if r["action"] == "setting_changed"]
    assert [(r["actor"], r["detail"]) for r in changed] == [
        ("S07", "volume"),
        ("S07", "profile_default"),
        ("S07", "private_audio"),
        ("S07", "township_url"),
    ]
    queued = [e for op in audit_ops(store) for e in op["payload"]["entries"]]
    assert sum(1 for e in queued if e["action"] == "setting_changed" and e["actor"] == "S07") == 4


def test_lookups_are_masked_and_audited_without_the_id_number(demo_store: Store) -> None:
    desk = _desk(demo_store)
    number = id_number(2)
    resident = Resident(new_id(), "王秀英", number, "13987654321", "河口村")
    booking = desk.book_for(_future_session(demo_store), resident)
    found = desk.lookup_by_id(number.lower())
    assert found is not None
    assert found.masked_name == "王*英" and found.masked_id == number[:4] + "*" * 10 + number[-4:]
    assert found.masked_phone == "139****4321"
    assert [line.booking.id for line in found.bookings] == [booking.id]
    assert found.bookings[0].assisted and found.bookings[0].masked_id == found.masked_id
    by_code = desk.lookup_by_code(booking.code[:2] + "-" + booking.code[2:])
    assert by_code is not None and by_code.resident_id == found.resident_id
    assert desk.lookup_by_id(id_number(3)) is None
    with pytest.raises(StaffError) as err:
        desk.lookup_by_id("330102")
    assert err.value.kind == "bad_id"
    with pytest.raises(StaffError):
        desk.lookup_by_code("1234567")  # wrong check digit
    dumped = json.dumps(audit_rows(demo_store), ensure_ascii=False)
    queued = json.dumps([op["payload"] for op in audit_ops(demo_store)], ensure_ascii=False)
    for secret in (number, number[-4:] + "'", "王秀英", "13987654321"):
        assert secret not in dumped and secret not in queued


def test_todays_sessions_count_bookings_and_check_ins(demo_store: Store) -> None:
    # Put a session 30 minutes from "now" so it is today and open for check-in: "now" is this morning, whatever the
    # hour the suite runs.
    from cunzhan.models import Session

    clock = Clock()
    clock.now = this_morning()
    starts = clock.now + dt.timedelta(minutes=30)
    service_id = demo_store.query("SELECT id FROM services LIMIT 1")[0]["id"]
    provider_id = demo_store.query("SELECT id FROM providers LIMIT 1")[0]["id"]
    session = Session(
        new_id(), service_id, provider_id, starts, starts + dt.timedelta(minutes=30), 5, 5, "远程诊室一"
    )
    demo_store.upsert_session(session)
    desk = _desk(demo_store, clock)
    first = desk.book_for(session.id, Resident(new_id(), "赵大", id_number(4)))
    desk.book_for(session.id, Resident(new_id(), "钱二", id_number(5)))
    desk.check_in_for(first.id)
    today = {d.session.id: d for d in desk.todays_sessions()}
    assert today[session.id].booked == 2 and today[session.id].checked_in == 1
    assert today[session.id].service_name and today[session.id].provider_name
    lines = desk.session_bookings(session.id)
    assert sorted(line.masked_name for line in lines) == ["赵*", "钱*"]
    assert {"actor": "S07", "action": "booking_checked_in", "detail": first.code} in audit_rows(demo_store)


def test_practice_switch_is_a_kiosk_setting_and_audited(store: Store, tmp_path: Path) -> None:
    desk = _desk(store)
    desk.set_practice(True)
    assert desk.settings().get(s.PRACTICE_MODE) is True
    desk.set_practice(False)
    desk.sign_out()
    actions = [(r["actor"], r["action"]) for r in audit_rows(store)]
    assert ("S07", "practice_on") in actions and ("S07", "practice_off") in actions
    assert actions[-1] == ("S07", "staff_signed_out")


def test_mask_name() -> None:
    assert [mask_name(n) for n in ("张桂兰", "王芳", "李", "欧阳春花")] == ["张*兰", "王*", "李", "欧**花"]


def test_queued_audit_ops_are_valid_on_the_wire(store: Store) -> None:
    from cunzhan import protocol

    store.audit("S01", "staff_signed_in")
    store.audit("S01", "setting_changed", "x" * 500)  # an over-long detail is cut to what the wire allows
    for n in range(250):
        store.audit("S01", "resident_lookup", f"by=id found=no {n}")
    assert queue_audit(store) == 252
    ops = audit_ops(store)
    assert [len(op["payload"]["entries"]) for op in ops] == [200, 52]
    for op in ops:
        wire = protocol.Op.model_validate({**op, "device_seq": op["device_seq"]})
        batch = protocol.parse_payload(wire)
        assert isinstance(batch, protocol.AuditBatch)
    assert len(ops[0]["payload"]["entries"][1]["detail"]) == 200


def test_help_calls_today_are_counted(store: Store) -> None:
    clock = Clock()
    clock.now = dt.datetime.now(dt.UTC)
    desk = _desk(store, clock)
    assert desk.help_calls_today() == (0, None)
    store.audit("resident", "staff_called", "identify")
    store.audit("resident", "staff_called", "home")
    count, last = desk.help_calls_today()
    assert count == 2 and last is not None and abs((last - clock.now).total_seconds()) < 60
