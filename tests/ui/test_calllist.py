"""The village staff call list (#16): today's and tomorrow's bookings, masked, those without a phone marked in words;
printable to a PDF under the data directory (and the printer when there is one); viewing and printing audited."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

from PySide6.QtWidgets import QLabel, QPushButton
from pytestqt.qtbot import QtBot

from cunzhan.codes import format_code
from cunzhan.models import Resident, Session
from kiosk.booking import Bookings
from kiosk.store import Store, new_id
from kiosk.ui.window import KioskWindow
from tests.ui.test_staff_mode import (  # noqa: F401 - `window` is the staff tests' fixture
    _id,
    add_staff,
    audit,
    click,
    pin_clock,
    screen,
    sign_in,
    visible,
    window,
)


def _session(store: Store, now: dt.datetime, days: int) -> Session:
    service = store.query("SELECT id FROM services LIMIT 1")[0]["id"]
    provider = store.query("SELECT id FROM providers LIMIT 1")[0]["id"]
    starts = now + dt.timedelta(days=days, minutes=30)
    session = Session(
        new_id(), service, provider, starts, starts + dt.timedelta(minutes=30), 6, 6, "远程诊室一"
    )
    store.upsert_session(session)
    return session


def test_call_list_marks_who_has_no_phone_and_prints(
    window: KioskWindow,  # noqa: F811 - the staff tests' kiosk window fixture
    qtbot: QtBot,
    demo_store: Store,
    data_home: Path,
) -> None:
    add_staff(demo_store)
    now = pin_clock(window)
    soon, tomorrow, later = (_session(demo_store, now, d) for d in (0, 1, 3))
    rules = Bookings(demo_store)
    resident = Resident(new_id(), "张桂兰", _id(1), "13912345678")
    with_phone = rules.book(session_id=soon.id, resident=resident, now=now)
    without = rules.book(session_id=tomorrow.id, resident=Resident(new_id(), "王秀英", _id(2)), now=now)
    rules.book(
        session_id=later.id, resident=Resident(new_id(), "赵玉兰", _id(3)), now=now
    )  # not today or tomorrow
    sign_in(qtbot, window)
    click(qtbot, window, "choice_calllist")
    assert screen(window).name == "staff_calllist"
    summary = visible(window, QLabel, "calllist_summary").text()
    assert "2" in summary and "1" in summary
    phoned = visible(window, QPushButton, f"choice_call_{format_code(with_phone.code)}")
    shown = phoned.text() + phoned.accessibleName()
    assert (
        "139****5678" in shown and "张*兰" in shown and "13912345678" not in shown and "张桂兰" not in shown
    )
    lines = {line.code: line for line in window.current.lines}  # type: ignore[union-attr]
    assert len(lines) == 2
    no_phone = next(line for line in lines.values() if not line.phone)
    assert "无电话" in no_phone.text() and no_phone.day == "明天" and "王*英" in no_phone.who
    assert without.resident_id
    folder = data_home / "kiosk" / "lists"
    folder.mkdir(parents=True)
    old, recent = folder / "calllist-old.pdf", folder / "calllist-recent.pdf"
    for pdf, age_h in ((old, 72), (recent, 1)):  # printed three days ago, an hour ago
        pdf.write_bytes(b"%PDF-1.4 earlier list")
        os.utime(pdf, (time.time() - age_h * 3600,) * 2)
    click(qtbot, window, "choice_print_list")
    pdfs = [p for p in folder.glob("calllist-*.pdf") if p != recent]
    assert not old.exists() and recent.exists()  # lists older than two days are deleted, newer ones kept
    assert len(pdfs) == 1 and pdfs[0].read_bytes().startswith(b"%PDF")
    assert window.current is not None and window.current.message  # said where it went (printer or file)
    assert window.grab().save(str(data_home / "calllist.png"))
    actions = [a["action"] for a in audit(demo_store)]
    assert "call_list_viewed" in actions and "call_list_printed" in actions
    assert all("张" not in a["detail"] and "139" not in a["detail"] for a in audit(demo_store))
