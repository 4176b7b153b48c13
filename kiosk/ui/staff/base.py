"""The base of every staff screen: a signed-in staff member is required, and text fields keep what was typed."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from PySide6.QtWidgets import QApplication, QLineEdit, QVBoxLayout

from cunzhan.i18n import gettext as _
from kiosk.ui import widgets
from kiosk.ui.screen import Screen
from kiosk.ui.staff.state import StaffState, staff_state


class StaffScreen(Screen):
    """A staff screen. Without a signed-in staff member it sends the user to the PIN screen."""

    needs_staff: ClassVar[bool] = True
    per_page: ClassVar[int] = 8  # staff screens show more at once than residents' (still big targets)

    @property
    def state(self) -> StaffState:
        return staff_state(self.win)

    def page_size(self) -> int:
        return self.per_page

    def on_enter(self) -> None:
        if self.needs_staff and self.state.member is None:
            self.win.show_screen("staff_pin", remember=False)
            return
        self.load()

    def load(self) -> None:
        """Load what the screen shows (a staff member is signed in)."""

    # The window's input rules turn digit keys into keypad input for the screen (`on_digit`). On a staff screen a
    # focused text field (staff number, address, code) gets them instead; the keypad gets them otherwise.

    def focused_field(self) -> QLineEdit | None:
        widget = QApplication.focusWidget()
        if isinstance(widget, QLineEdit) and widget.isVisible() and self.isAncestorOf(widget):
            return widget
        return None

    def on_digit(self, key: str) -> bool:
        field = self.focused_field()
        if field is not None:
            field.insert(key.lower() if key == "X" else key)
            return True
        return self.keypad_digit(key)

    def on_backspace(self) -> bool:
        field = self.focused_field()
        if field is not None:
            field.backspace()
            return True
        return self.keypad_backspace()

    def keypad_digit(self, key: str) -> bool:
        """A digit (or X) typed for the screen's keypad; True when used."""
        return False

    def keypad_backspace(self) -> bool:
        return False

    def text_field(
        self,
        box: QVBoxLayout,
        *,
        name: str,
        label: str,
        value: str,
        on_change: Callable[[str], None],
        placeholder: str = "",
        secret: bool = False,
    ) -> QLineEdit:
        """A labelled one-line text field (physical or on-screen keyboard). What is typed is kept by `on_change`
        in the staff state, because the screen body is rebuilt on every render."""
        caption = widgets.label(label, name=f"{name}_label")
        field = QLineEdit(value)
        field.setObjectName(name)
        field.setAccessibleName(label)
        field.setPlaceholderText(placeholder)
        field.setMinimumHeight(self.theme.target_px)
        if secret:
            field.setEchoMode(QLineEdit.EchoMode.Password)
        caption.setBuddy(field)
        field.textChanged.connect(on_change)
        box.addWidget(caption)
        box.addWidget(field)
        return field

    def fail(self, exc: BaseException) -> None:
        """Show an error from a background op as a plain sentence (never a traceback)."""
        message = getattr(exc, "message", None)
        text = message() if callable(message) else _("Something went wrong. Please try again.")
        self.show_message(str(text))
