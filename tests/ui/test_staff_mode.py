"""Staff mode driven by touch on the real window (offscreen Qt): PIN, lock-out, assisted booking, look-up, settings,
sync state, enrolment errors, practice mode — and a look at every staff screen (sizes, names, screenshots)."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QLabel, QLineEdit, QPushButton
from pytestqt.qtbot import QtBot

from cunzhan.identity import id_check_character
from cunzhan.models import Resident, Session
from kiosk.accessibility.api import CaptionOnlySpeech, NoVoice
from kiosk.booking import CONSENT_NOTICE
from kiosk.staff.accounts import StaffAccounts
from kiosk.store import Store, new_id, to_text, utc_now
from kiosk.ui.app import build_window
from kiosk.ui.context import KioskContext
from kiosk.ui.ops import SyncOps
from kiosk.ui.screen import Screen
from kiosk.ui.screens.consent import notice_text
from kiosk.ui.staff import open_staff_mode
from kiosk.ui.staff.state import staff_state
from kiosk.ui.window import KioskWindow
from tests.clock import this_morning

PIN = "482915"


def _id(n: int) -> str:
    first17 = f"33010219{40 + n:02d}0101{n:03d}"
    return first17 + id_check_character(first17)


@pytest.fixture
def window(demo_store: Store, qtbot: QtBot) -> Iterator[KioskWindow]:
    ticks = itertools.count(start=100, step=2)  # every touch 2 s after the last: never merged as a tremor
    ctx = KioskContext(store=demo_store, speech=CaptionOnlySpeech(), voice=NoVoice("none"), ops=SyncOps())
    win = build_window(ctx, clock=lambda: float(next(ticks)))  # registers the staff screens too
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    win.activateWindow()
    win.go_home()
    yield win
    state = staff_state(win)
    if state.practice is not None:
        state.practice.close()
    win.shutdown()


def visible(win: KioskWindow, kind: Any, name: str) -> Any:
    """The visible widget called `name` (a redrawn screen's old body lingers, hidden, until Qt deletes it)."""
    return next((w for w in win.findChildren(kind, name) if w.isVisible()), None)


def screen(win: KioskWindow) -> Screen:
    """The screen on show (there always is one once the window is up)."""
    assert win.current is not None
    return win.current


def click(qtbot: QtBot, win: KioskWindow, name: str) -> None:
    button = visible(win, QPushButton, name)
    assert button is not None, f"no button {name} on {win.current.name if win.current else None}"
    assert button.isVisible() and button.isEnabled(), name
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # type: ignore[no-untyped-call]


def type_keys(qtbot: QtBot, win: KioskWindow, digits: str) -> None:
    for key in digits:
        click(qtbot, win, f"key_{key}")


def type_text(qtbot: QtBot, win: KioskWindow, name: str, text: str) -> None:
    field = visible(win, QLineEdit, name)
    assert field is not None, name
    field.setFocus()
    assert field.hasFocus(), name
    field.clear()
    if text.isascii():
        qtbot.keyClicks(field, text)  # type: ignore[no-untyped-call]
    else:  # Chinese comes from an input method (pinyin) as a committed string, not as key presses
        from PySide6.QtGui import QInputMethodEvent
        from PySide6.QtWidgets import QApplication

        commit = QInputMethodEvent("", [])
        commit.setCommitString(text)
        QApplication.sendEvent(field, commit)
    assert field.text() == text, name  # digits reach the field, not the screen's keypad


def message(win: KioskWindow) -> str:
    label = visible(win, QLabel, "message")
    return label.text() if label is not None else ""


def add_staff(store: Store) -> None:
    StaffAccounts(store).add("S01", "李春梅", PIN, actor="enrolment")


def sign_in(qtbot: QtBot, win: KioskWindow, pin: str = PIN) -> None:
    open_staff_mode(win)
    assert win.current is not None and win.current.name == "staff_pin"
    type_keys(qtbot, win, pin)
    click(qtbot, win, "choice_sign_in")


def audit(store: Store) -> list[dict[str, Any]]:
    return store.query("SELECT actor, action, detail FROM audit_log ORDER BY id")


def test_kiosk_without_staff_offers_no_set_up(window: KioskWindow, qtbot: QtBot, demo_store: Store) -> None:
    """Nobody can walk up to a kiosk with no staff and make themselves staff: the PIN screen says what to do."""
    open_staff_mode(window)
    assert screen(window).name == "staff_pin"
    notice = visible(window, QLabel, "no_staff")
    assert notice is not None and "登记" in notice.text() and "python -m kiosk staff add" in notice.text()
    assert visible(window, QPushButton, "key_1") is None  # no keypad: there is no PIN to type
    assert visible(window, QPushButton, "choice_sign_in") is None
    window.show_screen("staff_setup")
    assert screen(window).name == "staff_pin"  # the set-up form is not open to anyone
    window.show_screen("staff_home")
    assert screen(window).name == "staff_pin"
    # The way forward: enrol with a township code. A code that is not accepted opens nothing.
    click(qtbot, window, "choice_enrol")
    assert screen(window).name == "staff_enrol"
    assert "第一位工作人员" in visible(window, QLabel, "first_staff_next").text()
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    type_text(qtbot, window, "enrol_server", f"http://127.0.0.1:{port}")
    type_text(qtbot, window, "enrol_code", "ABCD-EFGH-JKLM")
    click(qtbot, window, "choice_enrol")
    assert screen(window).name == "staff_enrol" and message(window)
    assert not staff_state(window).first_staff_allowed
    window.show_screen("staff_setup")
    assert screen(window).name == "staff_pin"
    assert demo_store.query("SELECT count(*) AS n FROM staff")[0]["n"] == 0
    failed = [a for a in audit(demo_store) if a["action"] == "kiosk_enrol_failed"]
    assert failed and failed[-1]["actor"] == "enrolment"
    # Once a staff member exists (e.g. from the console), enrolling needs the PIN like everything else.
    add_staff(demo_store)
    window.show_screen("staff_enrol")
    assert screen(window).name == "staff_pin" and visible(window, QLabel, "no_staff") is None
    assert visible(window, QPushButton, "key_1") is not None


def set_up_member(qtbot: QtBot, win: KioskWindow, staff_id: str, name: str, pin: str) -> None:
    """Fill the set-up screen, with a guessable PIN and a mismatched repeat refused on the way."""
    type_text(qtbot, win, "staff_id", staff_id)
    type_text(qtbot, win, "staff_name", name)
    type_keys(qtbot, win, "111111")
    click(qtbot, win, "choice_save")
    assert "太容易" in message(win)  # a guessable PIN is refused
    type_keys(qtbot, win, pin)
    click(qtbot, win, "choice_save")
    assert "再输入一遍" in message(win)
    type_keys(qtbot, win, "482916" if pin != "482916" else "482917")
    click(qtbot, win, "choice_save")
    assert "不一样" in message(win)
    type_keys(qtbot, win, pin)
    click(qtbot, win, "choice_save")
    type_keys(qtbot, win, pin)
    click(qtbot, win, "choice_save")


def test_signed_in_staff_adds_another_member(window: KioskWindow, qtbot: QtBot, demo_store: Store) -> None:
    add_staff(demo_store)
    sign_in(qtbot, window)
    click(qtbot, window, "choice_add_staff")
    assert screen(window).name == "staff_setup" and screen(window).title() == "设置工作人员"
    set_up_member(qtbot, window, "S02", "王强", "730164")
    assert screen(window).name == "staff_home" and "S02" in message(window)
    row = demo_store.query("SELECT staff_id, pin_hash FROM staff WHERE staff_id = 'S02'")[0]
    assert row["pin_hash"].startswith("$argon2id$")
    assert {"actor": "S01", "action": "staff_added", "detail": "S02"} in audit(demo_store)
    click(qtbot, window, "choice_sign_out")
    sign_in(qtbot, window, "730164")
    assert screen(window).name == "staff_home"
    member = staff_state(window).member
    assert member is not None and member.staff_id == "S02"


def test_wrong_pin_is_refused_and_locks_out(window: KioskWindow, qtbot: QtBot, demo_store: Store) -> None:
    add_staff(demo_store)
    sign_in(qtbot, window, "000001")
    assert window.current is not None and screen(window).name == "staff_pin"
    assert "密码不对" in message(window) and "2" in message(window)
    assert visible(window, QLabel, "pin_display").text() == "（还没有输入）"  # the keypad is emptied
    for wrong in ("000002", "000003"):
        type_keys(qtbot, window, wrong)
        click(qtbot, window, "choice_sign_in")
    assert "30 秒" in message(window)
    type_keys(qtbot, window, PIN)
    click(qtbot, window, "choice_sign_in")
    assert screen(window).name == "staff_pin" and "请等" in message(
        window
    )  # locked: even the right PIN waits
    # Time passes (the lock is in the database, so a restart would not lift it): the right PIN works again.
    with demo_store.transaction() as conn:
        conn.execute(
            "UPDATE staff_lockout SET locked_until = ?", (to_text(utc_now() - dt.timedelta(seconds=1)),)
        )
    type_keys(qtbot, window, PIN)
    click(qtbot, window, "choice_sign_in")
    assert screen(window).name == "staff_home"
    actions = [a["action"] for a in audit(demo_store)]
    assert actions.count("staff_pin_wrong") == 2 and actions.count("staff_pin_locked") == 1
    assert actions[-1] == "staff_signed_in"


def test_staff_screens_need_a_signed_in_staff_member(window: KioskWindow, demo_store: Store) -> None:
    add_staff(demo_store)
    for name in ("staff_home", "staff_settings", "staff_lookup", "staff_book"):
        window.show_screen(name)
        assert window.current is not None and screen(window).name == "staff_pin"


def test_assisted_booking_by_touch_records_assisted_and_staff(
    window: KioskWindow, qtbot: QtBot, demo_store: Store
) -> None:
    add_staff(demo_store)
    sign_in(qtbot, window)
    click(qtbot, window, "choice_assist")
    first_service = screen(window).visible_choices()[0].key
    click(qtbot, window, f"choice_{first_service}")
    assert screen(window).name == "staff_book_time"
    click(qtbot, window, f"choice_{screen(window).visible_choices()[0].key}")
    assert screen(window).name == "staff_book_who"
    number = _id(1)
    type_keys(qtbot, window, number[:10])
    click(qtbot, window, "choice_next")
    assert "18" in message(window)  # a short ID number is refused with the count
    type_keys(qtbot, window, number[10:])
    click(qtbot, window, "choice_next")
    assert "姓名" in message(window)  # a resident new to this kiosk needs a name
    type_text(qtbot, window, "assist_name", "孙玉珍")
    click(qtbot, window, "choice_next")
    # The personal-data notice, the same sentence the resident's own screen shows, read to the resident.
    assert screen(window).name == "staff_book_consent"
    assert visible(window, QLabel, "staff_consent_notice").text() == notice_text()
    click(qtbot, window, "choice_consent_yes")
    assert screen(window).name == "staff_book_confirm"
    summary = visible(window, QLabel, "assist_summary").text()
    assert "孙*珍" in summary and number not in summary and "S01" in summary
    click(qtbot, window, "choice_book")
    code_label = visible(window, QLabel, "done_code")
    assert code_label is not None and code_label.isVisible()
    code = code_label.text().replace("-", "")
    booking = demo_store.query("SELECT id, channel, staff_id FROM bookings WHERE code = ?", (code,))[0]
    assert booking["channel"] == "assisted" and booking["staff_id"] == "S01"
    op = next(o for o in demo_store.pending_ops() if o["entity_id"] == booking["id"])
    assert op["payload"]["channel"] == "assisted" and op["payload"]["staff_id"] == "S01"
    # The consent travels with the booking as a resident's own does.
    assert op["payload"]["consent"]["notice"] == CONSENT_NOTICE and op["payload"]["consent"]["at"]
    assert {"actor": "S01", "action": "booking_created", "detail": code} in audit(demo_store)
    # The resident's details are not kept by the screen once the booking is written.
    draft = staff_state(window).draft
    assert draft.resident is None and draft.id_entry == "" and draft.name == ""


def test_assisted_booking_without_the_residents_agreement_is_not_made(
    window: KioskWindow, qtbot: QtBot, demo_store: Store
) -> None:
    add_staff(demo_store)
    sign_in(qtbot, window)
    click(qtbot, window, "choice_assist")
    click(qtbot, window, f"choice_{screen(window).visible_choices()[0].key}")
    click(qtbot, window, f"choice_{screen(window).visible_choices()[0].key}")
    type_text(qtbot, window, "assist_name", "不同意")
    type_keys(qtbot, window, _id(7))
    click(qtbot, window, "choice_family")
    type_text(qtbot, window, "dep_name", "小孙")
    type_text(qtbot, window, "dep_year", "2016")
    click(qtbot, window, "choice_relation_0")
    click(qtbot, window, "choice_next")
    assert screen(window).name == "staff_book_consent"  # for a family member too
    assert visible(window, QLabel, "staff_consent_notice").text() == notice_text()
    # The confirm step cannot be reached around it: Book now without the answer comes back here.
    window.show_screen("staff_book_confirm")
    click(qtbot, window, "choice_book")
    assert screen(window).name == "staff_book_consent"
    assert demo_store.query("SELECT count(*) AS n FROM bookings")[0]["n"] == 0
    click(qtbot, window, "choice_consent_no")
    assert visible(window, QLabel, "consent_declined").text() == screen(window).announcement()
    assert demo_store.query("SELECT count(*) AS n FROM bookings")[0]["n"] == 0
    assert not [o for o in demo_store.pending_ops() if o["entity"] == "booking"]
    assert demo_store.find_resident(_id(7)) is None
    draft = staff_state(window).draft
    assert draft.resident is None and draft.dependent is None and draft.id_entry == "" and draft.name == ""
    assert draft.dep_name == "" and draft.consent_at is None
    click(qtbot, window, "choice_another")
    assert screen(window).name == "staff_book"


def pin_clock(window: KioskWindow) -> dt.datetime:
    """The kiosk's clock stopped at this morning (`tests.clock`): a session 30 minutes later is today at any hour."""
    now = this_morning()
    window.ctx.clock = lambda: now
    return now


def _today_session(store: Store, now: dt.datetime | None = None) -> Session:
    """A session starting 30 minutes after `now` (the wall clock when not given)."""
    now = (now or utc_now()).replace(microsecond=0)
    service = store.query("SELECT id FROM services LIMIT 1")[0]["id"]
    provider = store.query("SELECT id FROM providers LIMIT 1")[0]["id"]
    session = Session(
        new_id(),
        service,
        provider,
        now + dt.timedelta(minutes=30),
        now + dt.timedelta(minutes=60),
        6,
        6,
        "远程诊室一",
    )
    store.upsert_session(session)
    return session


def test_lookup_shows_masked_details_and_checks_in(
    window: KioskWindow, qtbot: QtBot, demo_store: Store
) -> None:
    add_staff(demo_store)
    from kiosk.booking import Bookings

    now = pin_clock(window)
    session = _today_session(demo_store, now)
    number = _id(2)
    booking = Bookings(demo_store).book(
        session_id=session.id, resident=Resident(new_id(), "王秀英", number, "13987654321"), now=now
    )
    sign_in(qtbot, window)
    click(qtbot, window, "choice_lookup")
    type_keys(qtbot, window, number)
    click(qtbot, window, "choice_search")
    result = visible(window, QLabel, "lookup_result").text()
    assert "王*英" in result and "3301**********" in result and "139****4321" in result
    everything = " ".join(
        w.text() for w in window.findChildren(QLabel) + window.findChildren(QAbstractButton) if w.isVisible()
    )
    assert number not in everything and "王秀英" not in everything and "13987654321" not in everything
    click(qtbot, window, f"choice_booking_{booking.code}")
    assert screen(window).name == "staff_booking"
    assert "王*英" in visible(window, QLabel, "booking_summary").text()
    click(qtbot, window, "choice_check_in")
    assert "已签到" in message(window)
    assert visible(window, QPushButton, "choice_check_in") is None  # done: no second check-in offered
    assert visible(window, QPushButton, "choice_cancel") is None  # and a checked-in booking is not cancelled
    checked = demo_store.booking(booking.id)
    assert checked is not None and checked.status.value == "checked_in"
    assert {"actor": "S01", "action": "booking_checked_in", "detail": booking.code} in audit(demo_store)
    lookups = [a for a in audit(demo_store) if a["action"] == "resident_lookup"]
    assert lookups and all(number not in a["detail"] for a in lookups)
    # Today's list counts the check-in.
    click(qtbot, window, "nav_back")
    assert screen(window).name == "staff_lookup"
    window.show_screen("staff_today")
    summary = visible(window, QLabel, "today_summary").text()
    assert "已签到 1" in summary


def test_settings_change_is_validated_and_audited(
    window: KioskWindow, qtbot: QtBot, demo_store: Store
) -> None:
    add_staff(demo_store)
    sign_in(qtbot, window)
    click(qtbot, window, "choice_settings")
    click(qtbot, window, "choice_setting_volume")
    click(qtbot, window, "choice_volume_0.4")
    assert screen(window).name == "staff_settings" and "已保存" in message(window)
    assert demo_store.stored_settings()["volume"] == "0.4"
    click(qtbot, window, "choice_setting_township_url")
    type_text(qtbot, window, "setting_text", "ftp://hall")
    click(qtbot, window, "choice_save")
    assert screen(window).name == "staff_setting_edit" and "https://" in message(window)
    assert "township_url" not in demo_store.stored_settings()
    type_text(qtbot, window, "setting_text", "https://hall.qingshan.example:8700")
    click(qtbot, window, "choice_save")
    assert demo_store.stored_settings()["township_url"] == "https://hall.qingshan.example:8700"
    click(qtbot, window, "choice_setting_idle_scale")
    click(qtbot, window, "choice_idle_2.0")
    assert window.ctx.settings.get(__import__("kiosk.settings").settings.IDLE_SCALE) == 2.0  # applies at once
    changed = [(a["actor"], a["detail"]) for a in audit(demo_store) if a["action"] == "setting_changed"]
    assert changed == [("S01", "volume"), ("S01", "township_url"), ("S01", "idle_scale")]
    queued = [
        e for op in demo_store.pending_ops() if op["entity"] == "audit" for e in op["payload"]["entries"]
    ]
    assert [e["detail"] for e in queued if e["action"] == "setting_changed"] == [
        "volume",
        "township_url",
        "idle_scale",
    ]


def test_saved_settings_take_effect_at_once(
    window: KioskWindow, qtbot: QtBot, demo_store: Store, tmp_path: Path
) -> None:
    """Volume and private audio reach the speech engine's view of the settings (the same object, reloaded), the
    starting mode applies from the next resident, and a new voice model folder is taken up without a restart."""
    from kiosk import settings as s

    view = window.ctx.settings  # the object make_speech_out/make_voice_in were given in `run`
    add_staff(demo_store)
    sign_in(qtbot, window)
    click(qtbot, window, "choice_settings")
    click(qtbot, window, "choice_setting_volume")
    click(qtbot, window, "choice_volume_0.4")
    click(qtbot, window, "choice_setting_private_audio")
    click(qtbot, window, "choice_on")
    assert window.ctx.settings is view and view.get(s.VOLUME) == 0.4 and view.get(s.PRIVATE_AUDIO) is True
    click(qtbot, window, "choice_setting_profile_default")
    click(qtbot, window, "choice_profile_elder")
    assert window.ctx.default_profile.name == "elder"
    voice_before = window.ctx.voice
    click(qtbot, window, "choice_setting_voice_model_path")
    type_text(qtbot, window, "setting_text", str(tmp_path))
    click(qtbot, window, "choice_save")
    assert (
        screen(window).name == "staff_settings"
    )  # saved (the folder is not checked: doctor says if it is no model)
    assert window.ctx.voice is not voice_before  # the voice control was made again from the new folder
    window.end_visit()  # the staff member signs out; the next resident starts in the new mode
    assert window.ctx.profile.name == "elder"


SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@pytest.mark.parametrize(
    "case",
    [
        # A fixed clock at three times of day: the words follow the day of the last sync, not the hour the test runs.
        (
            dt.datetime(2026, 3, 10, 16, 30, tzinfo=SHANGHAI),
            dt.datetime(2026, 3, 10, 14, 30, tzinfo=SHANGHAI),
            "上次同步成功：今天下午 2:30。",
        ),
        (
            dt.datetime(2026, 3, 11, 1, 0, tzinfo=SHANGHAI),
            dt.datetime(2026, 3, 10, 22, 6, tzinfo=SHANGHAI),
            "上次同步成功：昨天晚上 10:06。",
        ),
        (
            dt.datetime(2026, 3, 14, 9, 0, tzinfo=SHANGHAI),
            dt.datetime(2026, 3, 10, 22, 6, tzinfo=SHANGHAI),
            "上次同步成功：3月10日晚上 10:06。",
        ),
    ],
)
def test_sync_screen_says_the_state_plainly(
    window: KioskWindow, qtbot: QtBot, demo_store: Store, case: tuple[dt.datetime, dt.datetime, str]
) -> None:
    now, last, said = case
    window.ctx.clock = lambda: now.astimezone(dt.UTC)
    add_staff(demo_store)
    sign_in(qtbot, window)
    click(qtbot, window, "choice_sync")
    assert "还没有登记" in visible(window, QLabel, "sync_enrolled").text()
    click(qtbot, window, "choice_sync_now")
    assert "先登记" in message(window)
    demo_store.set_state("device_id", new_id())
    demo_store.set_state("link", "offline")
    demo_store.set_state("last_error", "offline: no route")
    demo_store.set_state("clock_skew_s", "-600")
    demo_store.set_state("last_success_at", to_text(last.astimezone(dt.UTC)))
    window.show_screen("staff_home")
    window.show_screen("staff_sync")
    texts = {
        n: visible(window, QLabel, n).text()
        for n in ("sync_link", "sync_last", "sync_pending", "sync_error", "sync_skew")
    }
    assert "离线" in texts["sync_link"]
    assert texts["sync_last"] == said
    assert str(demo_store.pending_count()) in texts["sync_pending"]
    assert "offline: no route" in texts["sync_error"]
    assert "快于" in texts["sync_skew"] and "10 分钟" in texts["sync_skew"]


def test_enrolment_with_an_unreachable_address_says_so(
    window: KioskWindow, qtbot: QtBot, demo_store: Store
) -> None:
    add_staff(demo_store)
    sign_in(qtbot, window)
    click(qtbot, window, "choice_enrol")
    click(qtbot, window, "choice_enrol")
    assert "登记码" in message(window)  # both fields are needed
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    type_text(qtbot, window, "enrol_server", f"http://127.0.0.1:{port}")
    type_text(qtbot, window, "enrol_code", "ABCD-EFGH-JKLM")
    click(qtbot, window, "choice_enrol")
    assert message(window) and "Traceback" not in message(window)
    assert demo_store.state("device_id") is None
    assert staff_state(window).enrol.code == ""  # a single-use code is typed again for the next try
    failed = [a for a in audit(demo_store) if a["action"] == "kiosk_enrol_failed"]
    assert failed and failed[-1]["actor"] == "S01" and "ABCD" not in failed[-1]["detail"]


def _digest(store: Store) -> str:
    store.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    parts = [Path(str(store.path) + suffix) for suffix in ("", "-wal")]
    return hashlib.sha256(b"".join(p.read_bytes() for p in parts if p.exists())).hexdigest()


def test_practice_mode_from_staff_mode(window: KioskWindow, qtbot: QtBot, demo_store: Store) -> None:
    add_staff(demo_store)
    sign_in(qtbot, window)
    click(qtbot, window, "choice_practice")
    banner = visible(window, QLabel, "practice_banner")
    assert banner is not None and banner.isVisible() and "练习模式" in banner.text()
    assert demo_store.stored_settings()["practice_mode"] == "true"
    pending_before = demo_store.pending_count()
    before = _digest(demo_store)
    # A whole assisted booking in practice, by touch.
    click(qtbot, window, "choice_assist")
    click(qtbot, window, f"choice_{screen(window).visible_choices()[0].key}")
    click(qtbot, window, f"choice_{screen(window).visible_choices()[0].key}")
    type_text(qtbot, window, "assist_name", "练习居民")
    type_keys(qtbot, window, _id(3))
    click(qtbot, window, "choice_next")
    click(qtbot, window, "choice_consent_yes")
    click(qtbot, window, "choice_book")
    assert visible(window, QLabel, "done_code").isVisible()
    assert (
        window.ctx.store is not demo_store
        and window.ctx.store.query("SELECT count(*) AS n FROM bookings")[0]["n"] == 1
    )
    # The banner is on the resident's screens too.
    window.go_home()
    assert banner.isVisible()
    assert _digest(demo_store) == before  # the real database did not change while practising
    assert demo_store.pending_count() == pending_before
    assert demo_store.query("SELECT count(*) AS n FROM bookings")[0]["n"] == 0
    sign_in(qtbot, window)
    click(qtbot, window, "choice_practice")
    assert not banner.isVisible() and window.ctx.store is demo_store
    actions = [(a["actor"], a["action"]) for a in audit(demo_store)]
    assert ("S01", "practice_on") in actions and ("S01", "practice_off") in actions


def test_the_exit_seam_needs_a_staff_pin(demo_store: Store) -> None:
    from kiosk.ui.lockdown import check_exit_pin

    add_staff(demo_store)
    ok, _text = check_exit_pin(demo_store, PIN)
    assert ok
    refused, text = check_exit_pin(demo_store, "000000")
    assert not refused and "密码不对" in text


def test_every_staff_screen_has_big_named_controls(
    window: KioskWindow, qtbot: QtBot, demo_store: Store, tmp_path: Path
) -> None:
    """Walk every staff screen: each control has an accessible name and is at least the profile's target size;
    every screen has a title and an announcement. Screenshots are written for people to look at."""
    from kiosk.ui.staff import staff_screens

    add_staff(demo_store)
    session = _today_session(demo_store)
    sign_in(qtbot, window)
    state = staff_state(window)
    state.session_id = session.id
    state.setting_key = "printer"
    # A resident identified for the family-member step, and a booking chosen from a look-up, so those screens show
    # what staff really see.
    from kiosk.booking import Bookings

    resident = Resident(new_id(), "张桂兰", _id(6))
    booking = Bookings(demo_store).book(session_id=session.id, resident=resident)
    state.draft.resident = resident
    state.draft.dep_relation = "Granddaughter"
    found = state.desk.lookup_by_code(booking.code)
    assert found is not None
    state.lookup = found
    state.selected = found.bookings[0]
    shots = tmp_path / "shots"
    shots.mkdir()
    seen = []
    for screen_class in staff_screens():
        if screen_class.name == "staff_pin":
            continue  # entering it signs out; checked last
        window.show_screen(screen_class.name)
        current = window.current
        assert current is not None and current.name == screen_class.name, screen_class.name
        seen.append(current.name)
        assert current.title() and current.announcement()
        qtbot.wait(1)
        target = window.theme.target_px
        for button in current.findChildren(QPushButton):
            if not button.isVisible():
                continue
            assert button.accessibleName().strip(), f"{current.name}: {button.objectName()} has no name"
            assert min(button.width(), button.height()) >= target, (current.name, button.objectName())
        for field in current.findChildren(QLineEdit):
            assert field.accessibleName().strip() and field.height() >= target, (
                current.name,
                field.objectName(),
            )
        assert window.grab().save(str(shots / f"standard-{current.name}.png"))
    window.show_screen("staff_pin")
    assert window.grab().save(str(shots / "standard-staff_pin.png"))
    assert len(seen) == len(staff_screens()) - 1
    assert len(list(shots.glob("*.png"))) == len(staff_screens())
    json.dumps(seen)


def test_keyboard_entry_to_staff_mode(window: KioskWindow, qtbot: QtBot, demo_store: Store) -> None:
    add_staff(demo_store)
    qtbot.keyClick(
        window,
        Qt.Key.Key_F11,  # type: ignore[no-untyped-call]
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert screen(window).name == "staff_pin"


def test_idle_timeout_signs_staff_out(window: KioskWindow, qtbot: QtBot, demo_store: Store) -> None:
    add_staff(demo_store)
    sign_in(qtbot, window)
    click(qtbot, window, "choice_settings")
    assert staff_state(window).member is not None
    window.idle.expire()  # what the idle timer does after its warning runs out
    assert screen(window).name == "home" and staff_state(window).member is None
    assert audit(demo_store)[-1] == {"actor": "S01", "action": "staff_signed_out", "detail": ""}
    window.show_screen("staff_settings")
    assert screen(window).name == "staff_pin"  # the way back in is the PIN again


def test_staff_cancel_from_lookup_asks_first_and_works_inside_the_residents_window(
    window: KioskWindow, qtbot: QtBot, demo_store: Store
) -> None:
    from kiosk.booking import Bookings

    add_staff(demo_store)
    session = _today_session(demo_store)  # starts in 30 minutes: too late for the resident alone
    booking = Bookings(demo_store).book(session_id=session.id, resident=Resident(new_id(), "赵玉兰", _id(4)))
    seats = demo_store.session(session.id).seats_left  # type: ignore[union-attr]
    sign_in(qtbot, window)
    click(qtbot, window, "choice_lookup")
    click(qtbot, window, "choice_switch")
    type_keys(qtbot, window, booking.code)
    click(qtbot, window, "choice_search")
    click(qtbot, window, f"choice_booking_{booking.code}")
    click(qtbot, window, "choice_cancel")
    assert screen(window).title() == "要取消这个预约吗？"
    assert "工作人员可以" in visible(window, QLabel, "cancel_late").text()
    click(qtbot, window, "choice_cancel_no")  # changed their mind: nothing happens
    kept = demo_store.booking(booking.id)
    assert kept is not None and kept.status.value != "cancelled"
    click(qtbot, window, "choice_cancel")
    click(qtbot, window, "choice_cancel_yes")
    assert "已取消" in message(window)
    cancelled = demo_store.booking(booking.id)
    assert cancelled is not None and cancelled.status.value == "cancelled"
    assert demo_store.session(session.id).seats_left == seats + 1  # type: ignore[union-attr]
    assert visible(window, QPushButton, "choice_cancel") is None
    assert "已取消" in visible(window, QLabel, "booking_summary").text()
    actions = [(a["actor"], a["action"], a["detail"]) for a in audit(demo_store)]
    assert ("S01", "booking_cancelled", booking.code) in actions
    assert ("S01", "staff_cancel_late", booking.code) in actions
    ops = [o for o in demo_store.pending_ops() if o["entity_id"] == booking.id]
    assert [o["kind"] for o in ops] == ["create", "cancel"]
    queued = [
        e for op in demo_store.pending_ops() if op["entity"] == "audit" for e in op["payload"]["entries"]
    ]
    assert any(e["action"] == "staff_cancel_late" for e in queued)


def test_assisted_booking_for_a_grandchild_by_touch(
    window: KioskWindow, qtbot: QtBot, demo_store: Store
) -> None:
    add_staff(demo_store)
    sign_in(qtbot, window)
    click(qtbot, window, "choice_assist")
    click(qtbot, window, f"choice_{screen(window).visible_choices()[0].key}")
    click(qtbot, window, f"choice_{screen(window).visible_choices()[0].key}")
    type_text(qtbot, window, "assist_name", "张桂兰")
    number = _id(5)
    type_keys(qtbot, window, number)
    click(qtbot, window, "choice_family")
    assert screen(window).name == "staff_book_family"
    click(qtbot, window, "choice_next")
    assert "姓名" in message(window)
    type_text(qtbot, window, "dep_name", "张小雨")
    click(qtbot, window, "choice_next")
    assert "关系" in message(window)
    click(qtbot, window, "choice_relation_1")  # Granddaughter
    assert "孙女" in visible(window, QLabel, "dep_relation").text()
    type_text(qtbot, window, "dep_year", "1850")
    click(qtbot, window, "choice_next")
    assert "出生年份" in message(window)
    type_text(qtbot, window, "dep_year", "2017")
    click(qtbot, window, "choice_next")
    assert screen(window).name == "staff_book_consent"
    click(qtbot, window, "choice_consent_yes")
    assert screen(window).name == "staff_book_confirm"
    summary = visible(window, QLabel, "assist_summary").text()
    assert "孙女" in summary and "张*" in summary and "2017" in summary and "张*兰" in summary
    assert "张小雨" not in summary and number not in summary
    click(qtbot, window, "choice_book")
    code = visible(window, QLabel, "done_code").text().replace("-", "")
    row = demo_store.query(
        "SELECT id, channel, staff_id, dependent_id FROM bookings WHERE code = ?", (code,)
    )[0]
    assert row["channel"] == "assisted" and row["staff_id"] == "S01" and row["dependent_id"]
    dependent = demo_store.dependent(row["dependent_id"])
    assert dependent is not None and dependent.name == "张小雨" and dependent.birth_year == 2017
    op = next(o for o in demo_store.pending_ops() if o["entity_id"] == row["id"])
    assert op["payload"]["for_dependent"] == {
        "name": "张小雨",
        "relation": dependent.relation,
        "birth_year": 2017,
    }
    assert op["payload"]["channel"] == "assisted" and op["payload"]["staff_id"] == "S01"
    draft = staff_state(window).draft
    assert draft.dependent is None and draft.dep_name == "" and draft.resident is None
    # The look-up shows it as the resident's booking for their granddaughter.
    click(qtbot, window, "choice_staff_home")
    click(qtbot, window, "choice_lookup")
    type_keys(qtbot, window, number)
    click(qtbot, window, "choice_search")
    label = visible(window, QPushButton, f"choice_booking_{code}").accessibleName()
    assert "孙女" in label and "张小雨" not in label
