"""Idle safety: after the profile's idle time a full-window warning with ≥ 20 s and 「我还需要时间」; then the visit
ends (ACCESSIBILITY.md). `IdleGuard` owns the timers and the warning overlay (built the first time it is needed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from cunzhan.i18n import gettext as _
from kiosk import settings as S
from kiosk.ui import widgets

if TYPE_CHECKING:
    from kiosk.ui.window import KioskWindow

WARNING_S = 30  # ≥ 20 s between the idle warning and the timeout (ACCESSIBILITY.md)


class IdleGuard(QObject):
    """Idle safety: after the profile's idle time a warning with ≥ 20 s and 「我还需要时间」; then end the visit."""

    def __init__(self, window: KioskWindow) -> None:
        super().__init__(window)
        self.window = window
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.warn)
        self.countdown = QTimer(self)
        self.countdown.setInterval(1000)
        self.countdown.timeout.connect(self._tick)
        self.seconds_left = WARNING_S
        self._focus_before: QWidget | None = None
        self._warning: IdleWarning | None = None  # made the first time it is needed (see `warning`)

    @property
    def warning(self) -> IdleWarning:
        """The idle warning overlay (hidden until the idle time is up; built on first use)."""
        if self._warning is None:
            self._warning = IdleWarning(self.window)
            self._warning.hide()
            self._warning.ensurePolished()  # the stylesheet's sizes first, so restyle's minimum heights win
            self._warning.restyle()
            self._warning.setGeometry(self.window.rect())
        return self._warning

    def warning_shown(self) -> bool:
        """Whether the idle warning is on screen (without building it)."""
        return self._warning is not None and self._warning.isVisible()

    def hide_warning(self) -> None:
        """The warning gone (if it was ever built)."""
        if self._warning is not None:
            self._warning.hide()

    def restyle(self) -> None:
        """The warning's sizes after a change of profile (if it was ever built)."""
        if self._warning is not None:
            self._warning.restyle()

    def fit(self) -> None:
        """The warning covers the whole window (after the window was resized)."""
        if self._warning is not None:
            self._warning.setGeometry(self.window.rect())

    def idle_ms(self) -> int:
        scale = float(self.window.ctx.settings.get(S.IDLE_SCALE) or 1.0)
        return max(1, int(self.window.ctx.profile.idle_s * scale * 1000))

    def arm(self) -> None:
        """(Re)start the idle timer."""
        if not self.warning_shown():
            self.timer.start(self.idle_ms())

    def poke(self) -> None:
        """Any touch or key: the resident is here."""
        self.arm()

    def _nothing_to_protect(self) -> bool:
        win = self.window
        return (
            win.current is not None
            and win.current.name == "home"
            and win.ctx.visit.is_empty()
            and win.ctx.profile == win.ctx.default_profile
        )

    def warn(self) -> None:
        """Show and say the warning; the visit ends after WARNING_S seconds unless the resident asks for time."""
        if self._nothing_to_protect():
            self.arm()
            return
        self.seconds_left = WARNING_S
        self._focus_before = QApplication.focusWidget()
        self.warning.show_warning(self.seconds_left)
        self.window.say(self.warning.text())
        self.countdown.start()

    def _tick(self) -> None:
        self.seconds_left -= 1
        if self.seconds_left <= 0:
            self.expire()
        else:
            self.warning.show_warning(self.seconds_left)

    def more_time(self) -> None:
        """「我还需要时间」 (the button, or any key): the warning goes and focus is back where it was."""
        self.countdown.stop()
        self.warning.hide()
        back_to = self._focus_before
        self._focus_before = None
        if back_to is not None and back_to.isVisible():
            back_to.setFocus()
        elif self.window.current is not None:
            self.window.focus_first(self.window.current)
        self.arm()
        win = self.window
        if win.current is not None:
            win.speech_routing.last_prompt = (
                win.current.spoken_announcement()
            )  # 重听: the screen, not the warning
        if win.ctx.profile.speaks:
            win.ctx.speech.say(_("Good, take your time."))

    def expire(self) -> None:
        """Time is up: everything personal is forgotten and the kiosk shows home."""
        self.countdown.stop()
        self.warning.hide()
        self.window.end_visit()

    def stop(self) -> None:
        self.timer.stop()
        self.countdown.stop()


class IdleWarning(QWidget):
    """The full-window idle warning with one big 「我还需要时间」 button."""

    def __init__(self, window: KioskWindow) -> None:
        super().__init__(window)
        self.window_ = window
        self.setObjectName("idle_warning")
        self.setProperty("kind", "page")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        box = self.box = QVBoxLayout(self)
        box.addStretch(1)
        self.message = widgets.label("", kind="notice", name="idle_message")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        box.addWidget(self.message)
        self.more = widgets.button(
            _("I need more time"),
            name="idle_more_time",
            kind="primary",
            on_click=lambda: window.idle.more_time(),  # noqa: PLW0108 - the guard making this is not yet window.idle
        )
        box.addWidget(self.more)
        box.addStretch(1)

    def restyle(self) -> None:
        theme = self.window_.theme
        self.box.setContentsMargins(
            theme.margin_px * 4, theme.margin_px, theme.margin_px * 4, theme.margin_px
        )
        self.box.setSpacing(theme.gap_px * 2)
        self.more.setMinimumHeight(theme.choice_px)

    def text(self) -> str:
        return self.message.text()

    def show_warning(self, seconds: int) -> None:
        text = _(
            "Are you still here? If you need more time, press any key or touch the button below. "
            "Otherwise the kiosk will go back to the start in {seconds} seconds "
            "and clear what you entered."
        ).format(seconds=seconds)
        self.message.setText(text)
        self.message.setAccessibleName(text)
        self.setGeometry(self.window_.rect())
        self.show()
        self.raise_()
        self.more.setFocus()
