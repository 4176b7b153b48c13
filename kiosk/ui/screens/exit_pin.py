"""Staff PIN to leave a locked-down kiosk (Ctrl+Shift+F12). Not part of the resident's journey."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QVBoxLayout, QWidget

from kiosk.i18n import gettext as _
from kiosk.ui import widgets
from kiosk.ui.lockdown import check_exit_pin
from kiosk.ui.screen import Choice, Screen

if TYPE_CHECKING:
    from kiosk.ui.window import KioskWindow

PIN_MAX = 12


class ExitPinScreen(Screen):
    name = "exit_pin"

    def __init__(self, window: KioskWindow) -> None:
        super().__init__(window)
        self.pin = ""

    def title(self) -> str:
        return _("Staff only: leave the kiosk")

    def announcement(self) -> str:
        return _("Enter the staff PIN, then touch OK.")

    def on_enter(self) -> None:
        self.pin = ""

    def side_panel(self) -> QWidget:
        return self.kept_keypad(on_key=self._key, with_x=False)

    def build_body(self, box: QVBoxLayout) -> None:
        shown = "●" * len(self.pin) or _("(nothing entered)")
        box.addWidget(widgets.label(shown, kind="code", name="pin_display"))

    def choices(self) -> list[Choice]:
        return [Choice("ok", _("OK"), self.on_confirm_pin)]

    def _key(self, key: str) -> None:
        if key == "back":
            self.pin = self.pin[:-1]
        elif key == "clear":
            self.pin = ""
        elif key.isdigit() and len(self.pin) < PIN_MAX:
            self.pin += key
        self.redraw()

    def on_digit(self, key: str) -> bool:
        if key.isdigit():
            self._key(key)
            return True
        return False

    def on_backspace(self) -> bool:
        self._key("back")
        return True

    def on_confirm(self) -> bool:
        self.on_confirm_pin()
        return True

    def on_confirm_pin(self) -> None:
        ok, problem = check_exit_pin(self.ctx.store, self.pin)
        self.pin = ""
        if ok:
            self.ctx.store.audit("staff", "kiosk_exit")
            self.win.unlock_and_close()
        else:
            self.show_message(problem, speak=False)
