"""Voice commands for one window: push-to-talk, and what a recognised phrase does.

A phrase is a global command (返回, 重听, 首页, 呼叫工作人员), digits as people say them (幺 for one), yes/no, or one of the
screen's choices by its label or its phrases. The screen's phrases are the recogniser's grammar (set on every draw).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cunzhan.i18n import gettext as _
from kiosk.accessibility.api import VoiceIn
from kiosk.accessibility.numbers import SPOKEN_DIGITS

if TYPE_CHECKING:
    from kiosk.ui.window import KioskWindow

GLOBAL_COMMANDS = {
    "back": ("返回", "back"),
    "repeat": ("重听", "repeat"),
    "home": ("首页", "home"),
    "staff": ("呼叫工作人员", "帮助", "help", "staff"),
}


class VoiceRouting:
    """Routes recognised phrases to the window's global controls and the screen on show."""

    def __init__(self, window: KioskWindow) -> None:
        self.window = window
        window.ctx.voice.on_command = self.on_command

    def use(self, voice: VoiceIn) -> None:
        """Listen with `voice` from now on (the old recogniser is stopped); it gets the current screen's grammar."""
        ctx = self.window.ctx
        ctx.voice.stop()
        ctx.voice = voice
        voice.on_command = self.on_command
        screen = self.window.current
        if screen is not None:
            voice.set_grammar(screen.voice_phrases())
            if ctx.profile.listen_between_prompts:
                voice.start()

    def talk(self) -> None:
        """Push-to-talk: listen for the screen's choices, or say plainly why voice is unavailable."""
        voice = self.window.ctx.voice
        if not voice.available:
            if self.window.current is not None:
                self.window.current.show_message(
                    voice.problem or _("Voice commands are not available."), "notice"
                )
            return
        voice.start()

    def on_command(self, phrase: str) -> None:
        """A recognised phrase: a global command, digits, yes/no, or one of the screen's choices."""
        win = self.window
        said = phrase.strip()
        if said in GLOBAL_COMMANDS["back"] or said in ("否", "no"):
            win.back()
        elif said in GLOBAL_COMMANDS["repeat"]:
            win.repeat()
        elif said in GLOBAL_COMMANDS["home"]:
            win.go_home()
        elif said in GLOBAL_COMMANDS["staff"]:
            win.call_staff()
        elif win.current is not None and not self._spoken_digits(said):
            if said in ("是", "yes") and win.current.on_confirm():
                return
            for choice in win.current.visible_choices():
                if said == choice.label or said in choice.phrases:
                    choice.action()
                    return

    def _spoken_digits(self, said: str) -> bool:
        """Digits said aloud (零 一 幺 … 九, X): typed as on the keypad; in blind mode a digit chooses."""
        win = self.window
        digits = "".join(SPOKEN_DIGITS.get(ch, ch) for ch in said.replace(" ", ""))
        if win.current is None or not digits or not all(ch.isdigit() or ch == "X" for ch in digits):
            return False
        for digit in digits:  # each to the screen on show then (a full entry may have moved on)
            if win.current.on_digit(digit):
                continue
            if digit.isdigit() and win.ctx.profile.numbered_choices:
                win.current.choose_number(int(digit))
            break
        return True
