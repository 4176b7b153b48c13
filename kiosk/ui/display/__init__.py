"""The waiting-room display (#16): a mode of the kiosk that shows and announces calls — "请 3 号 到 远程诊室二" — by
number only, never by name.

`waiting_room(window)` is the kiosk window's waiting room: the calls made at this kiosk's staff room screen
(`kiosk.ui.staff.room`, shown at once) and those made in the township console (long-polled by
`kiosk.sync.calls.CallListener`, handed to the main thread through a queued Qt signal) go to its boards.
`open_display(window)` shows a board in a window of its own: on the machine's second screen when it has one, else
full screen over the kiosk (Ctrl+Shift+F11 closes it and asks for the staff PIN). `python -m kiosk run --display`
opens it at start-up; staff mode's room screen switches it on.

The room a call names: the township's (`Call.room`, the session's room in the console), else the session's room as
synced, else the kiosk's `room_name` setting.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from cunzhan.i18n import gettext as _
from kiosk import settings as S
from kiosk.practice import kiosk_store
from kiosk.settings import Settings
from kiosk.ui.display.board import CallBoard
from kiosk.ui.theme import Theme

if TYPE_CHECKING:
    from cunzhan.protocol import Call
    from kiosk.accessibility.api import SpeechOut
    from kiosk.store import Store
    from kiosk.sync.calls import CallListener
    from kiosk.ui.window import KioskWindow


def room_words(store: Store, call: Call) -> str:
    """Where a call sends the resident: the township's room name, the session's, or this kiosk's own name for it."""
    if call.room:
        return call.room
    session = store.session(
        call.session_id
    )  # the township sends the session's room: a call made here says it too
    if session is not None and session.room:
        return session.room
    named = str(Settings(store.stored_settings()).get(S.ROOM_NAME) or "").strip()
    return named or _("the consulting room")


class WaitingRoom(QObject):
    """One kiosk window's waiting room: its boards, the call listener, and the calls made here."""

    arrived = Signal(object)  # list[Call] from the listener's thread; queued to the main thread
    called = Signal()  # a call was shown (staff screens redraw their list)

    def __init__(self, window: KioskWindow) -> None:
        super().__init__()
        self.window = window
        self.boards: list[CallBoard] = []
        self.displays: list[DisplayWindow] = []
        self.listener: CallListener | None = None
        self.arrived.connect(self._arrived, Qt.ConnectionType.QueuedConnection)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop)

    @property
    def store(self) -> Store:
        return self.window.ctx.store

    def show(self, call: Call) -> None:
        """Put `call` on every board (a call made here, or one the listener brought)."""
        room = room_words(self.store, call)
        for board in self.boards:
            board.show_call(call.queue_number, room, call.action)
        self.called.emit()

    def _arrived(self, calls: list[Call]) -> None:
        for call in calls:
            self.show(call)

    # --- the listener -----------------------------------------------------------------------------------------------

    def listen(self, **options: object) -> None:
        """Start long-polling the township for this kiosk's calls (when enrolled; a no-op when already running)."""
        if self.listener is not None and self.listener.running:
            return
        from kiosk.sync.calls import CallListener

        real = kiosk_store(self.store)
        self.listener = CallListener(real.path, on_calls=self.arrived.emit, **options).start()  # type: ignore[arg-type]

    def stop(self) -> None:
        if self.listener is not None:
            self.listener.stop()
            self.listener = None

    # --- boards -----------------------------------------------------------------------------------------------------

    def board(self, speech: SpeechOut, theme: Theme) -> CallBoard:
        """A new board fed by this waiting room."""
        title = str(Settings(self.store.stored_settings()).get(S.KIOSK_NAME) or "")
        board = CallBoard(
            theme, speech, title=_("{place}: waiting room").format(place=title) if title else ""
        )
        self.boards.append(board)
        board.destroyed.connect(lambda *_: self._forget(board))
        return board

    def _forget(self, board: CallBoard) -> None:
        if board in self.boards:
            self.boards.remove(board)


class DisplayWindow(QWidget):
    """A board in a window of its own (the waiting room's screen)."""

    def __init__(self, room: WaitingRoom, speech: SpeechOut, theme: Theme) -> None:
        super().__init__()
        self.room = room
        self.setObjectName("display_window")
        self.setWindowTitle(_("Waiting room"))
        self.setAccessibleName(_("Waiting room"))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.board = room.board(speech, theme)
        layout.addWidget(self.board)
        leave = QShortcut(QKeySequence("Ctrl+Shift+F11"), self)
        leave.setObjectName("display_leave")
        leave.activated.connect(self.leave)

    def leave(self) -> None:
        """Back to the kiosk (its staff PIN screen: only staff switch the display off)."""
        self.close()
        if self in self.room.displays:
            self.room.displays.remove(self)
        self.room.window.show_screen("staff_pin")


_ROOMS: weakref.WeakKeyDictionary[KioskWindow, WaitingRoom] = weakref.WeakKeyDictionary()


def waiting_room(window: KioskWindow) -> WaitingRoom:
    """The waiting room of `window` (made on first use)."""
    room = _ROOMS.get(window)
    if room is None:
        room = WaitingRoom(window)
        _ROOMS[window] = room
    return room


def open_display(
    window: KioskWindow, *, speech: SpeechOut | None = None, listen: bool = True, full_screen: bool = True
) -> DisplayWindow:
    """Show the waiting-room display: on a second screen when there is one, else over the kiosk. Its speech is its
    own (a resident's touch at the kiosk must not silence a call); the kiosk's default profile sets its colours."""
    room = waiting_room(window)
    if speech is None:
        from kiosk.ui.app import make_speech_out

        speech = make_speech_out(window.ctx.settings)
    screens = QGuiApplication.screens()
    here = window.screen()
    target = next((s for s in screens if s is not here), None) or here or QGuiApplication.primaryScreen()
    dpi = window.ctx.dpi_override or (target.physicalDotsPerInch() if target else None)
    display = DisplayWindow(room, speech, Theme(window.ctx.default_profile, dpi))
    room.displays.append(display)
    if target is not None:
        display.setGeometry(target.geometry())
    if full_screen:
        display.showFullScreen()
    else:
        display.show()
    if listen:
        room.listen()
    return display
