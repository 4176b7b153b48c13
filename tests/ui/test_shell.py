"""The window's rules: tremor filter, idle safety, speech and captions, keys, masked ID, lock-down, the commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel

from kiosk.accessibility.profiles import ELDER, STANDARD
from kiosk.staff.accounts import StaffAccounts
from kiosk.ui.idle import WARNING_S
from tests.ui.conftest import valid_id
from tests.ui.helpers import button, past_notice, press, shown_text, touch, touch_digits

ROOT = Path(__file__).resolve().parents[2]


def staff_calls(store: Any) -> int:
    return len(store.query("SELECT 1 FROM audit_log WHERE action = 'staff_called'"))


def test_touches_within_half_a_second_count_once(make_kiosk: Any, demo_store: Any) -> None:
    now = [100.0]
    kiosk = make_kiosk("motor", touch_clock=lambda: now[0])
    touch(kiosk, "nav_staff")
    now[0] += 0.3  # a trembling second tap
    touch(kiosk, "nav_staff")
    assert staff_calls(demo_store) == 1
    now[0] += 0.6
    touch(kiosk, "nav_staff")
    assert staff_calls(demo_store) == 2
    now[0] += 1.0
    QTest.mouseDClick(
        button(kiosk, "nav_staff"), Qt.MouseButton.LeftButton
    )  # a double-click is never a gesture
    assert staff_calls(demo_store) == 2


def test_idle_warning_then_everything_personal_is_forgotten(make_kiosk: Any) -> None:
    kiosk = make_kiosk("standard")
    kiosk.set_profile(ELDER)
    assert kiosk.idle.timer.isActive() and kiosk.idle.idle_ms() == ELDER.idle_s * 1000
    touch(kiosk, "choice_bookings")
    touch_digits(kiosk, valid_id()[:10])
    kiosk.idle.warn()
    assert kiosk.idle.warning.isVisible() and WARNING_S >= 20
    assert "我还需要时间" in button(kiosk, "idle_more_time").text()
    # As tall as a main choice of the profile in force: the overlay is built on first use, after the stylesheet.
    assert button(kiosk, "idle_more_time").minimumHeight() == kiosk.theme.choice_px > kiosk.theme.target_px
    assert str(WARNING_S) in kiosk.idle.warning.text()
    assert kiosk.idle.warning.text() in kiosk.ctx.speech.said[-1]  # the warning is spoken too
    touch(kiosk, "idle_more_time")
    assert not kiosk.idle.warning.isVisible() and kiosk.ctx.visit.id_entry == valid_id()[:10]
    resets = kiosk.ctx.speech.resets
    kiosk.idle.warn()
    kiosk.idle.expire()
    assert kiosk.current.name == "home"
    assert kiosk.ctx.visit.is_empty() and kiosk.ctx.profile == STANDARD
    assert kiosk.ctx.speech.resets == resets + 1
    touch(kiosk, "choice_bookings")
    assert kiosk.current.name == "consent"  # a new visit: the notice is asked again
    past_notice(kiosk)
    assert shown_text(kiosk, "id_display") == "（还没有输入）"  # nothing of the last resident on screen


def test_speech_on_arrival_repeat_stop_and_private_numbers(make_kiosk: Any) -> None:
    standard = make_kiosk("standard")
    assert standard.ctx.speech.said == []  # speech on request only
    touch(standard, "nav_repeat")
    assert standard.ctx.speech.said and "您好" in standard.ctx.speech.said[-1]

    elder = make_kiosk("elder")
    speech = elder.ctx.speech
    assert speech.said and "您好" in speech.said[-1]  # every screen announced
    stops = speech.stops
    touch(elder, "choice_bookings")
    assert speech.stops > stops  # any touch stops speech first
    assert "身份证" in speech.said[-1]
    number = valid_id()
    touch_digits(elder, number)
    touch(elder, "choice_id_ok")
    clear, masked = speech.private[-1]
    assert number[6:14] not in masked.replace(" ", "")
    assert " ".join(number) in clear  # only for private audio: the speech object decides
    assert all(number not in text.replace(" ", "") for text in speech.said)


def test_captions_in_the_hearing_profile(make_kiosk: Any) -> None:
    kiosk = make_kiosk("hearing")
    assert kiosk.caption_label.isVisible()
    assert "您好" in kiosk.caption_label.text()
    touch(kiosk, "nav_staff")
    assert "工作人员" in kiosk.caption_label.text()


def test_keys_escape_f1_and_numbered_choices_in_blind_mode(make_kiosk: Any) -> None:
    kiosk = make_kiosk("blind")
    said = len(kiosk.ctx.speech.said)
    assert "按1" in kiosk.ctx.speech.said[-1]  # choices are numbered
    press(kiosk, Qt.Key.Key_2)
    assert kiosk.current.name == "service" and kiosk.ctx.visit.kind is not None
    press(kiosk, Qt.Key.Key_F1)
    assert len(kiosk.ctx.speech.said) > said + 1
    press(kiosk, Qt.Key.Key_5)  # the tactile 5 repeats
    assert kiosk.ctx.speech.said[-1] == kiosk.ctx.speech.said[-2]
    press(kiosk, Qt.Key.Key_Escape)
    assert kiosk.current.name == "home"


def test_masked_id_is_revealed_by_touch_for_ten_seconds(make_kiosk: Any) -> None:
    kiosk = make_kiosk("standard")
    touch(kiosk, "choice_bookings")
    number = valid_id()
    touch_digits(kiosk, number)
    assert number[6:14] not in shown_text(kiosk, "id_display").replace(" ", "")
    touch(kiosk, "choice_id_reveal")
    assert shown_text(kiosk, "id_display").replace(" ", "") == number
    timer = kiosk.current._hide_timer
    assert timer.isActive() and timer.interval() == 10_000
    timer.timeout.emit()
    assert number[6:14] not in shown_text(kiosk, "id_display").replace(" ", "")


def test_locked_kiosk_leaves_only_with_the_staff_pin(make_kiosk: Any, demo_store: Any) -> None:
    StaffAccounts(demo_store).add("S01", "李春梅", "482915", actor="enrolment")
    kiosk = make_kiosk("standard", locked=True)
    kiosk.close()
    assert kiosk.isVisible()  # Alt+F4 / the window manager's close do nothing
    QTest.keyClick(
        kiosk, Qt.Key.Key_F12, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert kiosk.current.name == "exit_pin"
    touch_digits(kiosk, "111111")
    touch(kiosk, "choice_ok")
    assert kiosk.isVisible() and kiosk.current.message
    touch_digits(kiosk, "482915")
    touch(kiosk, "choice_ok")
    assert not kiosk.isVisible()


def run_kiosk(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CUNZHAN_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    return subprocess.run(
        [sys.executable, "-m", "kiosk", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_run_until_ready_and_a_damaged_database_is_a_plain_message(
    tmp_path: Path, keyring_ready: None
) -> None:
    done = run_kiosk("run", "--demo", "--profile", "elder", "--quit-after-ready", home=tmp_path / "a")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ready in ") and done.stdout.strip().endswith(" s")
    damaged = tmp_path / "b" / "kiosk"
    damaged.mkdir(parents=True)
    (damaged / "kiosk.db").write_bytes(b"this is not a database" * 100)
    refused = run_kiosk("run", "--quit-after-ready", home=tmp_path / "b")
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr and "数据库" in refused.stderr


def test_screenshots_command_writes_every_screen(tmp_path: Path) -> None:
    # A repeated --profile adds up, as in most command-line tools (it used to keep only the last one).
    done = run_kiosk(
        "screenshots",
        "--out",
        str(tmp_path / "shots"),
        "--profile",
        "elder",
        "--profile",
        "hearing",
        home=tmp_path / "h",
    )
    assert done.returncode == 0, done.stderr
    files = {p.name for p in (tmp_path / "shots").glob("*.png")}
    for profile in ("elder", "hearing"):
        assert {
            f"{profile}-home.png",
            f"{profile}-identify.png",
            f"{profile}-done.png",
            f"{profile}-slip.png",
        } <= files
    assert (
        len(files) == 2 * 33
    )  # every screen of the tour, "remember", "consent", "phone", "rate_invite" and "comment" included, in each profile
    assert (tmp_path / "h" / "kiosk" / "slips").is_dir()  # the slip PDF went under the data directory


def test_voice_commands_choose_type_and_go_back(make_kiosk: Any) -> None:
    kiosk = make_kiosk("elder")
    kiosk.voice_routing.on_command("远程问诊")  # a choice's own words
    assert kiosk.current.name == "service"
    kiosk.voice_routing.on_command("返回")
    assert kiosk.current.name == "home"
    kiosk.voice_routing.on_command("我的预约")
    assert kiosk.current.name == "consent"
    kiosk.voice_routing.on_command("同意")  # the notice is agreed to by voice too
    assert kiosk.current.name == "identify"
    kiosk.voice_routing.on_command("三三零幺")  # digits as people say them, 幺 for one
    assert kiosk.ctx.visit.id_entry == "3301"
    said = len(kiosk.ctx.speech.said)
    kiosk.voice_routing.on_command("重听")
    assert len(kiosk.ctx.speech.said) == said + 1
    kiosk.voice_routing.on_command("首页")
    assert kiosk.current.name == "home"


def test_thread_ops_report_back_on_the_main_thread(qtbot: Any) -> None:
    import threading

    from kiosk.ui.ops import ThreadOps

    ops = ThreadOps()
    main = threading.get_ident()
    seen: list[tuple[str, int, object]] = []

    def work() -> int:
        assert threading.get_ident() != main  # the work itself runs off the main thread
        return 42

    def fail() -> int:
        raise OSError("disk")

    ops.write(work, on_done=lambda v: seen.append(("done", threading.get_ident(), v)))
    ops.run(
        fail,
        on_done=lambda v: seen.append(("wrong", 0, v)),
        on_error=lambda e: seen.append(("error", threading.get_ident(), str(e))),
    )
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=5000)
    ops.shutdown()
    assert sorted(seen, key=str) == sorted([("done", main, 42), ("error", main, "disk")], key=str)


def test_speech_started_after_the_first_frame_says_the_screen(make_kiosk: Any) -> None:
    from tests.ui.conftest import RecordingSpeech

    kiosk = make_kiosk("elder")
    later = RecordingSpeech()
    kiosk.set_speech(later)
    assert later.said and "您好" in later.said[-1]
    touch(kiosk, "nav_staff")
    assert later.stops and "工作人员" in later.said[-1]


def test_slip_asks_for_the_chosen_printer_and_always_keeps_the_pdf(qtbot: Any, data_home: Path) -> None:
    """The `printer` setting names the printer; a name this computer does not have falls back to the default
    printer, and with no printer at all (this machine) the slip is still saved as a PDF."""
    from PySide6.QtGui import QColor, QImage

    from kiosk.ui.screens.slip import print_slip

    image = QImage(300, 560, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    for name in ("no-such-printer", ""):
        pdf, on_paper = print_slip(image, "07-0042-3", name)
        assert pdf == data_home / "kiosk" / "slips" / "07-0042-3.pdf" and pdf.read_bytes().startswith(b"%PDF")
        assert on_paper is False


@pytest.mark.parametrize("profile_name", ["standard", "elder", "low_vision"])
def test_township_notices_on_home_are_shown_and_read_out(
    make_kiosk: Any, demo_store: Any, profile_name: str
) -> None:
    """Notices the township posts reach home (as the sync engine stores them): shown, spoken, the ones in force
    only, and home still passes the accessibility audit with them."""
    import datetime as dt
    import json

    from kiosk.store import to_text, utc_now
    from kiosk.ui.audit import audit_screen

    now = utc_now()
    rows = {
        "n1": (
            "周四门诊调整。",
            "李医生周四休息，高血压随访改到周五上午。",
            now - dt.timedelta(hours=2),
            None,
        ),
        "n2": ("智能手机课停一次", "", now - dt.timedelta(hours=1), now + dt.timedelta(days=1)),
        "old": ("已过期的通知", "不应显示", now - dt.timedelta(days=3), now - dt.timedelta(days=1)),
        "later": ("还没开始的通知", "不应显示", now + dt.timedelta(days=1), None),
    }
    with demo_store.transaction() as conn:
        for ident, (title, body, starts, ends) in rows.items():
            data = {
                "title": title,
                "body": body,
                "starts_at": to_text(starts),
                "ends_at": to_text(ends) if ends else None,
            }
            conn.execute(
                "INSERT INTO notices (id, data, version) VALUES (?, ?, 1)", (ident, json.dumps(data))
            )
    kiosk = make_kiosk(profile_name)
    shown = [shown_text(kiosk, f"township_notice_{i}") for i in range(2)]
    assert shown == [
        "乡镇通知：智能手机课停一次",
        "乡镇通知：周四门诊调整。李医生周四休息，高血压随访改到周五上午。",
    ]
    assert kiosk.findChild(QLabel, "township_notice_2") is None
    spoken = kiosk.current.spoken_announcement()
    assert all(text in spoken for text in shown) and "不应显示" not in spoken
    assert audit_screen(kiosk) == []
