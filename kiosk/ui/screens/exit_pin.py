"""Staff PIN to leave a locked-down kiosk (Ctrl+Shift+F12). Not part of the resident's journey."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QVBoxLayout, QWidget

from cunzhan.i18n import gettext as _
from kiosk.ui import widgets
from kiosk.ui.lockdown import check_exit_pin
from kiosk.ui.screen import Choice, KeypadEntry, typed

if TYPE_CHECKING:
    from kiosk.ui.window import KioskWindow

PIN_MAX = 12


class ExitPinScreen(KeypadEntry):
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

    def forget(self) -> None:
        self.pin = ""
        super().forget()

    def side_panel(self) -> QWidget:
        return self.kept_keypad(on_key=self.key, with_x=False)

    def build_body(self, box: QVBoxLayout) -> None:
        shown = "●" * len(self.pin) or _("(nothing entered)")
        box.addWidget(widgets.label(shown, kind="code", name="pin_display"))

    def choices(self) -> list[Choice]:
        return [Choice("ok", _("OK"), self.submit)]

    secret = True  # a staff PIN: counted, never said

    def entry(self) -> str:
        return self.pin

    def key(self, key: str) -> None:
        before = self.pin
        self.pin = typed(before, key, PIN_MAX)
        self.redraw()
        self.typed_feedback(before, self.pin)

    def submit(self) -> None:
        ok, problem = check_exit_pin(self.ctx.store, self.pin)
        self.pin = ""
        if ok:
            self.ctx.store.audit("staff", "kiosk_exit")
            self.win.unlock_and_close()
        else:
            self.show_message(problem, speak=False)
