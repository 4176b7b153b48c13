"""The window's look for the visit's profile: the stylesheet, the frame's spacing, the global controls' sizes, the mode
button, and speech's rate (a change of profile is a change of all of them at once)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton

from cunzhan.i18n import gettext as _
from kiosk.accessibility.profiles import Speech
from kiosk.ui import widgets
from kiosk.ui.theme import Theme

if TYPE_CHECKING:
    from kiosk.ui.window import KioskWindow


class Restyler:
    """Keeps one window's look in step with `ctx.profile`; `theme` is what screens draw with."""

    def __init__(self, window: KioskWindow) -> None:
        self.window = window
        self.theme = Theme(window.ctx.profile, window.ctx.dpi)

    def apply(self) -> None:
        """Restyle the window for the visit's profile (the current screen is not redrawn here)."""
        win = self.window
        profile = win.ctx.profile
        theme = Theme(profile, win.ctx.dpi)
        sheet = theme.stylesheet()
        if sheet != win.styleSheet():  # restyling every widget is the costliest thing the window does
            self.theme = theme
            win.setStyleSheet(sheet)
        margin = self.theme.margin_px // 2
        for row in (win.bar_row, win.nav_row):
            row.setContentsMargins(margin, margin, margin, margin)
            row.setSpacing(self.theme.gap_px)
        win.ctx.speech.configure(
            rate_multiplier=profile.speech_rate, enabled=profile.speech is not Speech.OFF
        )
        win.caption_label.setVisible(profile.captions and bool(win.caption_label.text()))
        for bar_button in (*win.nav.findChildren(QAbstractButton), *win.bar.findChildren(QAbstractButton)):
            bar_button.ensurePolished()  # the global controls are never squeezed below what their text needs
            bar_button.setMinimumHeight(bar_button.sizeHint().height())
        win.idle.restyle()

    def update_mode_button(self) -> None:
        """长辈模式 on standard home, the way back to the standard mode elsewhere."""
        button = self.window.mode_button
        name = self.window.ctx.profile.name
        button.setText(
            _("Elder mode: large text")
            if name == "standard"
            else _("Leave elder mode")
            if name == "elder"
            else _("Standard mode")
        )
        button.setAccessibleName(button.text())
        # On standard home 长辈模式 is the most visible thing; leaving a mode is a touch away but never in the Tab or
        # arrow order, where a keypad user would land on it by accident.
        wanted = "elder" if name == "standard" else "secondary"
        if button.property("kind") != wanted:
            widgets.set_kind(button, wanted)
        button.setFocusPolicy(Qt.FocusPolicy.StrongFocus if name == "standard" else Qt.FocusPolicy.NoFocus)
