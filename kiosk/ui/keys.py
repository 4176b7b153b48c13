"""The window's input rules: one application event filter for the whole kiosk window.

Any touch or key stops speech and restarts the idle timer; repeated touches within 0.5 s count once (tremor); double
clicks are ignored (no gesture but a single tap); keys: digits (and X) type or choose, Enter confirms, Backspace
deletes, Esc goes back, arrows and Tab move focus, 5 or F1 repeats, * (or F2) says what was typed, # (or F3) listens,
Ctrl+Shift+F12 asks for the staff PIN. In a text field (staff screens) keys type; only Esc and F1 keep their meaning.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

if TYPE_CHECKING:
    from kiosk.ui.window import KioskWindow

TREMOR_S = 0.5


class InputRules(QObject):
    """Application-wide event filter for the window: tremor filter, no double tap, stop speech, idle, keys."""

    def __init__(self, window: KioskWindow, *, clock: Callable[[], float]) -> None:
        super().__init__(window)
        self.window = window
        self.clock = clock
        self.tremor_s = TREMOR_S
        self._last_press = -1e9
        self._swallow_release = False
        self._seen: tuple[int, int] | None = None
        self._installed = False
        self.keyboard_used = (
            False  # set by the first key press: from then on focus is shown on arrival (per visit)
        )
        self._enter_at = -1e9  # when Enter last opened another screen, and which
        self._entered_to: object = None
        self._arrowed_to: object = None  # the control the last arrow key moved to (Enter presses it once)
        # Ctrl+Shift+F11 before staff mode is installed (kiosk.ui.app.staff_entry_until_installed sets and clears it).
        self.early_staff_key: Callable[[], None] | None = None

    def install(self) -> None:
        """Start filtering the application's events (the window does it when first shown: the few hundred events of
        building and styling it before that would each cross into Python for nothing)."""
        app = QApplication.instance()
        if app is not None and not self._installed:
            app.installEventFilter(self)
            self._installed = True

    def uninstall(self) -> None:
        """Stop filtering (the window is going away)."""
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    def _ours(self, obj: QObject) -> bool:
        return isinstance(obj, QWidget) and obj.window() is self.window

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind not in (
            QEvent.Type.MouseButtonPress,
            QEvent.Type.MouseButtonRelease,
            QEvent.Type.MouseButtonDblClick,
            QEvent.Type.KeyPress,
        ):
            return False
        if not self._ours(obj):
            return False
        if kind == QEvent.Type.MouseButtonDblClick:
            return True  # a second tap is never a gesture
        if kind == QEvent.Type.MouseButtonPress:
            return self._press(event)  # type: ignore[arg-type]
        if kind == QEvent.Type.MouseButtonRelease:
            if self._swallow_release:
                self._swallow_release = False
                return True
            return False
        if isinstance(obj, QLineEdit | QAbstractSpinBox | QTextEdit | QPlainTextEdit):
            return self._text_key(event)  # type: ignore[arg-type]
        return self._key(event)  # type: ignore[arg-type]

    def _text_key(self, event: QKeyEvent) -> bool:
        """A key typed into a text field (staff screens): the field gets it; only Esc and F1 keep their meaning."""
        win = self.window
        win.ctx.speech.stop()
        self.keyboard_used = True
        win.idle.poke()
        if event.key() == Qt.Key.Key_Escape:
            win.back()
            return True
        if event.key() == Qt.Key.Key_F1:
            win.repeat()
            return True
        return False

    def _press(self, event: QMouseEvent) -> bool:
        identity = (int(event.timestamp()), int(event.type()))
        if identity == self._seen:
            return False  # the same press travelling up to a parent widget
        self._seen = identity
        now = self.clock()
        if now - self._last_press < self.tremor_s:
            self._swallow_release = True
            return True
        self._last_press = now
        self.window.ctx.speech.stop()
        self.window.idle.poke()
        return False

    def _key(self, event: QKeyEvent) -> bool:  # noqa: PLR0912, PLR0915 - one branch per key of the keypad
        win = self.window
        win.ctx.speech.stop()
        self.keyboard_used = True
        if win.idle.warning_shown():
            win.idle.more_time()
            return True
        win.idle.poke()
        screen = win.current
        if screen is None:
            return False
        key = event.key()
        mods = event.modifiers()
        text = event.text()
        control_shift = bool(
            mods & Qt.KeyboardModifier.ControlModifier and mods & Qt.KeyboardModifier.ShiftModifier
        )
        if key == Qt.Key.Key_F12 and control_shift:
            win.request_exit()
            return True
        if key == Qt.Key.Key_F11 and control_shift and self.early_staff_key is not None:
            self.early_staff_key()
            return True
        if key == Qt.Key.Key_Escape:
            win.back()
            return True
        if key == Qt.Key.Key_F1:
            win.repeat()
            return True
        if key in (Qt.Key.Key_Backspace, Qt.Key.Key_Delete):
            screen.on_backspace()
            return True
        if key in (Qt.Key.Key_Asterisk, Qt.Key.Key_F2) or text == "*":
            hear = getattr(screen, "hear_typed", None)  # what has been typed so far (typing screens)
            if hear is not None:
                hear()
            return True
        if key in (Qt.Key.Key_NumberSign, Qt.Key.Key_F3) or text == "#":
            win.talk()  # start listening by a key (blind mode has no big button to find)
            return True
        if text and text in "0123456789xX":
            self._arrowed_to = None
            if screen.on_digit(text.upper()):
                return True
            if text == "5":
                win.repeat()
            elif text.isdigit() and win.ctx.profile.numbered_choices:
                screen.choose_number(int(text))
            return True
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            now = self.clock()
            if screen is self._entered_to and now - self._enter_at < self.tremor_s:
                return True  # a second Enter just after one that opened this screen: not this screen's choice
            focus = win.focusWidget()
            # An on-screen key (the ID's X) is pressed by Enter when the resident moved to it with the arrows;
            # otherwise Enter confirms what was typed, wherever focus happens to rest.
            on_key = (
                isinstance(focus, QAbstractButton)
                and focus.property("kind") == "key"
                and focus is not self._arrowed_to
            )
            if isinstance(focus, QAbstractButton) and focus.isVisible() and focus.isEnabled() and not on_key:
                self._arrowed_to = None  # pressed: the next Enter confirms
                focus.click()
            else:
                screen.on_confirm()
            self._enter_at = now
            self._entered_to = win.current if win.current is not screen else None
            return True
        if key in (Qt.Key.Key_Down, Qt.Key.Key_Right, Qt.Key.Key_Tab):
            win.focusNextChild()
            self._arrowed_to = win.focusWidget()
            win.speech_routing.speak_focus()
            return True
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Left, Qt.Key.Key_Backtab):
            win.focusPreviousChild()
            self._arrowed_to = win.focusWidget()
            win.speech_routing.speak_focus()
            return True
        return False
