"""The day of the session on the real kiosk window (offscreen Qt): the number at check-in (shown, spoken, on the
slip), the staff's room screen calling numbers onto the waiting-room display, and the display itself — by number,
never by name, large enough to read across a room (screenshots looked at, per profile)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QLabel, QPushButton, QWidget

from cunzhan.models import Resident, Session
from kiosk.booking import Bookings
from kiosk.store import Store, new_id, utc_now
from kiosk.ui.display import open_display, waiting_room
from kiosk.ui.display.board import min_number_mm
from kiosk.ui.staff.state import staff_state
from tests.integration.conftest import valid_id_number
from tests.ui.conftest import RecordingSpeech
from tests.ui.helpers import shown_text, touch, touch_digits
from tests.ui.test_staff_mode import add_staff, sign_in

NAMES = ("张桂兰", "王建国", "李秀英")


def _today_session(store: Store, room: str = "远程诊室二", video_url: str = "") -> Session:
    now = utc_now().replace(microsecond=0)
    service = store.query("SELECT id FROM services LIMIT 1")[0]["id"]
    provider = store.query("SELECT id FROM providers LIMIT 1")[0]["id"]
    session = Session(
        new_id(),
        service,
        provider,
        now + dt.timedelta(minutes=30),
        now + dt.timedelta(minutes=90),
        10,
        10,
        room,
        video_url,
    )
    store.upsert_session(session)
    return session


def _book(store: Store, session: Session, n: int) -> Any:
    resident = Resident(new_id(), NAMES[n % len(NAMES)], valid_id_number(100 + n))
    return Bookings(store).book(session_id=session.id, resident=resident)


def _texts(widget: QWidget) -> str:
    return " ".join(
        [label.text() + " " + label.accessibleName() for label in widget.findChildren(QLabel)]
        + [widget.accessibleName()]
    )


def test_check_in_gives_the_next_number_shown_spoken_and_printed(make_kiosk: Any, demo_store: Store) -> None:
    session = _today_session(demo_store)
    first, second = _book(demo_store, session, 1), _book(demo_store, session, 2)
    kiosk = make_kiosk("elder")
    for booking, number in ((second, 1), (first, 2)):  # numbers follow check-in order, not booking order
        touch(kiosk, "choice_check_in")
        touch(kiosk, "choice_by_code")
        touch_digits(kiosk, booking.code)
        touch(kiosk, "choice_check_in_now")
        assert kiosk.current.name == "checked_in"
        assert shown_text(kiosk, "queue_number") == f"您是 {number} 号"
        said = kiosk.ctx.speech.said[-1]
        assert said.startswith(f"签到成功。您是 {number} 号。") and f"再说一遍：您是 {number} 号。" in said
        assert demo_store.queue_number(booking.id) == number
        if number == 2:
            touch(kiosk, "choice_slip")
            assert kiosk.current.name == "slip"
            slip = next(w for w in kiosk.findChildren(QLabel, "slip_picture") if w.isVisible())
            assert "2 号" in slip.accessibleName()
        touch(kiosk, "choice_finish")


@pytest.fixture
def staffed(make_kiosk: Any, demo_store: Store, qtbot: Any) -> Any:
    add_staff(demo_store)
    kiosk = make_kiosk("standard")
    sign_in(qtbot, kiosk)
    return kiosk


def test_staff_call_the_next_number_onto_the_display_by_number_only(
    staffed: Any, demo_store: Store, qtbot: Any, tmp_path: Path
) -> None:
    session = _today_session(demo_store, video_url="https://meet.example.cn/room/42")
    rules = Bookings(demo_store)
    booked = [_book(demo_store, session, n) for n in range(3)]
    for booking in booked:
        rules.check_in(booking.id)
    speech = RecordingSpeech()
    display = open_display(staffed, speech=speech, listen=False, full_screen=False)
    display.resize(1920, 1080)
    qtbot.waitExposed(display)
    staff_state(staffed).session_id = session.id
    staffed.show_screen("staff_session")
    touch(staffed, "open_room")
    assert staffed.current.name == "staff_room"
    assert "1 号" in shown_text(staffed, "room_list") and "张*兰" in shown_text(staffed, "room_list")
    assert next(w for w in staffed.findChildren(QLabel, "room_qr") if w.isVisible()).pixmap() is not None
    assert shown_text(staffed, "room_url") == "https://meet.example.cn/room/42"

    touch(staffed, "choice_call_next")
    board = display.board
    assert board.current_text() == "请 1 号 到 远程诊室二"
    assert speech.said[-1] == "请 1 号到远程诊室二。请 1 号到远程诊室二。"  # twice
    touch(staffed, "choice_call_next")
    assert board.current_text() == "请 2 号 到 远程诊室二"
    assert "1 号" in board.earlier_line.text()
    touch(staffed, "choice_skip")  # 2 did not come
    assert "2 号 过号" in board.earlier_line.text()
    touch(staffed, "choice_call_next")
    touch(staffed, "choice_recall")
    assert board.current_text() == "请 3 号 到 远程诊室二" and len(speech.said) == 4
    touch(display, "display_repeat")
    assert len(speech.said) == 5 and speech.said[-1] == speech.said[-2]
    shown = _texts(display)
    for name in NAMES:  # never a name on the waiting room's screen
        assert name not in shown and name[0] + "*" not in shown
    ops = [op for op in demo_store.pending_ops() if op["entity"] == "call"]
    assert [(op["payload"]["queue_number"], op["payload"]["action"]) for op in ops] == [
        (1, "call"),
        (2, "call"),
        (2, "skip"),
        (3, "call"),
        (3, "recall"),
    ]
    touch(staffed, "choice_call_next")
    assert staffed.current.message == "没有可以叫的号了。"
    out = Path(os.environ.get("CUNZHAN_AUDIT_SHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    assert staffed.grab().save(str(out / "standard-staff_room.png"))
    display.close()


@pytest.mark.parametrize("profile", ["standard", "elder"])
def test_the_display_reads_across_a_room(
    make_kiosk: Any, demo_store: Store, qtbot: Any, tmp_path: Path, profile: str
) -> None:
    """At the kiosk's resolution (1920×1080 on the reference panel) the number is at least the height read from 6 m,
    the earlier calls and 重听 are large, and the colours are the profile's high-contrast pairs."""
    from kiosk.accessibility.profiles import profile as profile_by_name
    from kiosk.ui.theme import contrast_ratio

    session = _today_session(demo_store, room="远程诊室二")
    rules = Bookings(demo_store)
    for n in range(4):
        rules.check_in(_book(demo_store, session, n).id)
    kiosk = make_kiosk(profile)
    kiosk.ctx.default_profile = profile_by_name(profile)
    display = open_display(kiosk, speech=RecordingSpeech(), listen=False, full_screen=False)
    display.resize(1920, 1080)
    qtbot.waitExposed(display)
    room = waiting_room(kiosk)
    for action in ("call", "call", "skip", "call", "call"):
        call = rules.call(session.id, action)  # type: ignore[arg-type]
        assert call is not None
        room.show(call)
    QApplication.processEvents()
    board = display.board
    theme = board.theme
    number_px = board.number_line.font().pixelSize()
    assert theme.mm(number_px) >= min_number_mm() * 0.95  # the CJK em: ≈ the glyph height
    assert board.number_line.width() <= 1920 and board.number_line.sizeHint().width() <= 1920
    assert theme.mm(board.earlier_line.font().pixelSize()) >= 12
    button = board.repeat_button
    assert isinstance(button, QPushButton) and theme.mm(button.height()) >= 25
    palette = theme.palette
    assert contrast_ratio(palette.focus_bg, palette.bar_bg) >= 7
    assert contrast_ratio(palette.bar_text, palette.bar_bg) >= 7
    assert board.current_text() == "请 4 号 到 远程诊室二"
    assert "3 号" in board.earlier_line.text() and "2 号 过号" in board.earlier_line.text()
    out = Path(os.environ.get("CUNZHAN_AUDIT_SHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    assert display.grab().save(str(out / f"{profile}-waiting_room_display.png"))
    display.close()
