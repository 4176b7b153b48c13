"""`run`'s start-up path: the window is shown before staff mode is imported, and the staff key works all along."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import QObject, Qt
from pytestqt.qtbot import QtBot

from kiosk.accessibility.api import CaptionOnlySpeech, NoVoice
from kiosk.staff import StaffAccounts
from kiosk.store import Store
from kiosk.ui.app import build_window, staff_entry_until_installed
from kiosk.ui.context import KioskContext
from kiosk.ui.ops import SyncOps
from kiosk.ui.window import KioskWindow

STAFF_KEY = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def started(demo_store: Store, qtbot: QtBot) -> Iterator[tuple[KioskWindow, Callable[[], None]]]:
    """A window as `run` builds it: no staff mode yet, the early staff key, home shown."""
    StaffAccounts(demo_store).add("S01", "李春梅", "135790", actor="enrolment")
    ticks = itertools.count(start=100, step=2)
    ctx = KioskContext(store=demo_store, speech=CaptionOnlySpeech(), voice=NoVoice("none"), ops=SyncOps())
    win = build_window(ctx, clock=lambda: float(next(ticks)), staff=False)
    install = staff_entry_until_installed(win)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.go_home()
    win.show()
    win.activateWindow()
    qtbot.waitExposed(win)
    yield win, install
    win.unlock_and_close()


def _name(win: KioskWindow) -> str:
    assert win.current is not None
    return win.current.name


def test_staff_key_before_staff_mode_is_installed_opens_the_pin_screen(
        started: tuple[KioskWindow, Callable[[], None]], qtbot: QtBot) -> None:
    win, install = started
    with pytest.raises(KeyError):
        win.screen_named("staff_pin")  # really not installed yet
    qtbot.keyClick(win, Qt.Key.Key_F11, STAFF_KEY)  # type: ignore[no-untyped-call]
    assert _name(win) == "staff_pin"
    install()  # the deferred install arriving afterwards changes nothing
    win.go_home()
    qtbot.keyClick(win, Qt.Key.Key_F11, STAFF_KEY)  # type: ignore[no-untyped-call]
    assert _name(win) == "staff_pin"


def test_staff_key_after_the_deferred_install_still_works_once(
        started: tuple[KioskWindow, Callable[[], None]], qtbot: QtBot) -> None:
    win, install = started
    install()
    install()
    qtbot.wait(10)  # the early shortcut's deleteLater runs
    assert win.findChild(QObject, "staff_shortcut_early") is None
    assert win.findChild(QObject, "staff_shortcut") is not None
    qtbot.keyClick(win, Qt.Key.Key_F11, STAFF_KEY)  # type: ignore[no-untyped-call]
    assert _name(win) == "staff_pin"
    qtbot.keyClick(win, Qt.Key.Key_Escape)  # type: ignore[no-untyped-call]
    assert _name(win) == "home"
